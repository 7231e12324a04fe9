import test from 'ava';
import { createHash, verify } from 'node:crypto';
import { generateSigner, type Signer } from '../../core/signer.ts';
import { ext, TestPki } from '../client/pki-fixture.ts';
import { derToPem } from '../../core/pem.ts';
import { tempDbPath } from '../log-engine/temp-dir.ts';
import { post, startIndexedRekor } from './rekor-server.ts';

const statement = Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', subject: [{ name: 'a', digest: { sha256: 'ab'.repeat(32) } }], predicateType: 'x', predicate: {} }));
const TYPE = 'application/vnd.in-toto+json';
const pae = (p: Buffer) => Buffer.concat([Buffer.from(`DSSEv1 ${TYPE.length} ${TYPE} ${p.length} `), p]);

/** Base64 twice, as upstream Rekor reads `payload` and `sig` (go-swagger decodes once, the DSSE code again). */
const b64twice = (b: Buffer) => Buffer.from(b.toString('base64')).toString('base64');
const ENVELOPE_HASH = { algorithm: 'sha256', value: 'e5'.repeat(32) }; // a client's claim, copied as upstream

function entry(signers: { signer: Signer; pem: string }[], payload = statement, extra: Record<string, unknown> = { hash: ENVELOPE_HASH }) {
  return {
    kind: 'intoto', apiVersion: '0.0.2',
    spec: { content: { envelope: { payload: b64twice(payload), payloadType: TYPE, signatures: signers.map(({ signer, pem }) => ({ sig: b64twice(signer.sign(pae(payload))), publicKey: Buffer.from(pem).toString('base64') })) }, ...extra } },
  };
}

test('intoto v0.0.2: every signature verified; the body keeps the envelope without payload, sig still double-encoded, the client hash and the log\'s payload hash', async (t) => {
  const rekor = await startIndexedRekor(tempDbPath(t));
  t.teardown(rekor.close);
  const keySigner = generateSigner();
  const certSigner = generateSigner();
  const signers = [
    { signer: keySigner, pem: keySigner.publicKey.export({ type: 'spki', format: 'pem' }).toString() },
    { signer: certSigner, pem: derToPem(new TestPki().leaf(certSigner)) },
  ];
  // a payloadHash the client made up is replaced by the log's, as upstream's Unmarshal does
  const sent = entry(signers, statement, { hash: ENVELOPE_HASH, payloadHash: { algorithm: 'sha256', value: '00'.repeat(32) } });
  const res = await post(rekor.url, '/api/v1/log/entries', sent);
  t.is(res.status, 201);
  const [anon] = Object.values(await res.json() as Record<string, { body: string }>);
  const body = JSON.parse(Buffer.from(anon!.body, 'base64').toString());
  t.deepEqual(body, {
    apiVersion: '0.0.2', kind: 'intoto',
    spec: { content: {
      envelope: { payloadType: TYPE, signatures: sent.spec.content.envelope.signatures },
      hash: ENVELOPE_HASH,
      payloadHash: { algorithm: 'sha256', value: createHash('sha256').update(statement).digest('hex') },
    } },
  });
  // the stored sig reads back as @sigstore/verify reads it: two decodes give the signature bytes
  const stored = Buffer.from(Buffer.from(body.spec.content.envelope.signatures[0].sig, 'base64').toString(), 'base64');
  t.true(verify('sha256', pae(statement), keySigner.publicKey, stored));
  const found = await post(rekor.url, '/api/v1/index/retrieve', { email: 'alice@example.com' });
  t.is((await found.json() as string[]).length, 1, 'indexed by the certificate identity');

  // one bad signature among good ones, null fields: 400, nothing appended
  const forged = entry(signers);
  (forged.spec.content.envelope.signatures[1] as { sig: string }).sig = b64twice(keySigner.sign(Buffer.from('other')));
  const nulls = { kind: 'intoto', apiVersion: '0.0.2', spec: { content: { envelope: { payload: b64twice(Buffer.from('{}')), payloadType: TYPE, signatures: [null] }, hash: ENVELOPE_HASH } } };
  const empty = { kind: 'intoto', apiVersion: '0.0.2', spec: { content: null } };
  for (const bad of [forged, nulls, empty]) t.is((await post(rekor.url, '/api/v1/log/entries', bad)).status, 400);
  t.is(rekor.log.size(), 1);
});

test('an entry whose canonical body would not fit a tlog-tiles entry bundle (over 65,535 bytes) is a 413, nothing appended', async (t) => {
  const rekor = await startIndexedRekor(tempDbPath(t));
  t.teardown(rekor.close);
  // 12 signers (the kind allows 16) whose certificates carry a 3.5 KB extension: a ~90 KB request, under the
  // 128 KiB body limit, whose canonical body keeps every certificate
  const pki = new TestPki();
  const signers = Array.from({ length: 12 }, () => {
    const signer = generateSigner();
    return { signer, pem: derToPem(pki.leaf(signer, { extraExtensions: [ext('1.3.6.1.4.1.99999.1', false, Buffer.alloc(3500, 7))] })) };
  });
  const res = await post(rekor.url, '/api/v1/log/entries', entry(signers));
  const body = await res.json() as { message: string };
  t.is(res.status, 413, body.message);
  t.regex(body.message, /at most 65535 bytes/);
  t.is(rekor.log.size(), 0);
  t.is((await post(rekor.url, '/api/v1/log/entries', entry(signers.slice(0, 2)))).status, 201);
});
