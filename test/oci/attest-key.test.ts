/**
 * `attest --key` / `verify-attestation --key` (DSSE signed with a cosign key, a dsse entry naming the public key,
 * stored at .att with no certificate annotation), and `attest --new-bundle-format` (a DSSE Sigstore bundle
 * attached as an OCI 1.1 referrer, tag-schema fallback on docker-registry 2.8), read back through the registry
 * API, extended by @sigstore/oci, and verified by @sigstore/verify and by verify-attestation.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { bundleFromJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import { verifyImageAttestations } from '../../client/oci/attest.ts';
import { ANNOTATION_BUNDLE, ANNOTATION_CERTIFICATE, ANNOTATION_PREDICATE_TYPE, attachmentLayers, attachmentTag } from '../../client/oci/cosign-layout.ts';
import { encryptPrivateKey } from '../../client/oci/cosign-key.ts';
import { BUNDLE_ARTIFACT_TYPE } from '../../client/oci/referrers.ts';
import { OCI_INDEX, parseJson, RegistryClient } from '../../client/oci/registry.ts';
import { verifyDsseKeyAttestation } from '../../client/verify/dsse-key.ts';
import { createVerifier } from '../../client/verify/index.ts';
import { derToPem } from '../../core/pem.ts';
import { runCli } from '../helpers/cli.ts';
import { startStack, TEST_EMAIL, type TestStack } from '../helpers/stack.ts';
import { refuses } from '../client/pki-fixture.ts';
import { pushRandomImage, startRegistry, type TestRegistry } from './registry-helper.ts';

let stack: TestStack;
let registry: TestRegistry;
let client: RegistryClient;
let dir: string;
let rootFile: string;
let predicateFile: string;
const CREDS = { username: 'att', password: 'secret' };
const REG = ['--registry-username', CREDS.username, '--registry-password', CREDS.password];
const keyA = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const keyB = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ENV = { COSIGN_PASSWORD: 'pw' };
const oracle = createRequire(import.meta.url)('@sigstore/oci') as typeof import('@sigstore/oci');

test.before(async () => {
  // Token auth: @sigstore/oci (the oracle) needs the auth challenge real registries send.
  [stack, registry] = await Promise.all([startStack(), startRegistry({ auth: { user: CREDS.username, password: CREDS.password } })]);
  client = new RegistryClient({ registry: registry.host, credentials: CREDS });
  dir = mkdtempSync(join(tmpdir(), 'sigstack-attkey-'));
  rootFile = join(dir, 'trusted_root.json');
  writeFileSync(rootFile, JSON.stringify(stack.trustedRoot));
  predicateFile = join(dir, 'sbom.json');
  writeFileSync(predicateFile, JSON.stringify({ spdxVersion: 'SPDX-2.3', name: 'app' }));
  writeFileSync(join(dir, 'cosign.key'), encryptPrivateKey(keyA.privateKey, 'pw'), { mode: 0o600 });
  writeFileSync(join(dir, 'cosign.pub'), derToPem(keyA.publicKey.export({ type: 'spki', format: 'der' }), 'PUBLIC KEY'));
  writeFileSync(join(dir, 'other.pub'), derToPem(keyB.publicKey.export({ type: 'spki', format: 'der' }), 'PUBLIC KEY'));
});
test.after.always(async () => {
  await stack?.close();
  await registry?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const trust = () => createVerifier(stack.trustedRoot).trust;

test('CLI: attest --key stores a .att layer without certificate; verify-attestation --key; other key, identities, type refused', async (t) => {
  const digest = await pushRandomImage(client, 'attkey/app', 'v1');
  const image = `${registry.host}/attkey/app:v1`;
  const r = await runCli(['attest', image, ...REG, '--predicate', predicateFile, '--type', 'spdx', '--key', join(dir, 'cosign.key'), '--rekor-url', stack.url], { env: ENV });
  t.is(r.code, 0, r.stderr);
  const layers = attachmentLayers(parseJson((await client.getManifest('attkey/app', attachmentTag(digest, 'att')))!.bytes, 'm'));
  t.is(layers.length, 1);
  const a = layers[0]!.annotations!;
  t.false(ANNOTATION_CERTIFICATE in a, 'a key-signed attestation has no certificate annotation (as cosign)');
  t.is(a[ANNOTATION_PREDICATE_TYPE], 'https://spdx.dev/Document');
  const body = JSON.parse(Buffer.from(JSON.parse(a[ANNOTATION_BUNDLE]!).Payload.body, 'base64').toString());
  t.is(body.kind, 'dsse');
  t.regex(Buffer.from(body.spec.signatures[0].verifier, 'base64').toString(), /^-----BEGIN PUBLIC KEY-----\n/);

  const base = ['verify-attestation', image, ...REG, '--trusted-root', rootFile, '--type', 'spdx'];
  const ok = await runCli([...base, '--key', join(dir, 'cosign.pub')]);
  t.is(ok.code, 0, ok.stderr);
  const out = JSON.parse(ok.stdout.trim().split('\n')[0]!);
  t.is(out.statement.subject[0].digest.sha256, digest.slice(7));
  t.is(out.statement.predicate.name, 'app');
  t.is(out.Subject, undefined);
  const wrong = await runCli([...base, '--key', join(dir, 'other.pub')]);
  t.is(wrong.code, 1);
  t.regex(wrong.stderr, /the logged verifier is not the given key/);
  const mixed = await runCli([...base, '--key', join(dir, 'cosign.pub'), '--certificate-identity', TEST_EMAIL]);
  t.is(mixed.code, 2);
  const keyless = await runCli([...base, '--certificate-identity', TEST_EMAIL, '--certificate-oidc-issuer', stack.issuer]);
  t.is(keyless.code, 1, 'a key-signed attestation does not pass as a keyless one');
  const otherType = await runCli(['verify-attestation', image, ...REG, '--trusted-root', rootFile, '--type', 'slsaprovenance', '--key', join(dir, 'cosign.pub')]);
  t.is(otherType.code, 1);
  t.regex(otherType.stderr, /no attestations of type/);
  t.is((await runCli(['attest', image, ...REG, '--predicate', predicateFile, '--key', join(dir, 'cosign.key'), '--new-bundle-format', '--rekor-url', stack.url], { env: ENV })).code, 2);
});

test('keyless and key attestations side by side: each verifier accepts only its own', async (t) => {
  const digest = await pushRandomImage(client, 'attkey/both', 'v1');
  const image = `${registry.host}/attkey/both:v1`;
  t.is((await runCli(['attest', image, ...REG, '--predicate', predicateFile, '--type', 'spdx', '--key', join(dir, 'cosign.key'), '--rekor-url', stack.url], { env: ENV })).code, 0);
  t.is((await runCli(['attest', image, ...REG, '--predicate', predicateFile, '--type', 'spdx', '--url', stack.url, '--identity-token', await stack.mintToken()])).code, 0);
  const withKey = await verifyImageAttestations({ image, type: 'spdx', trust: trust(), policy: { identity: 'key', issuer: 'key' }, publicKey: keyA.publicKey, credentials: CREDS });
  t.is(withKey.attestations.length, 1);
  t.is(withKey.attestations[0]!.identity, 'key');
  const keylessOnly = await verifyImageAttestations({ image, type: 'spdx', trust: trust(), policy: { identity: TEST_EMAIL, issuer: stack.issuer }, credentials: CREDS });
  t.is(keylessOnly.attestations.length, 1);
  t.is(keylessOnly.attestations[0]!.identity, TEST_EMAIL);

  // Directly: the keyless layer under --key (its logged verifier is a certificate), and a swapped payload.
  const layers = attachmentLayers(parseJson((await client.getManifest('attkey/both', attachmentTag(digest, 'att')))!.bytes, 'm'));
  const load = async (i: number) => ({ envelope: await client.getBlob('attkey/both', layers[i]!.digest, 1 << 20), bundle: layers[i]!.annotations![ANNOTATION_BUNDLE] });
  const expect = { sha256: digest.slice(7), predicateType: 'https://spdx.dev/Document' };
  const keyed = await load(0);
  t.is(verifyDsseKeyAttestation(trust(), keyed, expect, keyA.publicKey).identity, 'key');
  refuses(t, () => verifyDsseKeyAttestation(trust(), { ...keyed, bundle: undefined }, expect, keyA.publicKey), 'BUNDLE');
  refuses(t, () => verifyDsseKeyAttestation(trust(), { ...keyed, bundle: layers[1]!.annotations![ANNOTATION_BUNDLE] }, expect, keyA.publicKey), 'TLOG_BODY');
  const kl = await load(1);
  const leafKey = new (await import('node:crypto')).X509Certificate(layers[1]!.annotations![ANNOTATION_CERTIFICATE]!).publicKey;
  refuses(t, () => verifyDsseKeyAttestation(trust(), kl, expect, leafKey), 'TLOG_BODY', /not a single PEM public key/);
  const env = JSON.parse(keyed.envelope.toString());
  env.payload = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(env.payload, 'base64').toString()), predicate: { evil: true } })).toString('base64');
  refuses(t, () => verifyDsseKeyAttestation(trust(), { ...keyed, envelope: Buffer.from(JSON.stringify(env)) }, expect, keyA.publicKey), 'TLOG_BODY');
  refuses(t, () => verifyDsseKeyAttestation(trust(), keyed, { ...expect, sha256: 'ab'.repeat(32) }, keyA.publicKey), 'SUBJECT');
});

test('attest --new-bundle-format: a DSSE bundle referrer that the registry API, @sigstore/oci, @sigstore/verify and verify-attestation read', async (t) => {
  const digest = await pushRandomImage(client, 'attkey/nbf', 'v1');
  const image = `${registry.host}/attkey/nbf:v1`;
  const r = await runCli(['attest', image, ...REG, '--predicate', predicateFile, '--type', 'spdx', '--new-bundle-format', '--url', stack.url, '--identity-token', await stack.mintToken()]);
  t.is(r.code, 0, r.stderr);
  t.is(await client.getManifest('attkey/nbf', attachmentTag(digest, 'att')), undefined, 'no .att tag in this layout');
  // The referrers tag schema index, then the artifact manifest, as the distribution spec lays them out.
  const index = (await client.getManifest('attkey/nbf', `sha256-${digest.slice(7)}`))!;
  t.is(index.mediaType, OCI_INDEX);
  const entries = (parseJson(index.bytes, 'index') as { manifests: { digest: string; artifactType: string; annotations: Record<string, string> }[] }).manifests;
  t.is(entries.length, 1);
  t.is(entries[0]!.artifactType, BUNDLE_ARTIFACT_TYPE);
  t.is(entries[0]!.annotations['dev.sigstore.bundle.content'], 'dsse-envelope');
  t.is(entries[0]!.annotations['dev.sigstore.bundle.predicateType'], 'https://spdx.dev/Document');
  const manifest = parseJson((await client.getManifest('attkey/nbf', entries[0]!.digest))!.bytes, 'referrer') as { subject: { digest: string }; layers: { digest: string; mediaType: string }[]; artifactType: string };
  t.is(manifest.subject.digest, digest);
  t.is(manifest.artifactType, BUNDLE_ARTIFACT_TYPE);
  t.is(manifest.layers[0]!.mediaType, BUNDLE_ARTIFACT_TYPE);
  const bundle = JSON.parse((await client.getBlob('attkey/nbf', manifest.layers[0]!.digest, 1 << 22)).toString());
  t.is(bundle.mediaType, 'application/vnd.dev.sigstore.bundle.v0.3+json');
  t.is(bundle.verificationMaterial.tlogEntries[0].kindVersion.kind, 'dsse');
  t.truthy(bundle.verificationMaterial.tlogEntries[0].inclusionProof.checkpoint.envelope);

  // The stock verifier accepts it: DSSE content, certificate chain, SCT, SET and the inclusion proof.
  const stock = new Verifier(toTrustMaterial(TrustedRoot.fromJSON(stack.trustedRoot)), { ctlogThreshold: 1, tlogThreshold: 1 });
  const signer = stock.verify(toSignedEntity(bundleFromJSON(bundle)), { subjectAlternativeName: TEST_EMAIL, extensions: { issuer: stack.issuer } });
  t.is(signer.identity?.subjectAlternativeName, TEST_EMAIL);

  const ok = await runCli(['verify-attestation', image, ...REG, '--trusted-root', rootFile, '--type', 'spdx', '--certificate-identity', TEST_EMAIL, '--certificate-oidc-issuer', stack.issuer]);
  t.is(ok.code, 0, ok.stderr);
  t.regex(ok.stderr, /inclusion proof: entry \d+ is in the tree/);
  t.is(JSON.parse(ok.stdout.trim()).statement.subject[0].digest.sha256, digest.slice(7));

  // @sigstore/oci accepts our fallback index and adds its own entry next to ours.
  await oracle.attachArtifactToImage({ imageName: `${registry.host}/attkey/nbf`, imageDigest: digest, artifact: Buffer.from(JSON.stringify(bundle)), mediaType: BUNDLE_ARTIFACT_TYPE, credentials: CREDS });
  t.is((parseJson((await client.getManifest('attkey/nbf', `sha256-${digest.slice(7)}`))!.bytes, 'index') as { manifests: unknown[] }).manifests.length, 2);
  const both = await verifyImageAttestations({ image, type: 'spdx', trust: trust(), policy: { identity: TEST_EMAIL, issuer: stack.issuer }, credentials: CREDS });
  t.is(both.attestations.length, 2);
});
