/**
 * attest / verify-attestation end to end against the stack and docker-registry, and the DSSE verifier's
 * refusals: other predicate type (GHSA-vjxv-45g9-9296), other subject (CVE-2026-31830), an unreadable payload
 * (GHSA-w6c6-c85g-mmv6), two signatures (TOB-SIGSTORE-9).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { verifyImageAttestations } from '../../client/oci/attest.ts';
import { attachmentLayers, attachmentTag, ANNOTATION_BUNDLE, ANNOTATION_PREDICATE_TYPE, ANNOTATION_SIGNATURE, DSSE_MEDIA_TYPE } from '../../client/oci/cosign-layout.ts';
import { OCI_MANIFEST, parseJson, RegistryClient } from '../../client/oci/registry.ts';
import { signDsse } from '../../client/oci/sign-dsse.ts';
import { derToPem } from '../../core/pem.ts';
import { verifyDsseAttestation } from '../../client/verify/dsse.ts';
import { createVerifier } from '../../client/verify/index.ts';
import { runCli } from '../helpers/cli.ts';
import { startStack, TEST_EMAIL, type TestStack } from '../helpers/stack.ts';
import { pushRandomImage, startRegistry, type TestRegistry } from './registry-helper.ts';

let stack: TestStack;
let registry: TestRegistry;
let client: RegistryClient;
let dir: string;
let rootFile: string;
let predicateFile: string;

test.before(async () => {
  [stack, registry] = await Promise.all([startStack(), startRegistry()]);
  client = new RegistryClient({ registry: registry.host });
  dir = mkdtempSync(join(tmpdir(), 'sigstack-att-'));
  rootFile = join(dir, 'trusted_root.json');
  writeFileSync(rootFile, JSON.stringify(stack.trustedRoot));
  predicateFile = join(dir, 'provenance.json');
  writeFileSync(predicateFile, JSON.stringify({ builder: { id: 'https://ci.example.com/builder' }, buildType: 'https://example.com/build' }));
});
test.after.always(async () => {
  await stack?.close();
  await registry?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const policy = () => ({ identity: TEST_EMAIL, issuer: stack.issuer });
const trust = () => createVerifier(stack.trustedRoot).trust;

test('CLI: attest SLSA provenance, verify it by type; another type or identity fails', async (t) => {
  const digest = await pushRandomImage(client, 'att/app', 'v1');
  const image = `${registry.host}/att/app:v1`;
  const r = await runCli(['attest', image, '--predicate', predicateFile, '--type', 'slsaprovenance', '--url', stack.url, '--identity-token', await stack.mintToken()]);
  t.is(r.code, 0, r.stderr);
  const layers = attachmentLayers(parseJson((await client.getManifest('att/app', attachmentTag(digest, 'att')))!.bytes, 'm'));
  t.is(layers.length, 1);
  t.is(layers[0]!.mediaType, DSSE_MEDIA_TYPE);
  t.is(layers[0]!.annotations![ANNOTATION_PREDICATE_TYPE], 'https://slsa.dev/provenance/v0.2');
  t.is(layers[0]!.annotations![ANNOTATION_SIGNATURE], '');
  t.is(JSON.parse(Buffer.from(JSON.parse(layers[0]!.annotations![ANNOTATION_BUNDLE]).Payload.body, 'base64').toString()).kind, 'dsse');

  const args = ['--trusted-root', rootFile, '--certificate-oidc-issuer', stack.issuer];
  const ok = await runCli(['verify-attestation', image, '--type', 'slsaprovenance', '--certificate-identity', TEST_EMAIL, ...args]);
  t.is(ok.code, 0, ok.stderr);
  const out = JSON.parse(ok.stdout.trim().split('\n')[0]!);
  t.is(out.statement.predicateType, 'https://slsa.dev/provenance/v0.2');
  t.is(out.statement.subject[0].digest.sha256, digest.slice(7));
  t.is(out.statement.predicate.builder.id, 'https://ci.example.com/builder');
  t.is(out.Subject, TEST_EMAIL);

  const otherType = await runCli(['verify-attestation', image, '--type', 'spdx', '--certificate-identity', TEST_EMAIL, ...args]);
  t.is(otherType.code, 1);
  t.regex(otherType.stderr, /no attestations of type https:\/\/spdx.dev\/Document found/);
  const otherId = await runCli(['verify-attestation', image, '--type', 'slsaprovenance', '--certificate-identity', 'bob@example.com', ...args]);
  t.is(otherId.code, 1);
  t.regex(otherId.stderr, /none of the expected identities matched/);
});

test('an attestation copied to another image fails on its subject (CVE-2026-31830)', async (t) => {
  const a = await pushRandomImage(client, 'att/moved', 'a');
  const b = await pushRandomImage(client, 'att/moved', 'b');
  const { attestImage } = await import('../../client/oci/attest.ts');
  await attestImage({ image: `${registry.host}/att/moved:a`, predicate: {}, type: 'custom', identityToken: await stack.mintToken(), fulcioUrl: stack.url, rekorUrl: stack.url });
  t.is((await verifyImageAttestations({ image: `${registry.host}/att/moved:a`, type: 'custom', trust: trust(), policy: policy() })).attestations.length, 1);
  const m = (await client.getManifest('att/moved', attachmentTag(a, 'att')))!;
  await client.putManifest('att/moved', attachmentTag(b, 'att'), m.bytes, OCI_MANIFEST);
  await t.throwsAsync(verifyImageAttestations({ image: `${registry.host}/att/moved:b`, type: 'custom', trust: trust(), policy: policy() }), { message: /\[SUBJECT\]/ });
});

async function signed(payload: Buffer) {
  const s = await signDsse({ payload, payloadType: 'application/vnd.in-toto+json', identityToken: await stack.mintToken(), fulcioUrl: stack.url, rekorUrl: stack.url });
  const bundle = JSON.stringify({ SignedEntryTimestamp: s.signedEntryTimestamp.toString('base64'), Payload: { body: s.canonicalizedBody.toString('base64'), integratedTime: s.integratedTime, logIndex: s.logIndex, logID: s.logId.toString('hex') } });
  return { envelope: Buffer.from(s.envelope), certificate: derToPem(s.leafDer), bundle };
}

test('a validly signed but unreadable statement is an error, never a skipped check (GHSA-w6c6-c85g-mmv6)', async (t) => {
  const sha256 = 'ab'.repeat(32);
  const att = await signed(Buffer.from('this is not JSON'));
  const err = t.throws(() => verifyDsseAttestation(trust(), att, { sha256, predicateType: 'https://cosign.sigstore.dev/attestation/v1' }, policy()));
  t.is((err as { code?: string }).code, 'STATEMENT');
  const noSubject = await signed(Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', predicateType: 'x:y', subject: null, predicate: {} })));
  t.is((t.throws(() => verifyDsseAttestation(trust(), noSubject, { sha256, predicateType: 'x:y' }, policy())) as { code?: string }).code, 'STATEMENT');
});

test('exactly one envelope signature (TOB-SIGSTORE-9), and the envelope must be the logged one', async (t) => {
  const sha256 = 'cd'.repeat(32);
  const att = await signed(Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', predicateType: 'x:y', subject: [{ name: 'n', digest: { sha256 } }], predicate: {} })));
  t.is(verifyDsseAttestation(trust(), att, { sha256, predicateType: 'x:y' }, policy()).identity, TEST_EMAIL);
  const env = JSON.parse(att.envelope.toString());
  const two = { ...att, envelope: Buffer.from(JSON.stringify({ ...env, signatures: [env.signatures[0], env.signatures[0]] })) };
  t.regex((t.throws(() => verifyDsseAttestation(trust(), two, { sha256, predicateType: 'x:y' }, policy())) as Error).message, /exactly one signature/);
  const respaced = { ...att, envelope: Buffer.from(JSON.stringify(env, null, 1)) };
  t.is((t.throws(() => verifyDsseAttestation(trust(), respaced, { sha256, predicateType: 'x:y' }, policy())) as { code?: string }).code, 'TLOG_BODY');
  t.is((t.throws(() => verifyDsseAttestation(trust(), att, { sha256: 'ef'.repeat(32), predicateType: 'x:y' }, policy())) as { code?: string }).code, 'SUBJECT');
  t.is((t.throws(() => verifyDsseAttestation(trust(), att, { sha256, predicateType: 'x:z' }, policy())) as { code?: string }).code, 'PREDICATE_TYPE');
});
