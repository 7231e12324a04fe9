/**
 * Blobs signed with a managed key (cosign.key): `sigstack sign --key` logs a hashedrekord naming the PUBLIC KEY
 * and writes a v0.3 bundle with `publicKey: {hint}`; `sigstack verify --key` checks it offline against exactly
 * that key. Fail-closed both ways (no key bundle without --key, no certificate bundle with it), tampering, and
 * interop with @sigstore/sign (a key Signer witnessing to our log) and @sigstore/verify (a key finder).
 */
import { createHash, createPublicKey, generateKeyPairSync, sign as cryptoSign, X509Certificate, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { bundleFromJSON, bundleToJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { MessageSignatureBundleBuilder, RekorWitness } from '@sigstore/sign';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import { encryptPrivateKey } from '../../client/oci/cosign-key.ts';
import { signArtifact } from '../../client/sign.ts';
import { publicKeyHint, signArtifactWithKey } from '../../client/sign-key.ts';
import { createVerifier } from '../../client/verify/index.ts';
import { derToPem } from '../../core/pem.ts';
import { generateSigner } from '../../core/signer.ts';
import { parseCheckpointBody, parseSignedNote, signCheckpoint } from '../../log/checkpoint.ts';
import { runCli } from '../helpers/cli.ts';
import { startStack, TEST_EMAIL, type TestStack } from '../helpers/stack.ts';
import { refuses } from './pki-fixture.ts';

type Json = Record<string, any>;
let stack: TestStack;
let dir: string;
const artifact = Buffer.from('signed with a managed key\n');
const keyA = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const keyB = generateKeyPairSync('ec', { namedCurve: 'P-256' });
let good: Json;
let other: Json;
let keyless: Json;

test.before(async () => {
  stack = await startStack();
  dir = mkdtempSync(join(tmpdir(), 'sigstack-blobkey-'));
  writeFileSync(join(dir, 'trusted_root.json'), JSON.stringify(stack.trustedRoot));
  writeFileSync(join(dir, 'artifact'), artifact);
  writeFileSync(join(dir, 'cosign.key'), encryptPrivateKey(keyA.privateKey, 'pw'), { mode: 0o600 });
  writeFileSync(join(dir, 'cosign.pub'), pem(keyA.publicKey));
  writeFileSync(join(dir, 'other.pub'), pem(keyB.publicKey));
  good = await signArtifactWithKey({ artifact, key: keyA.privateKey, rekorUrl: stack.url }) as Json;
  other = await signArtifactWithKey({ artifact: Buffer.from('another'), key: keyA.privateKey, rekorUrl: stack.url }) as Json;
  keyless = await signArtifact({ artifact, identityToken: await stack.mintToken(), fulcioUrl: stack.url, rekorUrl: stack.url }) as Json;
});
test.after.always(async () => {
  await stack?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function pem(key: KeyObject): string {
  return derToPem(key.export({ type: 'spki', format: 'der' }), 'PUBLIC KEY');
}
const verify = (bundle: unknown, opts: { art?: Buffer; key?: KeyObject; now?: () => number } = {}) =>
  createVerifier(stack.trustedRoot, opts.now ? { now: opts.now } : {}).verifyWithKey({ artifact: opts.art ?? artifact, bundle, publicKey: opts.key ?? keyA.publicKey });
const copy = (): Json => structuredClone(good);
const entry = (b: Json): Json => b.verificationMaterial.tlogEntries[0];

test('the bundle names the key by its hint and the log entry carries the public key, not a certificate', (t) => {
  t.is(good.mediaType, 'application/vnd.dev.sigstore.bundle.v0.3+json');
  t.deepEqual(Object.keys(good.verificationMaterial).sort(), ['publicKey', 'timestampVerificationData', 'tlogEntries']);
  const spki = keyA.publicKey.export({ type: 'spki', format: 'der' });
  t.is(good.verificationMaterial.publicKey.hint, createHash('sha256').update(spki).digest('base64'));
  t.is(publicKeyHint(keyA.privateKey), good.verificationMaterial.publicKey.hint);
  const body = JSON.parse(Buffer.from(entry(good).canonicalizedBody, 'base64').toString());
  t.is(body.kind, 'hashedrekord');
  t.is(Buffer.from(body.spec.signature.publicKey.content, 'base64').toString(), pem(keyA.publicKey));
  t.is(body.spec.data.hash.value, createHash('sha256').update(artifact).digest('hex'));
  const r = verify(good);
  t.is(r.keyHint, good.verificationMaterial.publicKey.hint);
  t.true(r.checks.some((c) => c.startsWith('inclusion proof:')));
  t.true(r.checks.some((c) => c.startsWith('inclusion promise (SET):')));
});

test('fail-closed: a key bundle needs the key, a certificate bundle refuses one, another key is refused', (t) => {
  const v = createVerifier(stack.trustedRoot);
  refuses(t, () => v.verify({ artifact, bundle: good, policy: { identity: TEST_EMAIL, issuer: stack.issuer } }), 'BUNDLE', /key-based.*--key/);
  refuses(t, () => verify(keyless), 'BUNDLE', /certificate bundle/);
  refuses(t, () => verify(good, { key: keyB.publicKey }), 'TLOG_BODY', /logged public key is not the given key/);
  // Both kinds of material at once is ambiguous.
  const both = copy();
  both.verificationMaterial.certificate = keyless.verificationMaterial.certificate;
  refuses(t, () => verify(both), 'BUNDLE', /exactly one of/);
  refuses(t, () => v.verify({ artifact, bundle: both, policy: { identity: TEST_EMAIL, issuer: stack.issuer } }), 'BUNDLE', /exactly one of/);
  // A P-384 or RSA key is not what the verifier checks: refused as a usage problem, not a failed signature.
  refuses(t, () => verify(good, { key: generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey }), 'POLICY');
});

test('a keyless entry re-labelled as key-based: the logged certificate is not a managed key', (t) => {
  const b = structuredClone(keyless);
  delete b.verificationMaterial.certificate;
  b.verificationMaterial.publicKey = { hint: '' };
  // The certificate's own key, so only the body check can stop it.
  const leaf = new X509Certificate(Buffer.from(keyless.verificationMaterial.certificate.rawBytes, 'base64'));
  refuses(t, () => verify(b, { key: leaf.publicKey }), 'TLOG_BODY', /not a single PEM public key/);
});

test('tampering: artifact, digest, signature, SET, proof, checkpoint, future time', (t) => {
  refuses(t, () => verify(good, { art: Buffer.from('other') }), 'DIGEST');
  const sig = copy();
  sig.messageSignature.signature = cryptoSign('sha256', artifact, keyB.privateKey).toString('base64');
  refuses(t, () => verify(sig), 'TLOG_BODY', /signature/);
  const swapped = copy();
  swapped.verificationMaterial.tlogEntries = other.verificationMaterial.tlogEntries;
  refuses(t, () => verify(swapped), 'TLOG_BODY', /digest/);
  const set = copy();
  entry(set).inclusionPromise = entry(other).inclusionPromise;
  refuses(t, () => verify(set), 'SET');
  const proof = copy();
  entry(proof).inclusionProof.rootHash = Buffer.alloc(32, 1).toString('base64');
  refuses(t, () => verify(proof), 'TLOG_INCLUSION');
  const cp = copy();
  const note = parseSignedNote(entry(cp).inclusionProof.checkpoint.envelope);
  entry(cp).inclusionProof.checkpoint.envelope = signCheckpoint(parseCheckpointBody(note.body), note.signatures[0]!.name, generateSigner());
  refuses(t, () => verify(cp), 'CHECKPOINT');
  refuses(t, () => verify(good, { now: () => Number(entry(good).integratedTime) * 1000 - 1000 }), 'TIME', /future/);
  // A wrong hint decides nothing (it is unauthenticated), and says so.
  const hint = copy();
  hint.verificationMaterial.publicKey.hint = 'someone else';
  t.regex(verify(hint).checks.at(-1)!, /decides nothing/);
});

test('CLI: sign --key, verify --key; identity flags refused with --key; wrong key and no key refused', async (t) => {
  const bundlePath = join(dir, 'artifact.sigstore.json');
  const signed = await runCli(['sign', join(dir, 'artifact'), '--bundle', bundlePath, '--key', join(dir, 'cosign.key'), '--rekor-url', stack.url], { env: { COSIGN_PASSWORD: 'pw' } });
  t.is(signed.code, 0, signed.stderr);
  const root = join(dir, 'trusted_root.json');
  const ok = await runCli(['verify', join(dir, 'artifact'), '--bundle', bundlePath, '--trusted-root', root, '--key', join(dir, 'cosign.pub')]);
  t.is(ok.code, 0, ok.stderr);
  t.regex(ok.stderr, /Verified OK/);
  const mixed = await runCli(['verify', join(dir, 'artifact'), '--bundle', bundlePath, '--trusted-root', root, '--key', join(dir, 'cosign.pub'), '--certificate-identity', TEST_EMAIL]);
  t.is(mixed.code, 2);
  t.regex(mixed.stderr, /--certificate-identity cannot be used with --key/);
  const wrong = await runCli(['verify', join(dir, 'artifact'), '--bundle', bundlePath, '--trusted-root', root, '--key', join(dir, 'other.pub')]);
  t.is(wrong.code, 1);
  t.regex(wrong.stderr, /TLOG_BODY/);
  const noKey = await runCli(['verify', join(dir, 'artifact'), '--bundle', bundlePath, '--trusted-root', root, '--certificate-identity', TEST_EMAIL, '--certificate-oidc-issuer', stack.issuer]);
  t.is(noKey.code, 1);
  t.regex(noKey.stderr, /key-based bundle/);
  // The password piped on stdin when $COSIGN_PASSWORD is unset (as cosign); a wrong one is a usage error.
  const env = { ...process.env };
  delete env.COSIGN_PASSWORD;
  const piped = await runCli(['sign', join(dir, 'artifact'), '--bundle', join(dir, 'piped.json'), '--key', join(dir, 'cosign.key'), '--rekor-url', stack.url], { env: env as Record<string, string>, input: 'pw' });
  t.is(piped.code, 0, piped.stderr);
  const badPw = await runCli(['sign', join(dir, 'artifact'), '--bundle', join(dir, 'bad.json'), '--key', join(dir, 'cosign.key'), '--rekor-url', stack.url], { env: { COSIGN_PASSWORD: 'nope' } });
  t.is(badPw.code, 2);
  t.regex(badPw.stderr, /wrong password/);
  t.is(JSON.parse(readFileSync(join(dir, 'piped.json'), 'utf8')).verificationMaterial.publicKey.hint, good.verificationMaterial.publicKey.hint);
});

test('interop: @sigstore/verify accepts our key bundle through a key finder, and refuses another artifact', (t) => {
  const hint = good.verificationMaterial.publicKey.hint as string;
  const keys = { [hint]: { rawBytes: keyA.publicKey.export({ type: 'spki', format: 'der' }), keyDetails: 5 /* PKIX_ECDSA_P256_SHA_256 */ } };
  const stock = new Verifier(toTrustMaterial(TrustedRoot.fromJSON(stack.trustedRoot), keys as never), { tlogThreshold: 1, ctlogThreshold: 0 });
  const signer = stock.verify(toSignedEntity(bundleFromJSON(good), artifact));
  t.is(signer.identity, undefined);
  t.deepEqual(signer.key.export({ type: 'spki', format: 'der' }), keyA.publicKey.export({ type: 'spki', format: 'der' }));
  t.throws(() => stock.verify(toSignedEntity(bundleFromJSON(good), Buffer.from('x'))));
});

test('interop: a key bundle made by @sigstore/sign (key Signer, our log as witness) verifies with ours', async (t) => {
  const hint = publicKeyHint(keyA.publicKey);
  const builder = new MessageSignatureBundleBuilder({
    signer: { sign: async (data: Buffer) => ({ signature: cryptoSign('sha256', data, keyA.privateKey), key: { $case: 'publicKey', publicKey: pem(keyA.publicKey), hint } }) },
    witnesses: [new RekorWitness({ rekorBaseURL: stack.url })],
  });
  const stockArtifact = Buffer.from('signed by sigstore-js with a key');
  const bundle = bundleToJSON(await builder.create({ data: stockArtifact })) as Json;
  t.is(bundle.verificationMaterial.publicKey.hint, hint);
  const r = verify(bundle, { art: stockArtifact });
  t.is(r.keyHint, hint);
  t.regex(r.checks.at(-1)!, /the given key's/);
  refuses(t, () => verify(bundle, { art: stockArtifact, key: keyB.publicKey }), 'TLOG_BODY');
  refuses(t, () => verify(bundle, { art: artifact }), 'DIGEST');
  t.is(createPublicKey(pem(keyA.publicKey)).asymmetricKeyType, 'ec');
});
