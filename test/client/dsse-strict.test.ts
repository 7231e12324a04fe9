/**
 * DSSE bundles (dsse 0.0.1 and intoto 0.0.2 entries), from a review that mutated real bundles and compared our
 * verifier with @sigstore/verify: the logged certificate must be exactly one PEM block (text around it, or a second
 * key, was read past); the logged keyid of an intoto entry must be the envelope's; statement fields must have their
 * in-toto types and a subject is returned as signed; a sharded log's bundle (proof index below the global index, as
 * after `log rotate`) verifies as a message-signature bundle does.
 */
import test from 'ava';
import { createHash } from 'node:crypto';
import { VerificationError } from '../../core/errors.ts';
import { derToPem } from '../../core/pem.ts';
import { generateSigner, type Signer } from '../../core/signer.ts';
import { parseTrustedRoot } from '../../client/trusted-root.ts';
import { verifyDsseBundle } from '../../client/verify/dsse-bundle.ts';
import { canonicalize } from '../../client/verify/tlog-body.ts';
import { EMAIL, ISSUER, TestPki } from './pki-fixture.ts';

const TYPE = 'application/vnd.in-toto+json';
const PREDICATE = 'https://example.com/predicate/v1';
const SUBJECT = 'ab'.repeat(32);
const pki = new TestPki();
const trust = parseTrustedRoot(pki.trustedRoot());
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest();
const b64 = (b: Buffer | string) => Buffer.from(b).toString('base64');
const pae = (p: Buffer) => Buffer.concat([Buffer.from(`DSSEv1 ${TYPE.length} ${TYPE} ${p.length} `), p]);
const statement = (o: Record<string, unknown> = {}) => Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', subject: [{ name: 'a', digest: { sha256: SUBJECT } }], predicateType: PREDICATE, predicate: { n: 1 }, ...o }));

interface Signed { signer: Signer; leafDer: Buffer; payload: Buffer; sig: Buffer }
function signed(payload = statement()): Signed {
  const signer = generateSigner();
  return { signer, leafDer: pki.leaf(signer), payload, sig: signer.sign(pae(payload)) };
}
const envelope = (s: Signed, keyid?: unknown) => ({ payload: b64(s.payload), payloadType: TYPE, signatures: [{ ...(keyid === undefined ? {} : { keyid }), sig: b64(s.sig) }] });

function intotoBody(s: Signed, o: { keyid?: string; pem?: string } = {}): Buffer {
  return Buffer.from(canonicalize({ apiVersion: '0.0.2', kind: 'intoto', spec: { content: {
    envelope: { payloadType: TYPE, signatures: [{ ...(o.keyid === undefined ? {} : { keyid: o.keyid }), publicKey: b64(o.pem ?? derToPem(s.leafDer)), sig: b64(b64(s.sig)) }] },
    hash: { algorithm: 'sha256', value: 'e5'.repeat(32) },
    payloadHash: { algorithm: 'sha256', value: sha256(s.payload).toString('hex') },
  } } })!);
}
function dsseBody(s: Signed, pem = derToPem(s.leafDer)): Buffer {
  return Buffer.from(canonicalize({ apiVersion: '0.0.1', kind: 'dsse', spec: {
    envelopeHash: { algorithm: 'sha256', value: sha256(Buffer.from(JSON.stringify(envelope(s)))).toString('hex') },
    payloadHash: { algorithm: 'sha256', value: sha256(s.payload).toString('hex') },
    signatures: [{ signature: b64(s.sig), verifier: b64(pem) }],
  } })!);
}

/** A DSSE bundle of `env` whose one tlog entry logs `body` (the test log signs whatever it is given). */
function bundle(s: Signed, body: Buffer, kind: 'dsse' | 'intoto', env: unknown = envelope(s)) {
  const b = pki.sign(Buffer.from('x'), { leafSigner: s.signer, leafDer: s.leafDer, signature: s.sig, body: () => body });
  delete b.messageSignature;
  b.verificationMaterial.tlogEntries[0].kindVersion = kind === 'dsse' ? { kind: 'dsse', version: '0.0.1' } : { kind: 'intoto', version: '0.0.2' };
  b.dsseEnvelope = env;
  return b;
}
const verify = (b: unknown) => verifyDsseBundle(trust, Buffer.from(JSON.stringify(b)), { sha256: SUBJECT, predicateType: PREDICATE }, { identity: EMAIL, issuer: ISSUER });

