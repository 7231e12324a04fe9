import test from 'ava';
import { generateSigner } from '../../core/signer.ts';
import { TestPki } from '../client/pki-fixture.ts';
import { tempDbPath } from '../log-engine/temp-dir.ts';
import { post, proposal, startIndexedRekor } from './rekor-server.ts';

test('POST /api/v1/index/retrieve finds entries by artifact hash, public key and email (and/or), as entry UUIDs', async (t) => {
  const rekor = await startIndexedRekor(tempDbPath(t));
  t.teardown(rekor.close);
  const keySigner = generateSigner();
  const certSigner = generateSigner();
  const cert = new TestPki().leaf(certSigner); // SAN alice@example.com
  const a = proposal(keySigner);
  const b = proposal(keySigner);
  const c = proposal(certSigner, cert, Buffer.from('same artifact'));
  const ids: string[] = [];
  for (const p of [a, b, c]) {
    const res = await post(rekor.url, '/api/v1/log/entries', p.body);
    t.is(res.status, 201);
    ids.push(Object.keys(await res.json() as object)[0]!);
  }
  const search = async (q: unknown) => {
    const res = await post(rekor.url, '/api/v1/index/retrieve', q);
    return { status: res.status, body: await res.json() as unknown };
  };
  t.deepEqual((await search({ hash: `sha256:${a.digest}` })).body, [ids[0]]);
  t.deepEqual((await search({ hash: b.digest.toUpperCase() })).body, [ids[1]], 'bare hex, any case, is sha256');
  const keyQuery = { format: 'x509', content: Buffer.from(a.pem).toString('base64') };
  t.deepEqual((await search({ publicKey: keyQuery })).body, [ids[0], ids[1]]);
  t.deepEqual((await search({ publicKey: { format: 'x509', content: Buffer.from(c.pem).toString('base64') } })).body, [ids[2]]);
  t.deepEqual((await search({ email: 'ALICE@example.com' })).body, [ids[2]]);
  t.deepEqual((await search({ email: 'alice@example.com', hash: a.digest })).body, [ids[0], ids[2]], 'or by default');
  t.deepEqual((await search({ email: 'alice@example.com', hash: a.digest, operator: 'and' })).body, []);
  t.deepEqual((await search({ publicKey: keyQuery, hash: b.digest, operator: 'and' })).body, [ids[1]]);
  t.deepEqual((await search({ email: 'bob@example.com' })).body, []);
});

test('index/retrieve refuses bad queries with 400: GHSA-4c4x-jm2x-pf9j publicKey.url is never fetched', async (t) => {
  const rekor = await startIndexedRekor(tempDbPath(t));
  t.teardown(rekor.close);
  let fetched = false;
  const { createServer } = await import('node:http');
  const trap = createServer((_req, res) => { fetched = true; res.end('x'); });
  await new Promise<void>((r) => trap.listen(0, '127.0.0.1', r));
  t.teardown(() => trap.close());
  const trapUrl = `http://127.0.0.1:${(trap.address() as { port: number }).port}/key.pem`;
  for (const q of [
    { publicKey: { format: 'x509', url: trapUrl } },
    {},
    { hash: 'sha1:abc' },
    { hash: 'sha256:' + 'a'.repeat(63) },
    { email: 'not an email' },
    { email: 'a@b', operator: 'xor' },
    { publicKey: { format: 'pgp', content: 'AAAA' } },
    { publicKey: { format: 'x509', content: Buffer.from('not a pem').toString('base64') } },
    { email: 'a@b', extra: 1 },
    [],
    'text',
  ]) {
    const res = await post(rekor.url, '/api/v1/index/retrieve', q);
    t.is(res.status, 400, JSON.stringify(q));
  }
  t.false(fetched);
});

test('index keys are written in the append transaction: an entry and its keys survive a reopen together', async (t) => {
  const path = tempDbPath(t);
  const first = await startIndexedRekor(path);
  const p = proposal(generateSigner());
  t.is((await post(first.url, '/api/v1/log/entries', p.body)).status, 201);
  await first.close();
  const again = await startIndexedRekor(path);
  t.teardown(again.close);
  const res = await post(again.url, '/api/v1/index/retrieve', { hash: p.digest });
  t.is((await res.json() as string[]).length, 1);
});

test('index/retrieve over 10,000 matches: "and" still finds the newest entry, "or" and single keys are a 422, never a silently cut list', async (t) => {
  const rekor = await startIndexedRekor(tempDbPath(t));
  t.teardown(rekor.close);
  const { emailKey, hashKey } = await import('../../log/kinds/index-keys.ts');
  const email = emailKey('busy@example.com');
  const digests = Array.from({ length: 10_001 }, (_, i) => `${i.toString(16).padStart(8, '0')}${'0'.repeat(56)}`);
  // 10,001 entries under one email, each with its own artifact hash (the engine takes the keys as given)
  await Promise.all(digests.map((d, i) => rekor.log.append(Buffer.from(`entry ${i}`), null, [email, hashKey('sha256', d)])));
  const search = async (q: unknown) => {
    const res = await post(rekor.url, '/api/v1/index/retrieve', q);
    return { status: res.status, body: await res.json() as unknown };
  };
  const newest = await search({ email: 'busy@example.com', hash: digests.at(-1), operator: 'and' });
  t.is(newest.status, 200);
  t.is((newest.body as string[]).length, 1);
  t.deepEqual((await search({ hash: digests.at(-1) })).body, newest.body);
  for (const q of [{ email: 'busy@example.com' }, { email: 'busy@example.com', hash: digests[0] }]) {
    const res = await search(q);
    t.is(res.status, 422, JSON.stringify(q));
    t.regex((res.body as { message: string }).message, /more than 10000 entries match the query/);
  }
});
