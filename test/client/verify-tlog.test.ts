/**
 * The verifier on fixture bundles: bundle shape, binding of the log entry to the bundle, SET, time,
 * inclusion proof and checkpoint. Each advisory row of SECURITY-ADVISORIES.md that concerns these checks has
 * a test named after it.
 */
import test from 'ava';
import { generateSigner } from '../../core/signer.ts';
import { signCheckpoint } from '../../log/checkpoint.ts';
import { leafHash } from '../../log/merkle/hash.ts';
import { createVerifier } from '../../client/verify/index.ts';
import { EMAIL, ISSUER, mth, path as proofPath, refuses, TestPki } from './pki-fixture.ts';

const pki = new TestPki();
const verifier = createVerifier(pki.trustedRoot(), { now: () => pki.now });
const policy = { identity: EMAIL, issuer: ISSUER };
const artifact = Buffer.from('release 1.0');
const good = pki.sign(artifact);
const other = pki.sign(Buffer.from('another artifact'));
type Json = Record<string, any>;
const copy = (b: Json = good): Json => structuredClone(b);
const entry = (b: Json): Json => b.verificationMaterial.tlogEntries[0];
const run = (bundle: unknown, art: Buffer = artifact) => verifier.verify({ artifact: art, bundle, policy });

test('a good bundle verifies, given as an object, JSON text or bytes', (t) => {
  const r = run(good);
  t.is(r.identity, EMAIL);
  t.is(r.issuer, ISSUER);
  t.is(r.logIndex, Number(entry(good).logIndex));
  t.is(r.integratedTime, Number(entry(good).integratedTime));
  t.is(r.checks.length, 10);
  t.is(run(JSON.stringify(good)).identity, EMAIL);
  t.is(run(Buffer.from(JSON.stringify(good))).identity, EMAIL);
});

test('a tampered artifact is refused', (t) => {
  refuses(t, () => run(good, Buffer.from('release 1.1')), 'DIGEST');
});

test('sigstore-python#1652 / sigstore-go#600: messageDigest must be the artifact digest', (t) => {
  const b = copy();
  b.messageSignature.messageDigest.digest = Buffer.alloc(32, 7).toString('base64');
  refuses(t, () => run(b), 'DIGEST');
});

test('GHSA-8gw7-4j42-w388 / cosign#2194: bundle shape: exactly one hashedrekord 0.0.1 entry, message signatures only, no unknown fields', (t) => {
  const two = copy();
  two.verificationMaterial.tlogEntries.push(entry(other));
  refuses(t, () => run(two), 'BUNDLE', /exactly one entry, got 2/);
  const none = copy();
  none.verificationMaterial.tlogEntries = [];
  refuses(t, () => run(none), 'BUNDLE', /exactly one/);
  // GHSA-cq38-jh5f-37mq: counted before anything inside is parsed.
  const many = copy();
  many.verificationMaterial.tlogEntries = Array(1000).fill(0);
  refuses(t, () => run(many), 'BUNDLE', /more than 32/);
  const unknown = [(b: Json) => (b.extra = 1), (b: Json) => (entry(b).extra = 1), (b: Json) => (entry(b).inclusionProof.extra = 1), (b: Json) => (b.messageSignature.extra = 1)];
  for (const mutate of unknown) {
    const b = copy();
    mutate(b);
    refuses(t, () => run(b), 'BUNDLE', /unknown field "extra"/);
  }
  const kind = copy();
  entry(kind).kindVersion = { kind: 'intoto', version: '0.0.2' };
  refuses(t, () => run(kind), 'BUNDLE', /"intoto" is not supported/);
  const version = copy();
  entry(version).kindVersion.version = '0.0.2';
  refuses(t, () => run(version), 'BUNDLE', /0.0.1/);
  const dsse = copy();
  delete dsse.messageSignature;
  dsse.dsseEnvelope = { payload: 'e30=', payloadType: 'application/vnd.in-toto+json', signatures: [{ sig: 'AA==', keyid: '' }, { sig: 'AA==', keyid: '' }] };
  refuses(t, () => run(dsse), 'BUNDLE', /DSSE/);
});

