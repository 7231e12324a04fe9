/**
 * GHSA-cq38-jh5f-37mq (sigstore-go): the counts an attacker controls are capped, and the caps are counted before
 * the work they bound. In-toto statements: 1024 subjects, 32 digests per subject (the statement is read only once
 * its signature, certificate and log entry verified, so these bundles are signed and logged with the fixture PKI:
 * the refusal must come from the cap, hence code AND message). Bundles: 32 tlog entries, 32 RFC 3161 timestamps,
 * counted before anything inside is parsed (the message bundle's 1000-entry case is in verify-tlog.test.ts).
 * Each cap has its control one below it, refused for another reason or not at all.
 */
import { createHash } from 'node:crypto';
import test from 'ava';
import { derToPem } from '../../core/pem.ts';
import { generateSigner } from '../../core/signer.ts';
import { MAX_DIGESTS_PER_SUBJECT, MAX_SUBJECTS, preAuthEncoding } from '../../client/verify/dsse.ts';
import { verifyDsseBundle } from '../../client/verify/dsse-bundle.ts';
import { createVerifier } from '../../client/verify/index.ts';
import { canonicalize } from '../../client/verify/tlog-body.ts';
import { EMAIL, ISSUER, refuses, TestPki } from './pki-fixture.ts';

type Json = Record<string, any>;
const pki = new TestPki();
const verifier = createVerifier(pki.trustedRoot(), { now: () => pki.now });
const policy = { identity: EMAIL, issuer: ISSUER };
const PAYLOAD_TYPE = 'application/vnd.in-toto+json';
const PREDICATE = 'https://slsa.dev/provenance/v1';
const sha256 = createHash('sha256').update('the image manifest').digest('hex');
const expect = { sha256, predicateType: PREDICATE };
const hexOf = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

/** A subject whose digest map has `n` entries, sha256 (the expected digest unless `other`) among them. */
function subject(n: number, other = false): Json {
  const digest: Record<string, string> = { sha256: other ? hexOf(`other ${Math.random()}`) : sha256 };
  for (let i = 1; i < n; i++) digest[`alg${i}`] = hexOf(`digest ${i}`);
  return { name: 'registry.example/app', digest };
}

/** `subjects` in an in-toto v1 statement, signed as DSSE by a fixture leaf and logged as dsse 0.0.1: a v0.3 bundle. */
function dsseBundle(subjects: Json[]): Json {
  const payload = Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', predicateType: PREDICATE, subject: subjects, predicate: {} }));
  const leafSigner = generateSigner();
  const signature = leafSigner.sign(preAuthEncoding(PAYLOAD_TYPE, payload));
  const envelope = { payload: payload.toString('base64'), payloadType: PAYLOAD_TYPE, signatures: [{ keyid: '', sig: signature.toString('base64') }] };
  const b = pki.sign(payload, {
    leafSigner,
    signature,
    body: (_digest, sig, leafDer) => Buffer.from(canonicalize({
      apiVersion: '0.0.1',
      kind: 'dsse',
      spec: {
        envelopeHash: { algorithm: 'sha256', value: hexOf(JSON.stringify(envelope)) },
        payloadHash: { algorithm: 'sha256', value: hexOf(payload) },
        signatures: [{ signature: sig.toString('base64'), verifier: Buffer.from(derToPem(leafDer)).toString('base64') }],
      },
    })!),
  });
  delete b.messageSignature;
  b.dsseEnvelope = envelope;
  b.verificationMaterial.tlogEntries[0].kindVersion = { kind: 'dsse', version: '0.0.1' };
  return b;
}

const runDsse = (b: Json) => verifyDsseBundle(verifier.trust, Buffer.from(JSON.stringify(b)), expect, policy, pki.now);
const many = (n: number, make: (i: number) => Json) => Array.from({ length: n }, (_, i) => make(i));
const good = dsseBundle([subject(1)]);
const tsPath = 'verificationMaterial.timestampVerificationData.rfc3161Timestamps';

test('the fixture DSSE bundle verifies (so each refusal below is the cap, not the fixture)', (t) => {
  const r = runDsse(good);
  t.is(r.identity, EMAIL);
  t.is(r.statement.subject[0]!.digest.sha256, sha256);
  t.true(r.checks.some((c) => c.startsWith('inclusion proof:')));
});

test('the caps are those of the advisory', (t) => {
  t.is(MAX_SUBJECTS, 1024);
  t.is(MAX_DIGESTS_PER_SUBJECT, 32);
});

test('GHSA-cq38-jh5f-37mq: a signed statement with 1025 subjects is refused; 1024 verify', (t) => {
  // the expected digest is the LAST subject: a cap that let the 1025th through would find it and accept
  const over = dsseBundle([...many(1024, () => subject(1, true)), subject(1)]);
  refuses(t, () => runDsse(over), 'STATEMENT', /^in-toto statement: statement\.subject: more than 1024 items$/);
  const at = dsseBundle([...many(1023, () => subject(1, true)), subject(1)]);
  const r = runDsse(at);
  t.is(r.statement.subject.length, 1024);
  t.is(r.identity, EMAIL);
});

