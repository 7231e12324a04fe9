/**
 * intoto v0.0.2 on the wire as upstream Rekor reads it, with the stock sigstore-js code as the oracle: its
 * toProposedEntry(…, 'intoto') builds the proposal (payload and sig base64 twice, its own envelope hash), our
 * Rekor face accepts it, and @sigstore/verify's tlog body check passes on the body we stored. End to end, its
 * DSSEBundleBuilder signs through our Fulcio and logs through RekorWitness({ entryType: 'intoto' }), and both
 * its Verifier and ours accept the bundle. Single-encoded fields and tampered signatures are 400s.
 */
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import test from 'ava';
import { bundleFromJSON, bundleToJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { DSSEBundleBuilder, FulcioSigner, RekorWitness, type SignatureBundle } from '@sigstore/sign';
import { toProposedEntry } from '@sigstore/sign/dist/witness/tlog/entry.js';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import { DSSESignatureContent } from '@sigstore/verify/dist/bundle/dsse.js';
import { verifyIntotoTLogBody } from '@sigstore/verify/dist/tlog/intoto.js';
import { parseTrustedRoot } from '../../client/trusted-root.ts';
import { verifyDsseBundle } from '../../client/verify/dsse-bundle.ts';
import { parseIntotoBody } from '../../client/verify/intoto-body.ts';
import { preAuthEncoding } from '../../log/kinds/dsse-signature.ts';
import { postEntry, startRekor } from '../rekor/rekor-server.ts';
import { startStack, TEST_EMAIL } from '../helpers/stack.ts';

const TYPE = 'application/vnd.in-toto+json';
const sha256Hex = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const subject = 'ab'.repeat(32);
const PREDICATE = 'https://example.com/predicate/v1';
const statement = (n: number) => Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', subject: [{ name: 'a', digest: { sha256: subject } }], predicateType: PREDICATE, predicate: { n } }));

/** A managed-key DSSE envelope in sigstore-js's SignatureBundle shape, and the key's PEM. */
function signed(payload: Buffer, keyid = '') {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const sig = sign('sha256', preAuthEncoding(TYPE, payload), privateKey);
  const content = { $case: 'dsseEnvelope', dsseEnvelope: { payload, payloadType: TYPE, signatures: [{ sig, keyid }] } } as SignatureBundle;
  return { content, sig, pem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

type Json = Record<string, any>;
const bodyOf = async (res: Response): Promise<Json> => JSON.parse(Buffer.from(Object.values(await res.json() as Record<string, { body: string }>)[0]!.body, 'base64').toString());
const dsseOf = (content: SignatureBundle) => new DSSESignatureContent((content as Extract<SignatureBundle, { $case: 'dsseEnvelope' }>).dsseEnvelope);

test('sigstore-js toProposedEntry(…, "intoto") is accepted (201); the stored body is its proposal without the payload, and @sigstore/verify\'s body check passes', async (t) => {
  const r = await startRekor();
  t.teardown(r.close);
  for (const keyid of ['', 'key-1']) {
    const payload = statement(keyid.length);
    const { content, pem } = signed(payload, keyid);
    const proposal = toProposedEntry(content, pem, 'intoto') as Json;
    const res = await postEntry(r.url, proposal);
    t.is(res.status, 201, keyid);
    const body = await bodyOf(res);
    // what upstream stores: the envelope minus its payload, sig still double-encoded, the client's envelope hash
    const { payload: _omitted, ...envelope } = proposal.spec.content.envelope;
    t.deepEqual(body, { apiVersion: '0.0.2', kind: 'intoto', spec: { content: { ...proposal.spec.content, envelope } } });
    t.is(body.spec.content.payloadHash.value, sha256Hex(payload));
    t.notThrows(() => verifyIntotoTLogBody(body as never, dsseOf(content)));
    // the oracle is not a rubber stamp: another envelope's signature fails its check on this body
    t.throws(() => verifyIntotoTLogBody(body as never, dsseOf(signed(payload).content)), { message: /signature mismatch/ });
    // the same proposal again is the same canonical body: a duplicate
    t.is((await postEntry(r.url, proposal)).status, 409);
  }
  t.is(r.log.size(), 2);
});

test('client/verify reads an intoto body as upstream stores it: sig decoded twice, one signature, canonical JSON, known fields', async (t) => {
  const r = await startRekor();
  t.teardown(r.close);
  const payload = statement(3);
  const { content, sig, pem } = signed(payload, 'k');
  const res = await postEntry(r.url, toProposedEntry(content, pem, 'intoto'));
  t.is(res.status, 201);
  const body = await bodyOf(res);
  const logged = parseIntotoBody(Buffer.from(JSON.stringify(body)));
  t.deepEqual(logged, { kind: 'intoto 0.0.2', payloadType: TYPE, payloadHash: createHash('sha256').update(payload).digest(), signature: sig.toString('base64'), keyid: 'k', verifier: pem });
  const refused = (change: (b: Json) => void, message: RegExp, text?: (b: Json) => string) => {
    const b = structuredClone(body);
    change(b);
    const err = t.throws(() => parseIntotoBody(Buffer.from(text ? text(b) : JSON.stringify(b))));
    t.is((err as { code?: string }).code, 'TLOG_BODY');
    t.regex(err!.message, message);
  };
  const s0 = (b: Json) => b.spec.content.envelope.signatures[0];
  refused((b) => { s0(b).sig = Buffer.from(s0(b).sig, 'base64').toString(); }, /decoded once: the signature is base64-encoded twice/);
  refused((b) => { b.spec.content.envelope.signatures.push(s0(b)); }, /expected exactly one, got 2/);
  refused((b) => { b.spec.content.envelope.payload = 'e30='; }, /unknown field "payload"/);
  refused((b) => { delete b.spec.content.hash; }, /spec\.content\.hash: missing/);
  refused((b) => { b.kind = 'dsse'; }, /"dsse" is not supported/);
  refused(() => undefined, /not canonical JSON/, (b) => JSON.stringify(b, null, 1));
});

test('single-encoded payload or sig (the old Sigstack form) is a 400 saying so; a tampered signature is a 400; nothing is appended', async (t) => {
  const r = await startRekor();
  t.teardown(r.close);
  const payload = statement(7);
  // a signature whose base64 has a + or / (about 1 in 20 has neither, and its URL-safe text would be the same)
  let signature = signed(payload);
  while (!/[+/]/.test(signature.sig.toString('base64'))) signature = signed(payload);
  const { content, sig, pem } = signature;
  const good = toProposedEntry(content, pem, 'intoto') as Json;
  const edit = (change: (env: Json) => void): Json => {
    const e = structuredClone(good);
    change(e.spec.content.envelope);
    return e;
  };
  const flipped = Buffer.from(sig);
  flipped[flipped.length - 1] ^= 1;
  const twice = (b: Buffer) => Buffer.from(b.toString('base64')).toString('base64');
  const cases: [string, Json, RegExp][] = [
    ['payload once', edit((e) => { e.payload = payload.toString('base64'); }), /^spec\.content\.envelope\.payload must be base64 of the DSSE base64 text \(Rekor intoto v0\.0\.2 encodes it twice\)/],
    ['sig once', edit((e) => { e.signatures[0].sig = sig.toString('base64'); }), /^spec\.content\.envelope\.signatures\[0\]\.sig must be base64 of the DSSE base64 text/],
    ['sig three times', edit((e) => { e.signatures[0].sig = Buffer.from(twice(sig)).toString('base64'); }), /^spec\.content\.envelope\.signatures\[0\]: signature does not verify/],
    ['tampered sig', edit((e) => { e.signatures[0].sig = twice(flipped); }), /^spec\.content\.envelope\.signatures\[0\]: signature does not verify with its publicKey/],
    ['tampered payload', edit((e) => { e.payload = twice(statement(8)); }), /^spec\.content\.envelope\.signatures\[0\]: signature does not verify/],
    ['another key', edit((e) => { e.signatures[0].publicKey = Buffer.from(signed(payload).pem).toString('base64'); }), /signature does not verify with its publicKey/],
    ['URL-safe inner sig', edit((e) => { e.signatures[0].sig = Buffer.from(sig.toString('base64url')).toString('base64'); }), /sig must be base64 of the DSSE base64 text/],
  ];
  for (const [what, body, message] of cases) {
    const res = await postEntry(r.url, body);
    const err = await res.json() as { code: number; message: string };
    t.is(res.status, 400, `${what}: ${err.message}`);
    t.regex(err.message, message, what);
  }
  t.is(r.log.size(), 0);
  t.is((await postEntry(r.url, good)).status, 201, 'control: the untouched proposal goes in');
});

test('oracle: sigstore-js signs through the stack with an intoto entry; @sigstore/verify and our verifier accept the bundle, not a tampered one', async (t) => {
  const stack = await startStack();
  t.teardown(stack.close);
  const token = await stack.mintToken();
  const builder = new DSSEBundleBuilder({
    signer: new FulcioSigner({ fulcioBaseURL: stack.url, identityProvider: { getToken: async () => token } }),
    witnesses: [new RekorWitness({ rekorBaseURL: stack.url, entryType: 'intoto' })],
  });
  const bundle = bundleToJSON(await builder.create({ data: statement(1), type: TYPE })) as Json;
  const entry = bundle.verificationMaterial.tlogEntries[0];
  t.deepEqual(entry.kindVersion, { kind: 'intoto', version: '0.0.2' });
  const stock = new Verifier(toTrustMaterial(TrustedRoot.fromJSON(stack.trustedRoot)), { ctlogThreshold: 1, tlogThreshold: 1 });
  const policy = { subjectAlternativeName: TEST_EMAIL, extensions: { issuer: stack.issuer } };
  t.is(stock.verify(toSignedEntity(bundleFromJSON(bundle)), policy).identity?.subjectAlternativeName, TEST_EMAIL);
  const trust = parseTrustedRoot(stack.trustedRoot);
  const ours = verifyDsseBundle(trust, Buffer.from(JSON.stringify(bundle)), { sha256: subject, predicateType: PREDICATE }, { identity: TEST_EMAIL, issuer: stack.issuer });
  t.is(ours.identity, TEST_EMAIL);

  // the logged body rewritten to the single-encoded sig Sigstack used to store: both body checks refuse it (the
  // stock Verifier checks the SET first, which would hide this, so its body check is called directly)
  const body = JSON.parse(Buffer.from(entry.canonicalizedBody, 'base64').toString());
  const stored = bundleFromJSON(bundle).content as Extract<SignatureBundle, { $case: 'dsseEnvelope' }>;
  t.notThrows(() => verifyIntotoTLogBody(structuredClone(body), dsseOf(stored)), 'control: the body as logged');
  const sig0 = body.spec.content.envelope.signatures[0];
  sig0.sig = Buffer.from(sig0.sig, 'base64').toString();
  t.throws(() => verifyIntotoTLogBody(body, dsseOf(stored)), { message: /signature mismatch/ });
  const once = structuredClone(bundle);
  once.verificationMaterial.tlogEntries[0].canonicalizedBody = Buffer.from(JSON.stringify(body)).toString('base64');
  const err = t.throws(() => verifyDsseBundle(trust, Buffer.from(JSON.stringify(once)), { sha256: subject, predicateType: PREDICATE }, { identity: TEST_EMAIL, issuer: stack.issuer }));
  t.regex(err!.message, /sig \(decoded once: the signature is base64-encoded twice in an intoto entry\): not (standard|canonical) base64/);
});
