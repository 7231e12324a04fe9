/**
 * Rekor-face rows of SECURITY-ADVISORIES.md that had no test able to fail (or no code), each over HTTP against
 * the real router on loopback: GHSA-843x-px86-vq42 (malformed keys are 400s, never 500s, inline or on the worker
 * pool), rekor#823 (bounded verifier and signature lists in dsse / intoto), the intoto v0.0.2 `content.hash`
 * observation (the envelope hash is the client's claim, copied as upstream; the log vouches only for the payload
 * hash and the signatures it verified), GHSA-4c4x-jm2x-pf9j (index search never takes a key URL, even beside a
 * key) and rekor#2895 (an impossible tree id is a 400, never a 500).
 */
import test from 'ava';
import fc from 'fast-check';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash, sign } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier, Certificate, Name, SubjectPublicKeyInfo, TBSCertificate, Validity, Version,
} from '@peculiar/asn1-x509';
import { derToPem } from '../../core/pem.ts';
import { generateSigner, type Signer } from '../../core/signer.ts';
import { rekorIndexKeys } from '../../log/kinds/index-keys.ts';
import { TREE_ID, postEntry, startInlineAndPooledRekor, startRekor } from './rekor-server.ts';

const TYPE = 'application/vnd.in-toto+json';
const pae = (p: Buffer) => Buffer.concat([Buffer.from(`DSSEv1 ${TYPE.length} ${TYPE} ${p.length} `), p]);
const b64 = (b: Buffer | string) => Buffer.from(b).toString('base64');
const keyPem = (s: Signer) => s.publicKey.export({ type: 'spki', format: 'pem' }).toString();
const payload = Buffer.from('{"_type":"https://in-toto.io/Statement/v1"}');

/** A certificate OpenSSL parses but whose key it cannot decode: its SPKI names an unknown algorithm. */
function certificateWithUndecodableKey(): Buffer {
  const ca = generateSigner();
  const alg = new AlgorithmIdentifier({ algorithm: '1.2.840.10045.4.3.2' });
  const tbs = new TBSCertificate({
    version: Version.v3, serialNumber: new Uint8Array([1, 7]).buffer, signature: alg, issuer: new Name([]), subject: new Name([]),
    validity: new Validity({ notBefore: new Date('2024-01-01T00:00:00Z'), notAfter: new Date('2034-01-01T00:00:00Z') }),
    subjectPublicKeyInfo: new SubjectPublicKeyInfo({ algorithm: new AlgorithmIdentifier({ algorithm: '1.2.3.4.5.6' }), subjectPublicKey: new Uint8Array(65).fill(4).buffer }),
  });
  const signature = ca.sign(Buffer.from(AsnConvert.serialize(tbs)));
  return Buffer.from(AsnConvert.serialize(new Certificate({ tbsCertificate: tbs, signatureAlgorithm: alg, signatureValue: Uint8Array.from(signature).buffer })));
}

const hashedrekord = (pem: string, s = generateSigner(), data = Buffer.from('artifact')) => ({
  apiVersion: '0.0.1', kind: 'hashedrekord',
  spec: { signature: { content: b64(s.sign(data)), publicKey: { content: b64(pem) } }, data: { hash: { algorithm: 'sha256', value: createHash('sha256').update(data).digest('hex') } } },
});
const dsse = (signers: Signer[], verifiers: string[]) => ({
  apiVersion: '0.0.1', kind: 'dsse',
  spec: { proposedContent: { envelope: JSON.stringify({ payload: b64(payload), payloadType: TYPE, signatures: signers.map((s) => ({ sig: b64(s.sign(pae(payload))) })) }), verifiers: verifiers.map(b64) } },
});
/** intoto v0.0.2 as upstream Rekor takes it: payload and sig base64 twice, the client's envelope hash. */
const ENVELOPE_HASH = { algorithm: 'sha256', value: 'e5'.repeat(32) };
const intoto = (sigs: { signer: Signer; pem: string }[], content: Record<string, unknown> = { hash: ENVELOPE_HASH }) => ({
  apiVersion: '0.0.2', kind: 'intoto',
  spec: { content: { envelope: { payload: b64(b64(payload)), payloadType: TYPE, signatures: sigs.map(({ signer, pem }) => ({ sig: b64(b64(signer.sign(pae(payload)))), publicKey: b64(pem) })) }, ...content } },
});

async function json(res: Response): Promise<{ code: number; message: string }> {
  return res.json() as Promise<{ code: number; message: string }>;
}

