/**
 * A string holding a lone surrogate (JSON's `\ud800` escape decodes to one) has no UTF-8 form: RFC 8785 forbids it
 * in canonical JSON and Go's decoder reads U+FFFD instead, so a body keeping it could never be rebuilt or hashed
 * by a Rekor client as the log did. Such entries are 400s naming the field, inline and on the worker pool, and
 * nothing is appended, including where the string is not covered by any signature (a DSSE keyid).
 */
import test from 'ava';
import { generateSigner, type Signer } from '../../core/signer.ts';
import { canonicalJson } from '../../log/kinds/canonical-json.ts';
import { postEntry, startInlineAndPooledRekor } from '../rekor/rekor-server.ts';

const TYPE = 'application/vnd.in-toto+json';
const payload = Buffer.from('{"_type":"https://in-toto.io/Statement/v1"}');
const pae = (type: string, p: Buffer) => Buffer.concat([Buffer.from(`DSSEv1 ${Buffer.byteLength(type)} `), Buffer.from(type), Buffer.from(` ${p.length} `), p]);
const b64 = (b: Buffer | string) => Buffer.from(b).toString('base64');
const keyPem = (s: Signer) => s.publicKey.export({ type: 'spki', format: 'pem' }).toString();

function intoto(signer: Signer, o: { keyid?: string; type?: string } = {}) {
  const type = o.type ?? TYPE;
  // payload and sig base64 twice, and the client's envelope hash, as upstream Rekor's intoto v0.0.2 takes them
  const sig = { sig: b64(b64(signer.sign(pae(type, payload)))), publicKey: b64(keyPem(signer)), ...(o.keyid === undefined ? {} : { keyid: o.keyid }) };
  const hash = { algorithm: 'sha256', value: 'ab'.repeat(32) };
  return { apiVersion: '0.0.2', kind: 'intoto', spec: { content: { envelope: { payload: b64(b64(payload)), payloadType: type, signatures: [sig] }, hash } } };
}

function dsse(signer: Signer, o: { keyid?: string; type?: string } = {}) {
  const type = o.type ?? TYPE;
  const envelope = { payload: b64(payload), payloadType: type, signatures: [{ keyid: o.keyid ?? '', sig: b64(signer.sign(pae(type, payload))) }] };
  return { apiVersion: '0.0.1', kind: 'dsse', spec: { proposedContent: { envelope: JSON.stringify(envelope), verifiers: [b64(keyPem(signer))] } } };
}

test('lone surrogates in intoto and dsse entries are 400s naming the field, inline and on the worker pool; nothing is appended', async (t) => {
  const signer = generateSigner();
  const cases: [string, unknown, RegExp][] = [
    ['intoto keyid (not signed)', intoto(signer, { keyid: 'k\ud800' }), /^spec\.content\.envelope\.signatures\[0\]\.keyid is not valid Unicode/],
    ['intoto payloadType (signed)', intoto(signer, { type: 'a\ud800b' }), /^spec\.content\.envelope\.payloadType is not valid Unicode/],
    ['dsse keyid (not signed)', dsse(signer, { keyid: '\udc00k' }), /keyid is not valid Unicode/],
    ['dsse payloadType (signed)', dsse(signer, { type: 'a\ud800b' }), /payloadType is not valid Unicode/],
  ];
  const rekor = await startInlineAndPooledRekor();
  t.teardown(rekor.close);
  for (const url of rekor.urls) {
    for (const [what, body, message] of cases) {
      const res = await postEntry(url, body);
      const err = await res.json() as { message: string };
      t.is(res.status, 400, `${what}: ${err.message}`);
      t.regex(err.message, message, what);
    }
  }
  t.deepEqual(rekor.logs.map((l) => l.size()), [0, 0]);
  // the same entries with well-formed strings (a surrogate pair included) go in
  t.is((await postEntry(rekor.urls[0], intoto(signer, { keyid: 'k😀' }))).status, 201);
  t.is((await postEntry(rekor.urls[1], dsse(signer, { type: 'application/vnd.in-toto+json; x=😀' }))).status, 201);
});

test('canonical JSON refuses a lone surrogate anywhere, as RFC 8785 requires, and keeps escaped backslashes and pairs', (t) => {
  for (const bad of [{ a: 'x\ud800' }, { a: ['\udfff'] }, { ['k\ud800']: 1 }, { a: '\\\ud800' }]) {
    t.throws(() => canonicalJson(bad), { message: /not valid Unicode/ }, JSON.stringify(bad));
  }
  t.is(canonicalJson({ a: '\\ud800' }).toString(), '{"a":"\\\\ud800"}'); // a backslash then "ud800": six characters
  t.is(canonicalJson({ a: '😀', b: '\u0001' }).toString(), '{"a":"😀","b":"\\u0001"}');
});