test('the logged certificate must be exactly one PEM block: text around it or another key beside it is refused', (t) => {
  const s = signed();
  const pem = derToPem(s.leafDer);
  const other = generateSigner().publicKey.export({ type: 'spki', format: 'pem' }).toString();
  t.notThrows(() => verify(bundle(s, intotoBody(s), 'intoto')));
  t.notThrows(() => verify(bundle(s, dsseBody(s), 'dsse')));
  for (const text of [`junk\n${pem}junk`, other + pem, pem + other, pem.replace('\n-----END', '====QUJD\n-----END'), pem.replace(/\n(?!-----END|$)/g, ' ')]) {
    for (const b of [bundle(s, intotoBody(s, { pem: text }), 'intoto'), bundle(s, dsseBody(s, text), 'dsse')]) {
      const err = t.throws(() => verify(b), { instanceOf: VerificationError });
      t.is(err!.code, 'TLOG_BODY');
    }
  }
});

test('intoto: the logged keyid must be the envelope\'s, and both must be strings; an empty logged keyid is not Rekor\'s', (t) => {
  const s = signed();
  t.notThrows(() => verify(bundle(s, intotoBody(s, { keyid: 'alice' }), 'intoto', envelope(s, 'alice'))));
  const cases: [Buffer, unknown][] = [
    [intotoBody(s, { keyid: 'mallory' }), envelope(s, 'alice')],
    [intotoBody(s, { keyid: 'alice' }), envelope(s)],
    [intotoBody(s), envelope(s, 'alice')],
    [intotoBody(s, { keyid: '' }), envelope(s)],
    [intotoBody(s), envelope(s, 42)],
    [intotoBody(s), envelope(s, null)],
  ];
  for (const [body, env] of cases) t.throws(() => verify(bundle(s, body, 'intoto', env)), { instanceOf: VerificationError });
});

test('statement fields must have their in-toto types; a subject is returned as it was signed', (t) => {
  for (const bad of [
    { subject: [{ name: 42, digest: { sha256: SUBJECT } }] },
    { subject: [{ name: 'a', uri: 7, digest: { sha256: SUBJECT } }] },
    { subject: [{ name: 'a', annotations: 'x', digest: { sha256: SUBJECT } }] },
    { subject: [{ name: 'a', digest: { sha256: SUBJECT } }, { name: 'b', digest: {} }] },
    { predicate: 'x' },
  ]) {
    const s = signed(statement(bad));
    const err = t.throws(() => verify(bundle(s, intotoBody(s), 'intoto')), { instanceOf: VerificationError }, JSON.stringify(bad));
    t.is(err!.code, 'STATEMENT');
  }
  const subject = { name: 'pkg', uri: 'pkg:oci/app', annotations: { k: 'v' }, digest: { sha256: SUBJECT } };
  const s = signed(statement({ subject: [subject] }));
  t.deepEqual(verify(bundle(s, intotoBody(s), 'intoto')).statement.subject, [subject]);
});

test('a sharded log\'s DSSE bundle (proof index below the global log index the SET covers) verifies; a proof index above it does not', (t) => {
  const s = signed();
  const shard = (b: any, offset: number) => {
    const e = b.verificationMaterial.tlogEntries[0];
    const global = Number(e.inclusionProof.logIndex) + offset;
    e.logIndex = String(global);
    e.inclusionPromise.signedEntryTimestamp = pki.setFor(Buffer.from(e.canonicalizedBody, 'base64'), Number(e.integratedTime), global).toString('base64');
    return b;
  };
  t.notThrows(() => verify(shard(bundle(s, intotoBody(s), 'intoto'), 1000)));
  t.throws(() => verify(shard(bundle(s, dsseBody(s), 'dsse'), -1)), { instanceOf: VerificationError });
});
