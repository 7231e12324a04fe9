/**
 * The referrer layout (--new-bundle-format): a Sigstore bundle over the image manifest, attached as an OCI 1.1
 * artifact with the referrers tag schema fallback (docker-registry 2.8 has no referrers API), checked against
 * @sigstore/oci's attachArtifactToImage as the oracle in both directions.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { attachBundle, BUNDLE_ARTIFACT_TYPE } from '../../client/oci/referrers.ts';
import { OCI_INDEX, parseJson, RegistryClient } from '../../client/oci/registry.ts';
import { verifyImageAttestations } from '../../client/oci/attest.ts';
import { bundleToJSON } from '@sigstore/bundle';
import { DSSEBundleBuilder, FulcioSigner, RekorWitness } from '@sigstore/sign';
import { verifyImage } from '../../client/oci/verify-image.ts';
import { signArtifact } from '../../client/sign.ts';
import { createVerifier } from '../../client/verify/index.ts';
import { runCli } from '../helpers/cli.ts';
import { startStack, TEST_EMAIL, type TestStack } from '../helpers/stack.ts';
import { pushRandomImage, startRegistry, type TestRegistry } from './registry-helper.ts';

let stack: TestStack;
let registry: TestRegistry;
let client: RegistryClient;
let dir: string;
let rootFile: string;
// A registry with token auth: @sigstore/oci (the oracle) insists on an auth challenge, as real registries send.
const CREDS = { username: 'oracle', password: 'secret' };
const CLI_CREDS = ['--registry-username', CREDS.username, '--registry-password', CREDS.password];

test.before(async () => {
  [stack, registry] = await Promise.all([startStack(), startRegistry({ auth: { user: CREDS.username, password: CREDS.password } })]);
  client = new RegistryClient({ registry: registry.host, credentials: CREDS });
  dir = mkdtempSync(join(tmpdir(), 'sigstack-ref-'));
  rootFile = join(dir, 'trusted_root.json');
  writeFileSync(rootFile, JSON.stringify(stack.trustedRoot));
});
test.after.always(async () => {
  await stack?.close();
  await registry?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const policy = () => ({ identity: TEST_EMAIL, issuer: stack.issuer });
const bundleOver = async (bytes: Buffer) => Buffer.from(JSON.stringify(await signArtifact({ artifact: bytes, identityToken: await stack.mintToken(), fulcioUrl: stack.url, rekorUrl: stack.url })));
// The oracle is a dev dependency (with promise-retry, which @sigstore/oci 0.6 uses without declaring it):
// it must load, so a broken install fails here instead of skipping the oracle tests.
const oracle = createRequire(import.meta.url)('@sigstore/oci') as typeof import('@sigstore/oci');
const oracleAttach = (repo: string, imageDigest: string, artifact: Buffer) =>
  oracle.attachArtifactToImage({ imageName: `${registry.host}/${repo}`, imageDigest, artifact, mediaType: BUNDLE_ARTIFACT_TYPE, credentials: CREDS });

test('sign-image --new-bundle-format attaches a referrer that verify-image finds, via the referrers tag schema', async (t) => {
  const digest = await pushRandomImage(client, 'ref/app', 'v1');
  const image = `${registry.host}/ref/app:v1`;
  const signed = await runCli(['sign-image', image, ...CLI_CREDS, '--new-bundle-format', '--url', stack.url, '--identity-token', await stack.mintToken()]);
  t.is(signed.code, 0, signed.stderr);
  t.is(await client.getManifest('ref/app', `sha256-${digest.slice(7)}.sig`), undefined, 'no .sig tag in this layout');
  const index = (await client.getManifest('ref/app', `sha256-${digest.slice(7)}`))!;
  t.is(index.mediaType, OCI_INDEX);
  const entries = (parseJson(index.bytes, 'index') as { manifests: { artifactType: string }[] }).manifests;
  t.is(entries.length, 1);
  t.is(entries[0]!.artifactType, BUNDLE_ARTIFACT_TYPE);
  const ok = await runCli(['verify-image', image, ...CLI_CREDS, '--trusted-root', rootFile, '--certificate-identity', TEST_EMAIL, '--certificate-oidc-issuer', stack.issuer]);
  t.is(ok.code, 0, ok.stderr);
  t.regex(ok.stderr, /referrer: a application\/vnd\.dev\.sigstore\.bundle\.v0\.3\+json attached/);
  // Signing again adds a second referrer to the same fallback index.
  await runCli(['sign-image', image, ...CLI_CREDS, '--new-bundle-format', '--url', stack.url, '--identity-token', await stack.mintToken()]);
  t.is((parseJson((await client.getManifest('ref/app', `sha256-${digest.slice(7)}`))!.bytes, 'index') as { manifests: unknown[] }).manifests.length, 2);
  t.is((await verifyImage({ credentials: CREDS, image, verifier: createVerifier(stack.trustedRoot), policy: policy() })).signatures.length, 2);
});

test('oracle: @sigstore/oci reads and extends the referrers index we wrote', async (t) => {
  const digest = await pushRandomImage(client, 'ref/ours', 'v1');
  const image = `${registry.host}/ref/ours:v1`;
  t.is((await runCli(['sign-image', image, ...CLI_CREDS, '--new-bundle-format', '--url', stack.url, '--identity-token', await stack.mintToken()])).code, 0);
  // The oracle finds our fallback index, accepts its shape and adds its own entry to it.
  const manifest = (await client.getManifest('ref/ours', digest))!;
  await oracleAttach('ref/ours', digest, await bundleOver(manifest.bytes));
  const after = (parseJson((await client.getManifest('ref/ours', `sha256-${digest.slice(7)}`))!.bytes, 'index') as { manifests: unknown[] }).manifests;
  t.is(after.length, 2);
  t.is((await verifyImage({ credentials: CREDS, image, verifier: createVerifier(stack.trustedRoot), policy: policy() })).signatures.length, 2);
});

test('oracle: a bundle attached by @sigstore/oci is found and verified; one over other content is refused', async (t) => {
  const digest = await pushRandomImage(client, 'ref/oracle', 'v1');
  const image = `${registry.host}/ref/oracle:v1`;
  const manifest = (await client.getManifest('ref/oracle', digest))!;
  await oracleAttach('ref/oracle', digest, await bundleOver(manifest.bytes));
  const r = await verifyImage({ credentials: CREDS, image, verifier: createVerifier(stack.trustedRoot), policy: policy() });
  t.is(r.signatures.length, 1);
  t.is(r.signatures[0]!.layout, 'referrer');
  t.is(r.signatures[0]!.identity, TEST_EMAIL);

  const other = await pushRandomImage(client, 'ref/oracle', 'other');
  await oracleAttach('ref/oracle', other, await bundleOver(Buffer.from('not this image')));
  await t.throwsAsync(verifyImage({ credentials: CREDS, image: `${registry.host}/ref/oracle:other`, verifier: createVerifier(stack.trustedRoot), policy: policy() }), { message: /\[DIGEST\]/ });
});

test('a referrer bundle over other content, or listed under an image it is not about, is refused', async (t) => {
  const digest = await pushRandomImage(client, 'ref/bad', 'v1');
  const subject = (await client.getManifest('ref/bad', digest))!;
  await attachBundle(client, 'ref/bad', subject, await bundleOver(Buffer.from('not this image')), {});
  await t.throwsAsync(verifyImage({ credentials: CREDS, image: `${registry.host}/ref/bad:v1`, verifier: createVerifier(stack.trustedRoot), policy: policy() }), { message: /\[DIGEST\]/ });
  // A valid referrer of image A listed in image B's fallback index: its subject is A, so B has no signature.
  const a = await pushRandomImage(client, 'ref/bad', 'a');
  const b = await pushRandomImage(client, 'ref/bad', 'b');
  const subjectA = (await client.getManifest('ref/bad', a))!;
  await attachBundle(client, 'ref/bad', subjectA, await bundleOver(subjectA.bytes), {});
  t.is((await verifyImage({ credentials: CREDS, image: `${registry.host}/ref/bad:a`, verifier: createVerifier(stack.trustedRoot), policy: policy() })).signatures.length, 1);
  const indexA = (await client.getManifest('ref/bad', `sha256-${a.slice(7)}`))!;
  await client.putManifest('ref/bad', `sha256-${b.slice(7)}`, indexA.bytes, OCI_INDEX);
  await t.throwsAsync(verifyImage({ credentials: CREDS, image: `${registry.host}/ref/bad:b`, verifier: createVerifier(stack.trustedRoot), policy: policy() }), { message: /no signatures found/ });
});

/** A DSSE bundle as GitHub's attest action makes one: sigstore-js against the stack, logged as dsse. */
async function stockDsseBundle(statement: unknown): Promise<Buffer> {
  const token = await stack.mintToken();
  const builder = new DSSEBundleBuilder({
    signer: new FulcioSigner({ fulcioBaseURL: stack.url, identityProvider: { getToken: async () => token } }),
    witnesses: [new RekorWitness({ rekorBaseURL: stack.url, entryType: 'dsse' })],
  });
  return Buffer.from(JSON.stringify(bundleToJSON(await builder.create({ data: Buffer.from(JSON.stringify(statement)), type: 'application/vnd.in-toto+json' }))));
}

