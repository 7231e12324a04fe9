/**
 * `log audit` against a log that lies: each case from a review that played a malicious log server. The log
 * cannot drop the saved checkpoint by claiming a rotation, sign under another name, or exhaust the auditor with
 * huge, compressed or stalled answers; and an honest log is not reported bad (an empty saved checkpoint, a
 * rotation followed by trust on first use).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import test from 'ava';
import { generateSigner } from '../../core/signer.ts';
import { audit, AuditFailure, AuditUnavailable } from '../../client/log-audit.ts';
import { fakeLog, fakeNote, fakeTree, pemOf, serveTiles } from './fake-log.ts';

const quiet = () => undefined;
const dir = mkdtempSync(join(tmpdir(), 'sigstack-audit-hostile-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const file = (content: string) => {
  const path = join(dir, `f${n++}`);
  writeFileSync(path, content);
  return path;
};
const T = '/api/v1/tiles';

test('a claimed rotation cannot drop the saved checkpoint: another log name, the same key, or a frozen checkpoint of another tree is refused', async (t) => {
  const k = generateSigner();
  const old = fakeTree(10);
  const oldNote = fakeNote(k, '127.0.0.1 - 42', old);
  const forged = fakeTree(3, 'forged');
  const cases: [string, string, string, RegExp][] = [
    ['another log name', fakeNote(k, 'rekor.sigstore.dev - 77', forged), oldNote, /calls itself "rekor.sigstore.dev".*not the same log/],
    ['the same key', fakeNote(k, '127.0.0.1 - 77', forged), oldNote, /rotated, but its new tree is signed with the same key/],
  ];
  for (const [what, activeNote, frozenNote, message] of cases) {
    const log = await fakeLog((_req, res, url) => {
      if (url.startsWith('/api/v1/log/publicKey')) return void res.end(pemOf(k));
      if (url === '/api/v1/log') return void res.end(JSON.stringify({ inactiveShards: [{ treeID: '42', signedTreeHead: frozenNote }] }));
      if (serveTiles(`${T}/shards/42`, old, frozenNote, url, res) || serveTiles(T, forged, activeNote, url, res)) return;
      res.writeHead(404).end();
    });
    const saved = file(oldNote);
    for (const trust of [{}, { publicKey: file(pemOf(k)) }]) {
      const e = await t.throwsAsync(audit({ url: log.url, checkpoint: saved, ...trust }, quiet), { instanceOf: AuditFailure }, what);
      t.regex(e!.message, message, what);
      t.is(readFileSync(saved, 'utf8'), oldNote, `${what}: the saved checkpoint is kept`);
    }
    await log.close();
  }
});

test('an honest rotation (new tree, new key) passes with trust on first use; the frozen tree must be the saved tree', async (t) => {
  const [k1, k2] = [generateSigner(), generateSigner()];
  const old = fakeTree(5);
  const oldNote = fakeNote(k1, '127.0.0.1 - 42', old);
  const fresh = fakeTree(2, 'new');
  const freshNote = fakeNote(k2, '127.0.0.1 - 43', fresh);
  let frozenNote = oldNote;
  const log = await fakeLog((_req, res, url) => {
    if (url === '/api/v1/log/publicKey') return void res.end(pemOf(k2));
    if (url === '/api/v1/log/publicKey?treeID=42') return void res.end(pemOf(k1));
    if (url === '/api/v1/log') return void res.end(JSON.stringify({ inactiveShards: [{ treeID: '42', signedTreeHead: frozenNote }] }));
    if (serveTiles(`${T}/shards/42`, old, frozenNote, url, res) || serveTiles(T, fresh, freshNote, url, res)) return;
    res.writeHead(404).end();
  });
  try {
    const saved = file(oldNote);
    const r = await audit({ url: log.url, checkpoint: saved }, quiet);
    t.deepEqual(r.frozen, [{ treeId: '42', size: 5 }]);
    t.is(readFileSync(saved, 'utf8'), freshNote);
    // A frozen checkpoint for tree 42 whose origin names another tree.
    frozenNote = fakeNote(k1, '127.0.0.1 - 41', old);
    await t.throwsAsync(audit({ url: log.url, checkpoint: file(oldNote) }, quiet), { instanceOf: AuditFailure });
  } finally {
    await log.close();
  }
});

test('the signature must be under the log name (the origin host), never a name the note chooses', async (t) => {
  const k = generateSigner();
  const tree = fakeTree(4);
  const note = fakeNote(k, '127.0.0.1 - 42', tree, 'totally-other-log.example');
  const log = await fakeLog((_req, res, url) => {
    if (url === '/api/v1/log/publicKey') return void res.end(pemOf(k));
    if (url === '/api/v1/log') return void res.end('{}');
    if (!serveTiles(T, tree, note, url, res)) res.writeHead(404).end();
  });
  await t.throwsAsync(audit({ url: log.url }, quiet), { instanceOf: AuditFailure, message: /under the name "127.0.0.1"/ });
  await log.close();
});

test('a saved checkpoint of the empty log: the log that grew passes without a proof; a wrong empty root is refused', async (t) => {
  const k = generateSigner();
  const tree = fakeTree(3);
  const note = fakeNote(k, '127.0.0.1 - 42', tree);
  let proofs = 0;
  const log = await fakeLog((_req, res, url) => {
    if (url === '/api/v1/log/publicKey') return void res.end(pemOf(k));
    if (url === '/api/v1/log') return void res.end('{}');
    if (url.startsWith('/api/v1/log/proof')) {
      proofs++;
      return void res.writeHead(400).end('{"message":"firstSize must be positive"}');
    }
    if (!serveTiles(T, tree, note, url, res)) res.writeHead(404).end();
  });
  try {
    const empty = fakeNote(k, '127.0.0.1 - 42', fakeTree(0));
    const r = await audit({ url: log.url, checkpoint: file(empty) }, quiet);
    t.is(r.size, 3);
    t.is(proofs, 0);
    const lying = fakeNote(k, '127.0.0.1 - 42', { ...fakeTree(0), root: Buffer.alloc(32, 7) });
    await t.throwsAsync(audit({ url: log.url, checkpoint: file(lying) }, quiet), { instanceOf: AuditFailure, message: /root of the empty tree/ });
  } finally {
    await log.close();
  }
});

test('answers are bounded: a gzip bomb, an oversized tile and a huge checkpoint are refused at once; a stalled body times out', async (t) => {
  const k = generateSigner();
  const tree = fakeTree(1);
  const note = fakeNote(k, '127.0.0.1 - 42', tree);
  const bomb = gzipSync(Buffer.alloc(64 << 20));
  let mode = '';
  const log = await fakeLog((_req, res, url) => {
    if (url === '/api/v1/log/publicKey') return void res.end(pemOf(k));
    if (url === '/api/v1/log') {
      if (mode === 'stall') return void res.writeHead(200).write('{"inactiveShards":');
      return void res.end('{}');
    }
    if (mode === 'gzip' && url.includes('/tile/entries/')) return void res.writeHead(200, { 'content-encoding': 'gzip' }).end(bomb);
    if (mode === 'big' && url.includes('/tile/0/')) return void res.end(Buffer.alloc(5 << 20));
    if (mode === 'bigcp' && url === `${T}/checkpoint`) return void res.end(Buffer.alloc(3 << 20, 0x61));
    if (!serveTiles(T, tree, note, url, res)) res.writeHead(404).end();
  });
  try {
    const before = process.memoryUsage().rss;
    mode = 'gzip';
    await t.throwsAsync(audit({ url: log.url }, quiet), { instanceOf: AuditFailure, message: /answered compressed/ });
    mode = 'big';
    await t.throwsAsync(audit({ url: log.url }, quiet), { instanceOf: AuditFailure, message: /more than the 32 (bytes )?its request allows/ });
    mode = 'bigcp';
    await t.throwsAsync(audit({ url: log.url, checkpoint: file(note) }, quiet), { instanceOf: AuditFailure, message: /more than the 1048576/ });
    t.true(process.memoryUsage().rss - before < 100 << 20, 'nothing was inflated or read whole');
    mode = 'stall';
    const started = Date.now();
    await t.throwsAsync(audit({ url: log.url, timeoutMs: 500 }, quiet), { instanceOf: AuditUnavailable, message: /not read within 0.5 s/ });
    t.true(Date.now() - started < 5000);
  } finally {
    await log.close();
  }
});

test('malformed frozen-tree lists are the log\'s failure (exit 1), never a crash; a cut proof is exit 3', async (t) => {
  const k = generateSigner();
  const [small, big] = [fakeTree(1), fakeTree(2)];
  const note = fakeNote(k, '127.0.0.1 - 42', big);
  let info = '{}';
  const log = await fakeLog((_req, res, url) => {
    if (url === '/api/v1/log/publicKey') return void res.end(pemOf(k));
    if (url === '/api/v1/log') return void res.end(info);
    if (url.startsWith('/api/v1/log/proof')) {
      res.writeHead(200).write('{"hashes":[');
      return void setTimeout(() => res.socket?.destroy(), 50);
    }
    if (!serveTiles(T, big, note, url, res)) res.writeHead(404).end();
  });
  try {
    const saved = fakeNote(k, '127.0.0.1 - 42', small);
    for (const bad of ['{"inactiveShards":[null]}', '{"inactiveShards":[{"treeID":"../x","signedTreeHead":""}]}', '{"inactiveShards":{}}', '{"inactiveShards":[{"treeID":"42","signedTreeHead":"x"}]}']) {
      info = bad;
      await t.throwsAsync(audit({ url: log.url, checkpoint: file(saved) }, quiet), { instanceOf: AuditFailure }, bad);
    }
    info = '{}';
    const path = file(saved);
    await t.throwsAsync(audit({ url: log.url, checkpoint: path }, quiet), { instanceOf: AuditUnavailable, message: /the answer was cut/ });
    t.is(readFileSync(path, 'utf8'), saved);
    t.true(existsSync(path));
  } finally {
    await log.close();
  }
});

test('a trusted root key outside its validFor does not sign the active tree (a retired key after a rotation)', async (t) => {
  const [retired, current] = [generateSigner(), generateSigner()];
  const tree = fakeTree(2);
  let note = fakeNote(retired, '127.0.0.1 - 42', tree);
  const log = await fakeLog((_req, res, url) => {
    if (url === '/api/v1/log') return void res.end('{}');
    if (!serveTiles(T, tree, note, url, res)) res.writeHead(404).end();
  });
  const tlog = (k: typeof retired, validFor: object) => ({ baseUrl: log.url, publicKey: { rawBytes: k.publicKeyDer.toString('base64'), validFor } });
  const root = file(JSON.stringify({ tlogs: [tlog(retired, { start: '2020-01-01T00:00:00Z', end: '2021-01-01T00:00:00Z' }), tlog(current, { start: '2021-01-01T00:00:00Z' })] }));
  try {
    await t.throwsAsync(audit({ url: log.url, trustedRoot: root }, quiet), { instanceOf: AuditFailure, message: /does not verify/ });
    note = fakeNote(current, '127.0.0.1 - 42', tree);
    t.is((await audit({ url: log.url, trustedRoot: root }, quiet)).size, 2);
  } finally {
    await log.close();
  }
});
