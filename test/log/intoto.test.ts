import test from 'ava';
import { createHash } from 'node:crypto';
import { generateSigner, type Signer } from '../../core/signer.ts';
import { ext, TestPki } from '../client/pki-fixture.ts';
import { derToPem } from '../../core/pem.ts';
import { tempDbPath } from '../log-engine/temp-dir.ts';
import { post, startIndexedRekor } from './rekor-server.ts';

const statement = Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', subject: [{ name: 'a', digest: { sha256: 'ab'.repeat(32) } }], predicateType: 'x', predicate: {} }));
const TYPE = 'application/vnd.in-toto+json';
const pae = (p: Buffer) => Buffer.concat([Buffer.from(`DSSEv1 ${TYPE.length} ${TYPE} ${p.length} `), p]);

function entry(signers: { signer: Signer; pem: string }[], payload = statement, extra: Record<string, unknown> = {}) {
  return {
    kind: 'intoto', apiVersion: '0.0.2',
    spec: { content: { envelope: { payload: payload.toString('base64'), payloadType: TYPE, signatures: signers.map(({ signer, pem }) => ({ sig: signer.sign(pae(payload)).toString('base64'), publicKey: Buffer.from(pem).toString('base64') })) }, ...extra } },
  };
}

test('intoto v0.0.2: every signature verified; the body keeps the envelope without payload and hashes computed by the log', async (t) => {
  const rekor = await startIndexedRekor(tempDbPath(t));
  t.teardown(rekor.close);
  const keySigner = generateSigner();
  const certSigner = generateSigner();
  const signers = [
    { signer: keySigner, pem: keySigner.publicKey.export({ type: 'spki', format: 'pem' }).toString() },
    { signer: certSigner, pem: derToPem(new TestPki().leaf(certSigner)) },
  ];
  const res = await post(rekor.url, '/api/v1/log/entries', entry(signers));
  t.is(res.status, 201);
  const [anon] = Object.values(await res.json() as Record<string, { body: string }>);
  const body = JSON.parse(Buffer.from(anon!.body, 'base64').toString());
  t.is(body.kind, 'intoto');
  t.is(body.spec.content.envelope.payload, undefined);
  t.is(body.spec.content.envelope.signatures.length, 2);
  t.is(body.spec.content.payloadHash.value, createHash('sha256').update(statement).digest('hex'));
  const found = await post(rekor.url, '/api/v1/index/retrieve', { email: 'alice@example.com' });
  t.is((await found.json() as string[]).length, 1, 'indexed by the certificate identity');

  // one bad signature among good ones, a payload hash the client made up, null fields: 400, nothing appended
  const forged = entry(signers);
  (forged.spec.content.envelope.signatures[1] as { sig: string }).sig = keySigner.sign(Buffer.from('other')).toString('base64');
  const lies = entry(signers, Buffer.from('{"x":1}'), { payloadHash: { algorithm: 'sha256', value: '00'.repeat(32) } });
  const nulls = { kind: 'intoto', apiVersion: '0.0.2', spec: { content: { envelope: { payload: 'e30=', payloadType: TYPE, signatures: [null] } } } };
  const empty = { kind: 'intoto', apiVersion: '0.0.2', spec: { content: null } };
  for (const bad of [forged, lies, nulls, empty]) t.is((await post(rekor.url, '/api/v1/log/entries', bad)).status, 400);
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