test('GHSA-843x-px86-vq42: a certificate whose key cannot be decoded is a 400 naming the field, inline and on the worker pool', async (t) => {
  const bad = derToPem(certificateWithUndecodableKey());
  const signer = generateSigner();
  const cases: [unknown, RegExp][] = [
    [hashedrekord(bad), /^spec\.signature\.publicKey\.content holds a certificate whose public key cannot be parsed/],
    [dsse([signer], [bad]), /^spec\.proposedContent\.verifiers\[0\] holds a certificate whose public key cannot be parsed/],
    [dsse([signer], [keyPem(signer), bad]), /^spec\.proposedContent\.verifiers\[1\] holds a certificate/],
    [intoto([{ signer, pem: bad }]), /^spec\.content\.envelope\.signatures\[0\]\.publicKey holds a certificate/],
  ];
  const rekor = await startInlineAndPooledRekor();
  t.teardown(rekor.close);
  const [inlineUrl, pooledUrl] = rekor.urls;
  for (const url of rekor.urls) {
    for (const [body, message] of cases) {
      const res = await postEntry(url, body);
      const err = await json(res);
      t.is(res.status, 400, err.message);
      t.regex(err.message, message);
    }
  }
  t.deepEqual(rekor.logs.map((l) => l.size()), [0, 0]);
  // and the index keys of a stored body never throw on such a certificate either
  t.notThrows(() => rekorIndexKeys(Buffer.from(JSON.stringify({ spec: { signature: { publicKey: { content: b64(bad) } } } }))));
  // a good entry still goes in through both
  t.is((await postEntry(inlineUrl, hashedrekord(keyPem(signer), signer))).status, 201);
  t.is((await postEntry(pooledUrl, hashedrekord(keyPem(signer), signer))).status, 201);
});

test('rekor#823: dsse verifiers and signatures, and intoto signatures, are bounded (16); at the bound they are accepted', async (t) => {
  const r = await startRekor();
  t.teardown(r.close);
  const signers = Array.from({ length: 17 }, () => generateSigner());
  const pems = signers.map(keyPem);
  const refused: [unknown, RegExp][] = [
    [dsse([signers[0]!], pems), /^spec\.proposedContent\.verifiers: more than 16/],
    [dsse(signers, pems.slice(0, 16)), /^envelope\.signatures: more than 16/],
    [dsse(Array(17).fill(signers[0]!), [pems[0]!]), /^envelope\.signatures: more than 16/],
    [intoto(signers.map((signer, i) => ({ signer, pem: pems[i]! }))), /^spec\.content\.envelope\.signatures: more than 16/],
  ];
  for (const [body, message] of refused) {
    const res = await postEntry(r.url, body);
    const err = await json(res);
    t.is(res.status, 400, err.message);
    t.regex(err.message, message);
  }
  t.is(r.log.size(), 0);
  t.is((await postEntry(r.url, dsse([signers[0]!], pems.slice(0, 16)))).status, 201);
  t.is((await postEntry(r.url, dsse(signers.slice(0, 16), pems.slice(0, 16)))).status, 201);
  t.is((await postEntry(r.url, intoto(signers.slice(0, 16).map((signer, i) => ({ signer, pem: pems[i]! }))))).status, 201);
  t.is(r.log.size(), 3);
});