test('verify-attestation reads DSSE bundles attached as referrers (GitHub attestations layout), strictly', async (t) => {
  const digest = await pushRandomImage(client, 'ref/att', 'v1');
  const other = await pushRandomImage(client, 'ref/att', 'other');
  const subject = (await client.getManifest('ref/att', digest))!;
  const statement = (sha: string) => ({ _type: 'https://in-toto.io/Statement/v1', subject: [{ name: 'app', digest: { sha256: sha.slice(7) } }], predicateType: 'https://slsa.dev/provenance/v1', predicate: { buildDefinition: {} } });
  const verifier = createVerifier(stack.trustedRoot);
  const good = await stockDsseBundle(statement(digest));
  await attachBundle(client, 'ref/att', subject, good, {});
  const r = await verifyImageAttestations({ credentials: CREDS, image: `${registry.host}/ref/att:v1`, type: 'slsaprovenance1', trust: verifier.trust, policy: policy() });
  t.is(r.attestations.length, 1);
  t.is(r.attestations[0]!.identity, TEST_EMAIL);
  t.true(r.attestations[0]!.checks.some((c) => c.startsWith('inclusion proof:')));
  await t.throwsAsync(verifyImageAttestations({ credentials: CREDS, image: `${registry.host}/ref/att:v1`, type: 'spdx', trust: verifier.trust, policy: policy() }), { message: /no attestations of type/ });

  // A statement about another image, attached to this one; and a payload swapped after logging.
  const subjectOther = (await client.getManifest('ref/att', other))!;
  await attachBundle(client, 'ref/att', subjectOther, await stockDsseBundle(statement(digest)), {});
  await t.throwsAsync(verifyImageAttestations({ credentials: CREDS, image: `${registry.host}/ref/att:other`, type: 'slsaprovenance1', trust: verifier.trust, policy: policy() }), { message: /\[SUBJECT\]/ });
  const tampered = JSON.parse(good.toString());
  tampered.dsseEnvelope.payload = Buffer.from(JSON.stringify({ ...statement(other), predicate: { evil: true } })).toString('base64');
  const third = await pushRandomImage(client, 'ref/att', 'third');
  await attachBundle(client, 'ref/att', (await client.getManifest('ref/att', third))!, Buffer.from(JSON.stringify(tampered)), {});
  await t.throwsAsync(verifyImageAttestations({ credentials: CREDS, image: `${registry.host}/ref/att:third`, type: 'slsaprovenance1', trust: verifier.trust, policy: policy() }), { message: /\[TLOG_BODY\]/ });
});