test('GHSA-cq38-jh5f-37mq: a subject with 33 digests is refused, naming the subject and the cap; 32 verify', (t) => {
  const over = dsseBundle([subject(1, true), subject(1, true), subject(33)]);
  refuses(t, () => runDsse(over), 'STATEMENT', /^in-toto statement: statement\.subject\[2\]\.digest: 33 digests, more than the cap of 32 per subject$/);
  const at = dsseBundle([subject(1, true), subject(1, true), subject(32)]);
  const r = runDsse(at);
  t.is(Object.keys(r.statement.subject[2]!.digest).length, 32);
  t.is(r.identity, EMAIL);
});

test('GHSA-cq38-jh5f-37mq: the digest cap is a refusal even when an earlier subject matches (fail closed)', (t) => {
  const b = dsseBundle([subject(1), subject(1, true), subject(1, true), subject(1, true), subject(MAX_DIGESTS_PER_SUBJECT + 1, true)]);
  refuses(t, () => runDsse(b), 'STATEMENT', /statement\.subject\[4\]\.digest: 33 digests, more than the cap of 32 per subject/);
  // and a digest map of many thousands (quadratic to read strictly) is refused by counting alone
  const huge = dsseBundle([subject(20_000)]);
  refuses(t, () => runDsse(huge), 'STATEMENT', /statement\.subject\[0\]\.digest: 20000 digests, more than the cap of 32/);
});

test('GHSA-cq38-jh5f-37mq: a DSSE bundle with 33 tlog entries is refused by the cap, before any entry is read; 32 are counted', (t) => {
  const entry = good.verificationMaterial.tlogEntries[0];
  for (const fill of [() => structuredClone(entry), () => 0]) {
    const over = structuredClone(good);
    over.verificationMaterial.tlogEntries = many(33, fill);
    refuses(t, () => runDsse(over), 'BUNDLE', /^verificationMaterial\.tlogEntries: more than 32 items$/);
    const at = structuredClone(good);
    at.verificationMaterial.tlogEntries = many(32, fill);
    refuses(t, () => runDsse(at), 'BUNDLE', /^verificationMaterial\.tlogEntries: expected exactly one entry, got 32$/);
  }
});

test('GHSA-cq38-jh5f-37mq: a DSSE bundle with 33 RFC 3161 timestamps is refused by the cap; 32 are refused as unsupported', (t) => {
  const withTimestamps = (list: unknown): Json => {
    const b = structuredClone(good);
    b.verificationMaterial.timestampVerificationData = { rfc3161Timestamps: list };
    return b;
  };
  const ts = () => ({ signedTimestamp: Buffer.from('a timestamp').toString('base64') });
  refuses(t, () => runDsse(withTimestamps(many(33, ts))), 'BUNDLE', new RegExp(`^${tsPath.replace(/\./g, '\\.')}: more than 32 items$`));
  refuses(t, () => runDsse(withTimestamps(many(32, ts))), 'BUNDLE', /rfc3161Timestamps: RFC 3161 timestamps are not supported$/);
  // counted strictly: not an array, or material under another name, is not "no timestamps"
  refuses(t, () => runDsse(withTimestamps({ length: 0 })), 'BUNDLE', /rfc3161Timestamps: expected an array/);
  const renamed = structuredClone(good);
  renamed.verificationMaterial.timestampVerificationData = { rfc3161Timestamp: many(33, ts) };
  refuses(t, () => runDsse(renamed), 'BUNDLE', /unknown field "rfc3161Timestamp"/);
  // what our own attest writes, and what proto3 JSON omits, still verify
  t.is(runDsse(withTimestamps([])).identity, EMAIL);
  const absent = structuredClone(good);
  delete absent.verificationMaterial.timestampVerificationData;
  t.is(runDsse(absent).identity, EMAIL);
});

test('GHSA-cq38-jh5f-37mq: message bundles: 33 tlog entries or timestamps hit the caps; 32 are refused for other reasons', (t) => {
  const artifact = Buffer.from('release 2.0');
  const signed = pki.sign(artifact);
  const run = (b: Json) => verifier.verify({ artifact, bundle: b, policy });
  t.is(run(signed).identity, EMAIL);
  const entries = (n: number) => ({ ...structuredClone(signed), verificationMaterial: { ...structuredClone(signed.verificationMaterial), tlogEntries: many(n, () => structuredClone(signed.verificationMaterial.tlogEntries[0])) } });
  refuses(t, () => run(entries(33)), 'BUNDLE', /verificationMaterial\.tlogEntries: more than 32 items$/);
  refuses(t, () => run(entries(32)), 'BUNDLE', /verificationMaterial\.tlogEntries: expected exactly one entry, got 32$/);
  const stamps = (n: number) => {
    const b = structuredClone(signed);
    b.verificationMaterial.timestampVerificationData = { rfc3161Timestamps: many(n, () => ({ signedTimestamp: 'AA==' })) };
    return b;
  };
  refuses(t, () => run(stamps(33)), 'BUNDLE', /rfc3161Timestamps: more than 32 items$/);
  refuses(t, () => run(stamps(32)), 'BUNDLE', /rfc3161Timestamps: RFC 3161 timestamps are not supported$/);
});