test('intoto v0.0.2 observation: content.hash is the client\'s, copied as upstream does and shape-checked; payloadHash and every signature are the log\'s checks', async (t) => {
  const r = await startRekor();
  t.teardown(r.close);
  const signer = generateSigner();
  const pem = keyPem(signer);
  const payloadHash = { algorithm: 'sha256', value: createHash('sha256').update(payload).digest('hex') };
  const bodyOf = async (res: Response) => JSON.parse(Buffer.from(Object.values(await res.json() as Record<string, { body: string }>)[0]!.body, 'base64').toString());

  // upstream's Canonicalize refuses an entry without the envelope digest (there a 500); here a 400 naming it
  const missing = await postEntry(r.url, intoto([{ signer, pem }], {}));
  t.is(missing.status, 400);
  t.regex((await json(missing)).message, /^spec\.content\.hash is required/);
  const malformed: [unknown, RegExp][] = [
    [{ algorithm: 'sha512', value: 'ab'.repeat(32) }, /^spec\.content\.hash\.algorithm must be sha256/],
    [{ algorithm: 'sha256', value: 'AB'.repeat(32) }, /^spec\.content\.hash\.value must be lower-case hex/],
    [{ algorithm: 'sha256', value: 'any free text' }, /^spec\.content\.hash\.value must be 64 hex characters/],
    [{ algorithm: 'sha256' }, /^spec\.content\.hash\.value is required/],
  ];
  for (const [hash, message] of malformed) {
    const res = await postEntry(r.url, intoto([{ signer, pem }], { hash }));
    t.is(res.status, 400);
    t.regex((await json(res)).message, message);
  }
  // a well-formed hash does not carry a signature that does not verify
  const forged = intoto([{ signer, pem }]);
  forged.spec.content.envelope.signatures[0]!.sig = b64(b64(signer.sign(Buffer.from('something else'))));
  t.is((await postEntry(r.url, forged)).status, 400);
  t.is(r.log.size(), 0);

  // the same envelope under two client hashes is two entries, each body holding the client's value, while the
  // payload hash is always the log's (a made-up one is replaced, as upstream's Unmarshal does)
  const one = intoto([{ signer, pem }]);
  const a = await postEntry(r.url, { ...one, spec: { content: { ...one.spec.content, hash: { algorithm: 'sha256', value: '0a'.repeat(32) }, payloadHash: { algorithm: 'sha256', value: '00'.repeat(32) } } } });
  const b = await postEntry(r.url, { ...one, spec: { content: { ...one.spec.content, hash: { algorithm: 'sha256', value: '0b'.repeat(32) } } } });
  t.deepEqual([a.status, b.status], [201, 201]);
  const [bodyA, bodyB] = [await bodyOf(a), await bodyOf(b)];
  t.deepEqual(bodyA.spec.content.hash, { algorithm: 'sha256', value: '0a'.repeat(32) });
  t.deepEqual(bodyB.spec.content.hash, { algorithm: 'sha256', value: '0b'.repeat(32) });
  t.deepEqual(bodyA.spec.content.payloadHash, payloadHash);
  t.deepEqual(bodyB.spec.content.payloadHash, payloadHash);
  t.deepEqual(bodyA.spec.content.envelope, bodyB.spec.content.envelope);
});

test('GHSA-4c4x-jm2x-pf9j: index search refuses publicKey.url even beside a valid key, and never fetches it', async (t) => {
  const { startIndexedRekor } = await import('../log/rekor-server.ts');
  const { tempDbPath } = await import('../log-engine/temp-dir.ts');
  const r = await startIndexedRekor(tempDbPath(t));
  t.teardown(r.close);
  let hits = 0;
  const trap = http.createServer((_req, res) => { hits++; res.end(keyPem(generateSigner())); });
  await new Promise<void>((resolve) => trap.listen(0, '127.0.0.1', resolve));
  t.teardown(() => trap.close());
  const url = `http://127.0.0.1:${(trap.address() as AddressInfo).port}/key.pem`;
  const signer = generateSigner();
  t.is((await postEntry(r.url, hashedrekord(keyPem(signer), signer))).status, 201);
  const search = (q: unknown) => fetch(`${r.url}/api/v1/index/retrieve`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(q) });
  const content = b64(keyPem(signer));
  for (const q of [{ publicKey: { format: 'x509', content, url } }, { publicKey: { format: 'x509', url } }]) {
    const res = await search(q);
    const err = await json(res);
    t.is(res.status, 400, err.message);
    t.regex(err.message, /^query\.publicKey\.url is not supported/);
  }
  // GHSA-843x-px86-vq42 on the search face: a certificate whose key cannot be decoded is a 400, not a 500
  const undecodable = await search({ publicKey: { format: 'x509', content: b64(derToPem(certificateWithUndecodableKey())) } });
  t.is(undecodable.status, 400);
  t.regex((await json(undecodable)).message, /^query\.publicKey\.content holds a certificate whose public key cannot be parsed/);
  const ok = await search({ publicKey: { format: 'x509', content } });
  t.is((await ok.json() as string[]).length, 1, 'the same key without a url finds the entry');
  // a request of our own to the trap: any stray fetch by the log would have arrived before it
  await fetch(url).then((res) => res.text());
  t.is(hits, 1);
});