test('bundle media types: v0.3 (both spellings) and v0.2; v0.1 and others refused', (t) => {
  t.is(run({ ...copy(), mediaType: 'application/vnd.dev.sigstore.bundle+json;version=0.3' }).identity, EMAIL);
  refuses(t, () => run({ ...copy(), mediaType: 'application/vnd.dev.sigstore.bundle+json;version=0.1' }), 'BUNDLE', /v0.1/);
  refuses(t, () => run({ ...copy(), mediaType: 'application/vnd.dev.sigstore.bundle.v0.4+json' }), 'BUNDLE', /mediaType/);
  refuses(t, () => run({ ...copy(), mediaType: undefined }), 'BUNDLE', /mediaType/);
});

test('what the verifier cannot check is refused, not skipped: keys, RFC 3161 timestamps, other digests', (t) => {
  const key = copy();
  delete key.verificationMaterial.certificate;
  key.verificationMaterial.publicKey = { hint: 'abc' };
  refuses(t, () => run(key), 'BUNDLE', /key-based/);
  const tsa = copy();
  tsa.verificationMaterial.timestampVerificationData = { rfc3161Timestamps: [{ signedTimestamp: 'AA==' }] };
  refuses(t, () => run(tsa), 'BUNDLE', /RFC 3161/);
  const sha384 = copy();
  sha384.messageSignature.messageDigest.algorithm = 'SHA2_384';
  refuses(t, () => run(sha384), 'BUNDLE', /SHA2_256/);
});

test('sigstore-js#1659 / GHSA-hhfg-fwrw-87w7: no inclusion promise means no trusted time: refused', (t) => {
  const b = copy();
  delete entry(b).inclusionPromise;
  refuses(t, () => run(b), 'BUNDLE', /inclusionPromise: missing/);
});

test('sigstore-go#260: a missing checkpoint is an error, not a crash', (t) => {
  const b = copy();
  delete entry(b).inclusionProof.checkpoint;
  refuses(t, () => run(b), 'BUNDLE', /checkpoint: missing/);
});

