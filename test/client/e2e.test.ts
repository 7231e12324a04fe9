/**
 * End to end against the real stack (CA, Rekor API, CT log on one port, an in-test OIDC issuer): our signer
 * and verifier, tampered real bundles, and interoperability with the stock sigstore-js signer and verifier.
 */
import test from 'ava';
import { bundleFromJSON, bundleToJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { FulcioSigner, MessageSignatureBundleBuilder, RekorWitness } from '@sigstore/sign';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import { generateSigner } from '../../core/signer.ts';
import { parseCheckpointBody, parseSignedNote, signCheckpoint } from '../../log/checkpoint.ts';
import { signArtifact } from '../../client/sign.ts';
import { createVerifier, type Policy } from '../../client/verify/index.ts';
import { startStack, TEST_EMAIL, type TestStack } from '../helpers/stack.ts';
import { refuses } from './pki-fixture.ts';

type Json = Record<string, any>;
let stack: TestStack;
let policy: Policy;
const artifact = Buffer.from('sigstack e2e artifact\n');
let good: Json;
let other: Json;

test.before(async () => {
  stack = await startStack();
  policy = { identity: TEST_EMAIL, issuer: stack.issuer };
  const sign = async (a: Buffer) => signArtifact({ artifact: a, identityToken: await stack.mintToken(), fulcioUrl: stack.url, rekorUrl: stack.url }) as Promise<Json>;
  good = await sign(artifact);
  other = await sign(Buffer.from('another artifact'));
});
test.after.always(async () => {
  await stack?.close();
});

const verify = (bundle: unknown, art = artifact, p = policy) => createVerifier(stack.trustedRoot).verify({ artifact: art, bundle, policy: p });
const copy = (): Json => structuredClone(good);
const entry = (b: Json): Json => b.verificationMaterial.tlogEntries[0];

test('sign, then verify offline with the deployment trusted root', (t) => {
  const r = verify(good);
  t.is(r.identity, TEST_EMAIL);
  t.is(r.issuer, stack.issuer);
  t.is(good.mediaType, 'application/vnd.dev.sigstore.bundle.v0.3+json');
  t.truthy(entry(good).inclusionProof.checkpoint.envelope);
  t.truthy(entry(good).inclusionPromise.signedEntryTimestamp);
});

test('tampered artifact, tampered messageDigest', (t) => {
  refuses(t, () => verify(good, Buffer.from('sigstack e2e artifact!\n')), 'DIGEST');
  const b = copy();
  b.messageSignature.messageDigest.digest = other.messageSignature.messageDigest.digest;
  refuses(t, () => verify(b), 'DIGEST');
});

test('a certificate swapped in from another signing', (t) => {
  const b = copy();
  b.verificationMaterial.certificate = other.verificationMaterial.certificate;
  refuses(t, () => verify(b), 'TLOG_BODY', /certificate/);
});

test('wrong identity, wrong issuer, unanchored-looking regexp', (t) => {
  refuses(t, () => verify(good, artifact, { identity: 'bob@example.com', issuer: stack.issuer }), 'IDENTITY');
  refuses(t, () => verify(good, artifact, { identity: TEST_EMAIL, issuer: 'https://accounts.example.com' }), 'ISSUER');
  refuses(t, () => verify(good, artifact, { identityRegexp: 'alice', issuerRegexp: '.*' }), 'IDENTITY');
  t.is(verify(good, artifact, { identityRegexp: '[a-z]+@example\\.com', issuerRegexp: 'http://127\\.0\\.0\\.1:\\d+' }).identity, TEST_EMAIL);
});

test('an inclusion proof for another root', (t) => {
  const b = copy();
  entry(b).inclusionProof.rootHash = entry(other).inclusionProof.rootHash;
  entry(b).inclusionProof.treeSize = entry(other).inclusionProof.treeSize;
  entry(b).inclusionProof.hashes = entry(other).inclusionProof.hashes;
  refuses(t, () => verify(b), 'TLOG_INCLUSION');
});

test('a checkpoint signed by another key', (t) => {
  const b = copy();
  const note = parseSignedNote(entry(b).inclusionProof.checkpoint.envelope);
  const body = parseCheckpointBody(note.body);
  entry(b).inclusionProof.checkpoint.envelope = signCheckpoint(body, note.signatures[0]!.name, generateSigner());
  refuses(t, () => verify(b), 'CHECKPOINT');
});

test('a SET for another entry', (t) => {
  const b = copy();
  entry(b).inclusionPromise = entry(other).inclusionPromise;
  refuses(t, () => verify(b), 'SET');
});

test('a bundle with two tlog entries', (t) => {
  const b = copy();
  b.verificationMaterial.tlogEntries.push(entry(other));
  refuses(t, () => verify(b), 'BUNDLE', /exactly one/);
});

test('the CA refuses a token whose email is not verified, and signing says so', async (t) => {
  await t.throwsAsync(signArtifact({ artifact, identityToken: await stack.mintToken({ email_verified: false }), fulcioUrl: stack.url, rekorUrl: stack.url }), { message: /^token: / });
  const forged = `${(await stack.mintToken()).slice(0, -4)}AAAA`;
  await t.throwsAsync(signArtifact({ artifact, identityToken: forged, fulcioUrl: stack.url, rekorUrl: stack.url }), { message: /^CA: .* said 4\d\d: / });
});

test('interop: @sigstore/verify accepts our bundle with our trusted root, SCT and tlog checks on', (t) => {
  // the trusted root exactly as the server serves it: nothing adjusted for the stock verifier
  const root = structuredClone(stack.trustedRoot) as Json;
  for (const l of root.tlogs) t.is(Date.parse(l.publicKey.validFor.start) % 1000, 0, 'log validity starts on a whole second');
  const stock = new Verifier(toTrustMaterial(TrustedRoot.fromJSON(root)), { ctlogThreshold: 1, tlogThreshold: 1 });
  const signer = stock.verify(toSignedEntity(bundleFromJSON(good), artifact), { subjectAlternativeName: TEST_EMAIL, extensions: { issuer: stack.issuer } });
  t.is(signer.identity?.subjectAlternativeName, TEST_EMAIL);
  t.throws(() => stock.verify(toSignedEntity(bundleFromJSON(good), Buffer.from('x')), { subjectAlternativeName: TEST_EMAIL }));
});

test('interop: a bundle from the stock @sigstore/sign pointed at the stack verifies with ours', async (t) => {
  const token = await stack.mintToken();
  const builder = new MessageSignatureBundleBuilder({
    signer: new FulcioSigner({ fulcioBaseURL: stack.url, identityProvider: { getToken: async () => token } }),
    witnesses: [new RekorWitness({ rekorBaseURL: stack.url, entryType: 'dsse' })],
  });
  const stockArtifact = Buffer.from('signed by sigstore-js');
  const bundle = bundleToJSON(await builder.create({ data: stockArtifact })) as Json;
  t.is(bundle.mediaType, 'application/vnd.dev.sigstore.bundle+json;version=0.2');
  const r = verify(bundle, stockArtifact);
  t.is(r.identity, TEST_EMAIL);
  refuses(t, () => verify(bundle, artifact), 'DIGEST');
});