test('rekor#2895: a treeID that is not a positive int64 is a 400 on proof and publicKey, never a 500', async (t) => {
  const r = await startRekor();
  t.teardown(r.close);
  const signer = generateSigner();
  t.is((await postEntry(r.url, hashedrekord(keyPem(signer), signer))).status, 201);
  t.is((await postEntry(r.url, hashedrekord(keyPem(signer), signer, Buffer.from('second')))).status, 201);
  const bad = ['9223372036854775808', '9999999999999999999', '0', '0000000000000000000', '18446744073709551615', '-1', '1e3', `0x${BigInt(TREE_ID).toString(16)}`];
  for (const id of bad) {
    for (const path of [`/api/v1/log/proof?firstSize=1&lastSize=2&treeID=${id}`, `/api/v1/log/publicKey?treeID=${id}`]) {
      const res = await fetch(`${r.url}${path}`);
      const err = await json(res);
      t.is(res.status, 400, `${path}: ${err.message}`);
      t.regex(err.message, /treeID|tree .* is not served/, path);
    }
  }
  // the largest int64 is well formed, just not ours; our own id (also with leading zeros trimmed) still works
  t.is((await fetch(`${r.url}/api/v1/log/publicKey?treeID=9223372036854775807`)).status, 400);
  t.is((await fetch(`${r.url}/api/v1/log/proof?firstSize=1&lastSize=2&treeID=${TREE_ID}`)).status, 200);
});

/** `base` with `value` put at `path` (replacing it, or as an extra field beside it). */
function edit(base: unknown, path: (string | number)[], value: unknown, replace: boolean): any {
  if (path.length === 0) return value;
  const copy: any = structuredClone(base);
  let node = copy;
  for (const k of path.slice(0, -1)) node = node[k];
  const last = path[path.length - 1]!;
  if (!replace && typeof node[last] === 'object' && node[last] !== null && !Array.isArray(node[last])) node[last].extra = value;
  else node[last] = value;
  return copy;
}

test('GHSA-843x-px86-vq42 / GHSA-frqx-jfcm-6jjr / GHSA-273p-m2cw-6833 / rekor#1923: any JSON anywhere in a dsse or intoto entry is a 201, 400 or 409, never a 5xx', async (t) => {
  const r = await startRekor();
  t.teardown(r.close);
  const signer = generateSigner();
  const pem = keyPem(signer);
  const sig = b64(signer.sign(pae(payload)));
  // dsse carries its envelope as JSON text: it is edited as an object, then written out (unless replaced by a non-object)
  const dsseBase = { apiVersion: '0.0.1', kind: 'dsse', spec: { proposedContent: { envelope: { payload: b64(payload), payloadType: TYPE, signatures: [{ keyid: '', sig }] }, verifiers: [b64(pem)] } } };
  const env = ['spec', 'proposedContent', 'envelope'];
  const dssePaths = [[], ['spec'], ['spec', 'proposedContent'], env, ['spec', 'proposedContent', 'verifiers'], ['spec', 'proposedContent', 'verifiers', 0],
    [...env, 'payload'], [...env, 'payloadType'], [...env, 'signatures'], [...env, 'signatures', 0], [...env, 'signatures', 0, 'sig'], [...env, 'signatures', 0, 'keyid']];
  const intotoBase = intoto([{ signer, pem }]);
  const ie = ['spec', 'content', 'envelope'];
  const intotoPaths = [['spec'], ['spec', 'content'], ie, [...ie, 'payload'], [...ie, 'payloadType'], [...ie, 'signatures'], [...ie, 'signatures', 0],
    [...ie, 'signatures', 0, 'sig'], [...ie, 'signatures', 0, 'publicKey'], [...ie, 'signatures', 0, 'keyid'], ['spec', 'content', 'hash'], ['spec', 'content', 'payloadHash']];
  const post = async (body: unknown) => {
    const res = await postEntry(r.url, JSON.stringify(body));
    await res.arrayBuffer();
    return [201, 400, 409].includes(res.status);
  };
  const value = fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.constantFrom(null, '', [], {}, [null], 0, -1, 'AAAA', sig, b64(pem)));
  await t.notThrowsAsync(fc.assert(fc.asyncProperty(fc.constantFrom(...dssePaths), value, fc.boolean(), async (path, v, replace) => {
    const e = edit(dsseBase, path, v, replace);
    const pc = e?.spec?.proposedContent;
    if (pc && typeof pc === 'object' && typeof pc.envelope === 'object' && pc.envelope !== null) pc.envelope = JSON.stringify(pc.envelope);
    return post(e);
  }), { numRuns: 250 }));
  await t.notThrowsAsync(fc.assert(fc.asyncProperty(fc.constantFrom(...intotoPaths), value, fc.boolean(), async (path, v, replace) => post(edit(intotoBase, path, v, replace))), { numRuns: 250 }));
});
