/**
 * sign-image / verify-image end to end: the real stack (CA, Rekor, CT), Debian's docker-registry, images pushed
 * with our client, the CLI as a user runs it, skopeo as an independent reader of what we wrote.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import {
  ANNOTATION_BUNDLE, ANNOTATION_CERTIFICATE, ANNOTATION_CHAIN, ANNOTATION_SIGNATURE, attachmentTag, signatureConfig, signatureManifest,
  SIMPLE_SIGNING_MEDIA_TYPE, type Descriptor,
} from '../../client/oci/cosign-layout.ts';
import { OCI_MANIFEST, parseJson, RegistryClient, sha256Digest } from '../../client/oci/registry.ts';
import { signImage } from '../../client/oci/sign-image.ts';
import { verifyImage } from '../../client/oci/verify-image.ts';
import { createVerifier } from '../../client/verify/index.ts';
import { runCli } from '../helpers/cli.ts';
import { startStack, TEST_EMAIL, type TestStack } from '../helpers/stack.ts';
import { pushRandomImage, pushWithSkopeo, startRegistry, type TestRegistry } from './registry-helper.ts';

const run = promisify(execFile);
let stack: TestStack;
let registry: TestRegistry;
let client: RegistryClient;
let dir: string;
let rootFile: string;

test.before(async () => {
  [stack, registry] = await Promise.all([startStack(), startRegistry()]);
  client = new RegistryClient({ registry: registry.host });
  dir = mkdtempSync(join(tmpdir(), 'sigstack-oci-'));
  rootFile = join(dir, 'trusted_root.json');
  writeFileSync(rootFile, JSON.stringify(stack.trustedRoot));
});
test.after.always(async () => {
  await stack?.close();
  await registry?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const policyArgs = (identity = TEST_EMAIL) => ['--trusted-root', rootFile, '--certificate-identity', identity, '--certificate-oidc-issuer', stack.issuer];
const verifier = () => createVerifier(stack.trustedRoot);
const sign = async (image: string) => signImage({ image, identityToken: await stack.mintToken(), fulcioUrl: stack.url, rekorUrl: stack.url });

test('CLI: sign the image, verify it offline, re-tag it, then a tampered tag fails', async (t) => {
  const digest = await pushRandomImage(client, 'demo/app', 'v1');
  const image = `${registry.host}/demo/app:v1`;
  const signed = await runCli(['sign-image', image, '--url', stack.url, '--identity-token', await stack.mintToken()]);
  t.is(signed.code, 0, signed.stderr);
  t.is(signed.stdout.trim(), `${registry.host}/demo/app@${digest}`);

  const ok = await runCli(['verify-image', image, ...policyArgs()]);
  t.is(ok.code, 0, ok.stderr);
  t.regex(ok.stderr, /The cosign claims were validated/);
  t.regex(ok.stderr, /inclusion promise \(SET\)/);
  const out = JSON.parse(ok.stdout) as { critical: Record<string, Record<string, string>>; optional: Record<string, string> }[];
  t.is(out.length, 1);
  t.is(out[0]!.critical.image!['docker-manifest-digest'], digest);
  t.is(out[0]!.critical.identity!['docker-reference'], `${registry.host}/demo/app`);
  t.is(out[0]!.critical.type as unknown as string, 'cosign container image signature');
  t.is(out[0]!.optional.Subject, TEST_EMAIL);
  t.is(out[0]!.optional.Issuer, stack.issuer);

  // The same manifest under another tag, and by digest: the signature is the digest's, so it still verifies.
  const manifest = (await client.getManifest('demo/app', 'v1'))!;
  await client.putManifest('demo/app', 'release', manifest.bytes, OCI_MANIFEST);
  t.is((await runCli(['verify-image', `${registry.host}/demo/app:release`, ...policyArgs()])).code, 0);
  t.is((await runCli(['verify-image', `${registry.host}/demo/app@${digest}`, ...policyArgs()])).code, 0);

  const wrong = await runCli(['verify-image', image, ...policyArgs('mallory@example.com')]);
  t.is(wrong.code, 1);
  t.regex(wrong.stderr, /none of the expected identities matched.*alice@example\.com/);

  // Tamper: another manifest pushed under the signed tag.
  await pushRandomImage(client, 'demo/app', 'v1');
  const tampered = await runCli(['verify-image', image, ...policyArgs()]);
  t.is(tampered.code, 1);
  t.regex(tampered.stderr, /no signatures found/);
});

test('the .sig layout is cosign\'s (SIGNATURE_SPEC.md), read back through skopeo', async (t) => {
  const digest = await pushRandomImage(client, 'layout/app', 'v1');
  const signed = await sign(`${registry.host}/layout/app:v1`);
  t.is(signed.signatureTag, `sha256-${digest.slice(7)}.sig`);
  const { stdout } = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/layout/app:${signed.signatureTag}`]);
  const m = JSON.parse(stdout);
  t.is(m.schemaVersion, 2);
  t.is(m.mediaType, OCI_MANIFEST);
  t.is(m.config.mediaType, 'application/vnd.oci.image.config.v1+json');
  t.is(m.layers.length, 1);
  const layer = m.layers[0];
  t.is(layer.mediaType, SIMPLE_SIGNING_MEDIA_TYPE);
  t.deepEqual(Object.keys(layer.annotations).sort(), [ANNOTATION_SIGNATURE, ANNOTATION_BUNDLE, ANNOTATION_CERTIFICATE, ANNOTATION_CHAIN].sort());
  t.regex(layer.annotations[ANNOTATION_CERTIFICATE], /^-----BEGIN CERTIFICATE-----\n/);
  t.regex(layer.annotations[ANNOTATION_CHAIN], /^-----BEGIN CERTIFICATE-----\n[\s\S]+-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE-----/);
  const payload = await client.getBlob('layout/app', layer.digest, 4096);
  t.is(payload.toString(), `{"critical":{"identity":{"docker-reference":"${registry.host}/layout/app"},"image":{"docker-manifest-digest":"${digest}"},"type":"cosign container image signature"},"optional":null}`);
  const bundle = JSON.parse(layer.annotations[ANNOTATION_BUNDLE]);
  t.deepEqual(Object.keys(bundle), ['SignedEntryTimestamp', 'Payload']);
  t.deepEqual(Object.keys(bundle.Payload), ['body', 'integratedTime', 'logIndex', 'logID']);
  const body = JSON.parse(Buffer.from(bundle.Payload.body, 'base64').toString());
  t.is(body.kind, 'hashedrekord');
  t.is(body.spec.data.hash.value, sha256Digest(payload).slice(7));
  t.is(body.spec.signature.content, layer.annotations[ANNOTATION_SIGNATURE]);
  // The entry is the one the log holds.
  const entry = await (await fetch(`${stack.url}/api/v1/log/entries?logIndex=${bundle.Payload.logIndex}`)).json() as Record<string, { body: string }>;
  t.is(Object.values(entry)[0]?.body, bundle.Payload.body, JSON.stringify(entry).slice(0, 300));
  // Signing again appends a second layer to the same manifest.
  await sign(`${registry.host}/layout/app@${digest}`);
  const again = parseJson((await client.getManifest('layout/app', signed.signatureTag))!.bytes, 'm') as { layers: unknown[] };
  t.is(again.layers.length, 2);
  t.is((await verifyImage({ image: `${registry.host}/layout/app:v1`, verifier: verifier(), policy: { identity: TEST_EMAIL, issuer: stack.issuer } })).signatures.length, 2);
});

async function rewriteSig(repo: string, digest: string, edit: (layers: Descriptor[]) => Descriptor[]): Promise<void> {
  const tag = attachmentTag(digest, 'sig');
  const m = parseJson((await client.getManifest(repo, tag))!.bytes, 'm') as { layers: Descriptor[] };
  const layers = edit(m.layers);
  const config = signatureConfig(layers);
  await client.pushBlob(repo, config);
  await client.putManifest(repo, tag, signatureManifest(config, layers), OCI_MANIFEST);
}

test('a signature moved from another image, or altered, is refused', async (t) => {
  const policy = { identity: TEST_EMAIL, issuer: stack.issuer };
  const a = await pushRandomImage(client, 'moved/app', 'a');
  const b = await pushRandomImage(client, 'moved/app', 'b');
  await sign(`${registry.host}/moved/app:a`);
  await t.throwsAsync(verifyImage({ image: `${registry.host}/moved/app:b`, verifier: verifier(), policy }), { message: /no signatures found/ });
  // Copy a's valid signature manifest to b's signature tag: the payload names a's digest.
  const sigA = (await client.getManifest('moved/app', attachmentTag(a, 'sig')))!;
  await client.putManifest('moved/app', attachmentTag(b, 'sig'), sigA.bytes, OCI_MANIFEST);
  await t.throwsAsync(verifyImage({ image: `${registry.host}/moved/app:b`, verifier: verifier(), policy }), { message: /\[CLAIMS\].*signs the image/ });
  // Alter the signature annotation of a.
  await rewriteSig('moved/app', a, (ls) => ls.map((l) => ({ ...l, annotations: { ...l.annotations!, [ANNOTATION_SIGNATURE]: Buffer.alloc(70, 1).toString('base64') } })));
  await t.throwsAsync(verifyImage({ image: `${registry.host}/moved/app:a`, verifier: verifier(), policy }), { message: /TLOG_BODY/ });
  // Drop the SET bundle: nothing can be verified offline.
  await sign(`${registry.host}/moved/app:a`);
  await rewriteSig('moved/app', a, (ls) => ls.map((l) => {
    const { [ANNOTATION_BUNDLE]: _drop, ...rest } = l.annotations!;
    return { ...l, annotations: rest };
  }));
  await t.throwsAsync(verifyImage({ image: `${registry.host}/moved/app:a`, verifier: verifier(), policy }), { message: /no transparency log bundle/ });
});

test('an unsigned image: "no signatures found", exit 1', async (t) => {
  await pushRandomImage(client, 'unsigned/app', 'v1');
  const r = await runCli(['verify-image', `${registry.host}/unsigned/app:v1`, ...policyArgs()]);
  t.is(r.code, 1);
  t.regex(r.stderr, /no signatures found/);
  const missing = await runCli(['verify-image', `${registry.host}/unsigned/nothing:v1`, ...policyArgs()]);
  t.is(missing.code, 1);
  t.regex(missing.stderr, /not found/);
});

test('an image pushed by skopeo is signed and verified; skopeo re-tags it and it still verifies', async (t) => {
  await pushWithSkopeo(registry.host, 'skopeo/app', 'v1');
  const digest = (await client.getManifest('skopeo/app', 'v1'))!.digest;
  const signed = await sign(`${registry.host}/skopeo/app:v1`);
  t.is(signed.digest, digest);
  await run('skopeo', ['copy', '--src-tls-verify=false', '--dest-tls-verify=false', `docker://${registry.host}/skopeo/app:v1`, `docker://${registry.host}/skopeo/app:stable`]);
  const r = await verifyImage({ image: `${registry.host}/skopeo/app:stable`, verifier: verifier(), policy: { identity: TEST_EMAIL, issuer: stack.issuer } });
  t.is(r.digest, digest);
  await pushWithSkopeo(registry.host, 'skopeo/app', 'stable');
  await t.throwsAsync(verifyImage({ image: `${registry.host}/skopeo/app:stable`, verifier: verifier(), policy: { identity: TEST_EMAIL, issuer: stack.issuer } }), { message: /no signatures found/ });
});