test('strict encodings: canonical base64 and decimal integers only', (t) => {
  const pad = copy();
  entry(pad).inclusionProof.rootHash = entry(pad).inclusionProof.rootHash.replace(/=$/, ''); // 32 bytes: always one '='
  refuses(t, () => run(pad), 'BUNDLE', /rootHash: not standard base64/);
  const urlSafe = copy();
  urlSafe.verificationMaterial.certificate.rawBytes = urlSafe.verificationMaterial.certificate.rawBytes.replace(/\+/g, '-').replace(/\//g, '_');
  if (urlSafe.verificationMaterial.certificate.rawBytes !== good.verificationMaterial.certificate.rawBytes) refuses(t, () => run(urlSafe), 'BUNDLE', /base64/);
  const junk = copy();
  junk.messageSignature.signature = `!${junk.messageSignature.signature}`;
  refuses(t, () => run(junk), 'BUNDLE', /base64/);
  const hexIndex = copy();
  entry(hexIndex).logIndex = '0x2';
  refuses(t, () => run(hexIndex), 'BUNDLE', /decimal/);
  const differing = copy();
  entry(differing).inclusionProof.logIndex = String(Number(entry(good).logIndex) + 1);
  refuses(t, () => run(differing), 'BUNDLE', /greater than the entry's logIndex/);
  // a smaller proof index is a shard-local one; the proof then no longer leads to the root for this entry
  const lower = copy();
  t.true(Number(entry(good).logIndex) > 0, 'the fixture entry is not the first of its log');
  entry(lower).inclusionProof.logIndex = String(Number(entry(good).logIndex) - 1);
  refuses(t, () => run(lower), 'TLOG_INCLUSION', /./);
  const numeric = copy();
  entry(numeric).logIndex = Number(entry(good).logIndex);
  t.is(run(numeric).identity, EMAIL);
});

test('GHSA-whqx-f9j3-ch6m: a certificate swapped in from another signing is refused', (t) => {
  const b = copy();
  b.verificationMaterial.certificate = other.verificationMaterial.certificate;
  refuses(t, () => run(b), 'TLOG_BODY', /certificate/);
});

test('GHSA-q4xm-6fjc-5f6w: a valid but unrelated log entry is refused', (t) => {
  const b = copy();
  b.verificationMaterial.tlogEntries = other.verificationMaterial.tlogEntries;
  refuses(t, () => run(b), 'TLOG_BODY');
});

test('GHSA-ccxc-vr6p-4858: an entry logged for another signature by the same key is refused', (t) => {
  const signer = generateSigner();
  const b = pki.sign(artifact, { leafSigner: signer });
  b.messageSignature.signature = signer.sign(artifact).toString('base64'); // valid, but not the logged one
  refuses(t, () => run(b), 'TLOG_BODY', /signature/);
});

test('sigstore-go#611: the logged digest must be the artifact digest', (t) => {
  const b = pki.sign(artifact, { body: (_d, sig, leaf) => pki.hashedRekordBody(Buffer.alloc(32, 1), sig, leaf) });
  refuses(t, () => run(b), 'TLOG_BODY', /digest/);
});

test('the log entry body must be canonical JSON: no duplicate keys, no other spelling', (t) => {
  const pretty = pki.sign(artifact, { body: (d, sig, leaf) => Buffer.from(JSON.stringify(JSON.parse(pki.hashedRekordBody(d, sig, leaf).toString()), null, 1)) });
  refuses(t, () => run(pretty), 'TLOG_BODY', /canonical/);
  const dup = pki.sign(artifact, { body: (d, sig, leaf) => Buffer.from(pki.hashedRekordBody(d, sig, leaf).toString().replace('{"apiVersion":"0.0.1",', '{"apiVersion":"0.0.1","apiVersion":"0.0.1",')) });
  refuses(t, () => run(dup), 'TLOG_BODY', /canonical/);
});

test('an entry in a log the trusted root does not list is refused', (t) => {
  const b = copy();
  entry(b).logId.keyId = generateSigner().keyId.toString('base64');
  refuses(t, () => run(b), 'TLOG', /not a trusted transparency log/);
});

test('GHSA-ccxc / sigstore-js#1659: a SET for another entry is refused', (t) => {
  const b = copy();
  entry(b).inclusionPromise = entry(other).inclusionPromise;
  refuses(t, () => run(b), 'SET');
});

test('TOB-SIGSTORE-3: a backdated integrated time is caught by the SET before it is used', (t) => {
  const b = copy();
  entry(b).integratedTime = String(Number(entry(good).integratedTime) - 3600);
  refuses(t, () => run(b), 'SET');
  const index = copy();
  entry(index).logIndex = entry(index).inclusionProof.logIndex = String(Number(entry(good).logIndex) + 1);
  refuses(t, () => run(index), 'SET');
});

test('TOB-SIGSTORE-7: an integrated time in the future, even by one second, is refused', (t) => {
  const b = pki.sign(artifact, { integratedTime: Math.floor(pki.now / 1000) + 1 });
  refuses(t, () => run(b), 'TIME', /future/);
  t.is(run(pki.sign(artifact, { integratedTime: Math.floor(pki.now / 1000) })).identity, EMAIL);
});

test('the integrated time must fall in the signing certificate validity and the log key validity', (t) => {
  refuses(t, () => run(pki.sign(artifact, { integratedTime: Math.floor(pki.now / 1000) - 120 })), 'TIME', /certificate's validity/);
  const late = createVerifier(pki.trustedRoot({ tlogStart: new Date(pki.now - 10_000).toISOString() }), { now: () => pki.now });
  refuses(t, () => late.verify({ artifact, bundle: good, policy }), 'TIME', /log key/);
});

test('sigstore-js#646: proofs verify for the last index (index == size - 1) and for an index inside a larger tree', (t) => {
  const index = Number(entry(good).logIndex);
  t.is(Number(entry(good).inclusionProof.treeSize), index + 1);
  t.truthy(run(good));
  // The same entry proven later, against every larger tree the log has grown to since.
  for (let size = index + 2; size <= pki.entries.length; size++) {
    const b = copy();
    const leaves = pki.entries.slice(0, size).map((e) => leafHash(e));
    Object.assign(entry(b).inclusionProof, {
      treeSize: String(size), rootHash: mth(leaves).toString('base64'), hashes: proofPath(index, leaves).map((h) => h.toString('base64')), checkpoint: { envelope: pki.checkpoint(size) },
    });
    t.is(run(b).logIndex, index, `size ${size}`);
  }
});

test('an inclusion proof for another root is refused', (t) => {
  const hashes = copy();
  entry(hashes).inclusionProof.hashes = entry(other).inclusionProof.hashes;
  refuses(t, () => run(hashes), 'TLOG_INCLUSION');
  const root = copy();
  entry(root).inclusionProof.rootHash = Buffer.alloc(32, 9).toString('base64');
  refuses(t, () => run(root), 'TLOG_INCLUSION', /root hash/);
  const extra = copy();
  entry(extra).inclusionProof.hashes.push(Buffer.alloc(32).toString('base64'));
  refuses(t, () => run(extra), 'TLOG_INCLUSION');
  const beyond = copy();
  entry(beyond).inclusionProof.treeSize = entry(good).logIndex;
  refuses(t, () => run(beyond), 'TLOG_INCLUSION', /malformed/);
});

/** The good bundle with its checkpoint replaced by `note` (everything else consistent). */
function withCheckpoint(note: string): Json {
  const b = copy();
  entry(b).inclusionProof.checkpoint.envelope = note;
  return b;
}
const size = Number(entry(good).inclusionProof.treeSize);
const rootHash = Buffer.from(entry(good).inclusionProof.rootHash, 'base64');
const origin = `${pki.rekorHost} - ${pki.treeId}`;

test('a checkpoint signed by another key is refused', (t) => {
  refuses(t, () => run(withCheckpoint(signCheckpoint({ origin, size, rootHash }, pki.rekorHost, generateSigner()))), 'CHECKPOINT');
});

test('rekor#2214: a checkpoint signature whose key hint is not the log id is refused', (t) => {
  const note = signCheckpoint({ origin, size, rootHash }, pki.rekorHost, pki.rekor);
  const [body, sig] = note.split('\n\u2014 ');
  const [name, b64] = sig!.trimEnd().split(' ');
  const blob = Buffer.from(b64!, 'base64');
  blob[0] ^= 0xff;
  refuses(t, () => run(withCheckpoint(`${body}\n\u2014 ${name} ${blob.toString('base64')}\n`)), 'CHECKPOINT');
});

test('the checkpoint must carry the log name and origin of the trusted log', (t) => {
  refuses(t, () => run(withCheckpoint(signCheckpoint({ origin, size, rootHash }, 'rekor.other.example', pki.rekor))), 'CHECKPOINT');
  refuses(t, () => run(withCheckpoint(signCheckpoint({ origin: 'rekor.other.example - 1', size, rootHash }, pki.rekorHost, pki.rekor))), 'CHECKPOINT', /origin/);
  refuses(t, () => run(withCheckpoint('garbage')), 'CHECKPOINT');
});

test('sigstore-js#1722: a checkpoint signer name is compared literally, never run as a regular expression', (t) => {
  for (const name of ['.*', '(a*)*$', '(', 'rekor.test.example.8443', 'rekor.test.example:8443|x']) {
    refuses(t, () => run(withCheckpoint(signCheckpoint({ origin, size, rootHash }, name, pki.rekor))), 'CHECKPOINT');
  }
});

test('rekor#1092: the checkpoint must be for the proof tree size and root', (t) => {
  refuses(t, () => run(withCheckpoint(pki.checkpoint(size - 1))), 'CHECKPOINT', /tree size/);
  const forked = Buffer.from(leafHash(Buffer.from('another tree')));
  refuses(t, () => run(withCheckpoint(signCheckpoint({ origin, size, rootHash: forked }, pki.rekorHost, pki.rekor))), 'CHECKPOINT', /root hash/);
});

test('rekor#2861: root hashes are compared byte for byte (a byte of another ASCII case differs)', (t) => {
  // a letter byte when the root has one (the EqualFold bug); else byte 0, whose 0x20 flip must be refused all the same
  const i = Math.max(0, rootHash.findIndex((x) => (x >= 0x41 && x <= 0x5a) || (x >= 0x61 && x <= 0x7a)));
  const folded = Buffer.from(rootHash);
  folded[i]! ^= 0x20;
  refuses(t, () => run(withCheckpoint(signCheckpoint({ origin, size, rootHash: folded }, pki.rekorHost, pki.rekor))), 'CHECKPOINT', /root hash/);
});
