/**
 * A data folder whose records (meta.json, the CA chain) say a log and a CA exist is never started afresh: a missing,
 * emptied or garbage Rekor or CT database, a frozen tree's database, a log or CA key, the CA chain, or meta.json
 * itself lost beside the log's files, each stops `sigstack serve` (exit 1) with a message naming the file and saying
 * how to restore it; nothing is re-created. (It used to start on an empty rekor.db under the same key and tree id,
 * signing a rollback and reusing index 0, and to make a new log key that broke every trusted root handed out.)
 * `trusted-root --data-dir` only reads: a missing key is refused and nothing is written into the folder.
 */
import test from 'ava';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { parseServeConfig } from '../../services/config.ts';
import { startStack } from '../../services/app.ts';
import { rotateRekorLog } from '../../services/log-rotation.ts';
import { readMeta } from '../../services/meta.ts';
import { runCli, startServer } from '../helpers/cli.ts';
import { postEntry } from '../helpers/acked.ts';
import { serveOnce } from './serve-once.ts';

const root = mkdtempSync(join(tmpdir(), 'sigstack-refusals-'));
test.after.always(() => rmSync(root, { recursive: true, force: true }));

/** A stopped data folder with a 10-entry log (and, rotated, a frozen tree of 10 and an active one of 2). */
async function folderWithLog(name: string, rotate = false): Promise<string> {
  const dataDir = join(root, name);
  const cfg = parseServeConfig('all', { port: '0', dataDir, devOidc: true });
  let stack = await startStack(cfg, pino({ level: 'silent' }));
  for (let i = 0; i < 10; i++) await postEntry(stack.url);
  await stack.close();
  if (rotate) {
    await rotateRekorLog(dataDir);
    stack = await startStack(cfg, pino({ level: 'silent' }));
    for (let i = 0; i < 2; i++) await postEntry(stack.url);
    await stack.close();
  }
  return dataDir;
}

const pristine = folderWithLog('pristine');
const rotated = pristine.then(() => folderWithLog('rotated', true));
let copies = 0;
async function copyOf(folder: Promise<string>): Promise<string> {
  const copy = join(root, `copy-${++copies}`);
  cpSync(await folder, copy, { recursive: true });
  return copy;
}

/** Every file of a folder with its bytes' hash and its mtime: equal snapshots mean nothing was written. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else out[p] = `${createHash('sha256').update(readFileSync(p)).digest('hex')} ${st.mtimeMs}`;
    }
  };
  walk(dir);
  return out;
}

const RESTORE = /sigstack log restore/;

test('the intact folder starts with its 10 entries (the copies below differ from it by one damage each)', async (t) => {
  const server = await startServer(['--data-dir', await copyOf(pristine)]);
  try {
    t.is((await (await fetch(`${server.url}/api/v1/log`)).json() as { treeSize: number }).treeSize, 10);
  } finally {
    server.child.kill('SIGTERM');
    await new Promise((r) => server.child.once('exit', r));
  }
});

const databaseCases: [string, (dir: string) => void, RegExp][] = [
  ['rekor.db deleted', (d) => rmSync(join(d, 'log', 'rekor.db')), /log\/rekor\.db \(the Rekor log's active tree \d+\) is missing, but this data folder's meta\.json records it/],
  ['rekor.db truncated to 0 bytes', (d) => truncateSync(join(d, 'log', 'rekor.db'), 0), /log\/rekor\.db \(the Rekor log's active tree \d+\) is empty \(0 bytes\)/],
  ['rekor.db overwritten with garbage', (d) => writeFileSync(join(d, 'log', 'rekor.db'), 'garbage'.repeat(1000)), /log\/rekor\.db \(the Rekor log's active tree \d+\) is not a SQLite database/],
  ['ct.db deleted', (d) => rmSync(join(d, 'log', 'ct.db')), /log\/ct\.db \(the CT log\) is missing/],
];
for (const [name, damage, message] of databaseCases) {
  test(`a recorded log database ${name}: serve refuses, naming it and how to restore, and re-creates nothing`, async (t) => {
    const dir = await copyOf(pristine);
    damage(dir);
    const before = snapshot(join(dir, 'log'));
    const r = await serveOnce(['--dev-oidc', '--data-dir', dir]);
    t.false(r.started, 'a damaged log must not be served');
    t.is(r.code, 1, r.output);
    t.regex(r.output, message);
    t.regex(r.output, RESTORE);
    t.deepEqual(snapshot(join(dir, 'log')), before, 'the log folder is left as it was');
  });
}

test('a frozen tree\'s database deleted after `log rotate`: serve refuses naming it; so does a second rotation', async (t) => {
  const dir = await copyOf(rotated);
  const shard = readMeta(dir).log!.inactiveShards![0]!;
  rmSync(join(dir, shard.dbFile));
  const r = await serveOnce(['--data-dir', dir]);
  t.false(r.started);
  t.is(r.code, 1, r.output);
  t.true(r.output.includes(`${join(dir, shard.dbFile)} (the frozen Rekor tree ${shard.treeId} (10 entries)) is missing`), r.output);
  t.false(existsSync(join(dir, shard.dbFile)), 'not re-created empty');
  const rotate = await runCli(['log', 'rotate', '--data-dir', dir]);
  t.is(rotate.code, 1);
  t.regex(rotate.stderr, /Rotation refused: .*is missing/);
});

test('the active tree\'s database emptied before `log rotate --allow-empty`: the rollback is not frozen under a signed checkpoint', async (t) => {
  const dir = await copyOf(pristine);
  truncateSync(join(dir, 'log', 'rekor.db'), 0);
  const before = readFileSync(join(dir, 'meta.json'), 'utf8');
  const r = await runCli(['log', 'rotate', '--allow-empty', '--data-dir', dir]);
  t.is(r.code, 1, r.stderr);
  t.regex(r.stderr, /Rotation refused: .*rekor\.db .* is empty \(0 bytes\)/);
  t.is(readFileSync(join(dir, 'meta.json'), 'utf8'), before);
});

const keyCases: [string, RegExp][] = [
  ['keys/rekor.key.pem', /keys\/rekor\.key\.pem \(the Rekor key of tree \d+\) is missing, but this data folder's meta\.json records it: a new key would not match the trusted roots/],
  ['keys/ct.key.pem', /keys\/ct\.key\.pem \(the CT log's key\) is missing/],
  ['keys/ca-intermediate.key.pem', /keys\/ca-intermediate\.key\.pem \(the CA's issuing key\) is missing, but \S+ca\/chain\.pem certifies it/],
];
for (const [file, message] of keyCases) {
  test(`${file} deleted: serve refuses naming it and makes no new key`, async (t) => {
    const dir = await copyOf(pristine);
    rmSync(join(dir, file));
    const r = await serveOnce(['--dev-oidc', '--data-dir', dir]);
    t.false(r.started, 'a lost key must not be replaced');
    t.is(r.code, 1, r.output);
    t.regex(r.output, message);
    t.regex(r.output, RESTORE);
    t.false(existsSync(join(dir, file)));
  });
}

test('a garbage key file is refused naming it (not a bare OpenSSL decoder error)', async (t) => {
  const dir = await copyOf(pristine);
  writeFileSync(join(dir, 'keys', 'rekor.key.pem'), 'garbage\n');
  const r = await serveOnce(['--data-dir', dir]);
  t.false(r.started);
  t.is(r.code, 1, r.output);
  t.regex(r.output, /keys\/rekor\.key\.pem \(the Rekor key of tree \d+\) holds no readable private key/);
});

test('ca/chain.pem deleted in a folder whose meta.json records the CA: no new CA is made', async (t) => {
  const dir = await copyOf(pristine);
  rmSync(join(dir, 'ca', 'chain.pem'));
  const keys = snapshot(join(dir, 'keys'));
  const r = await serveOnce(['--data-dir', dir]);
  t.false(r.started);
  t.is(r.code, 1, r.output);
  t.regex(r.output, /ca\/chain\.pem is missing, but this data folder's meta\.json records the CA/);
  t.false(existsSync(join(dir, 'ca', 'chain.pem')));
  t.deepEqual(snapshot(join(dir, 'keys')), keys);
});

test('meta.json lost beside the log\'s databases and keys: not taken for a first start', async (t) => {
  const dir = await copyOf(pristine);
  rmSync(join(dir, 'meta.json'));
  const r = await serveOnce(['--data-dir', dir]);
  t.false(r.started);
  t.is(r.code, 1, r.output);
  t.regex(r.output, /meta\.json records no log, but \S+log\/rekor\.db, .* exist: if meta\.json was lost, restore/);
  t.false(existsSync(join(dir, 'meta.json')));
});

test('trusted-root --data-dir with a key missing: refused naming it, and nothing is written into the data folder', async (t) => {
  for (const file of ['keys/rekor.key.pem', 'keys/ct.key.pem']) {
    const dir = await copyOf(pristine);
    rmSync(join(dir, file));
    const before = snapshot(dir);
    const out = join(root, `trc-${copies}.json`);
    const r = await runCli(['trusted-root', '--data-dir', dir, '--out', out]);
    t.not(r.code, 0, file);
    t.true(r.stderr.includes(`${join(dir, file)} (`), r.stderr);
    t.regex(r.stderr, /is missing/);
    t.false(existsSync(out), 'no trusted root with a made-up key');
    t.deepEqual(snapshot(dir), before, `${file}: the data folder is untouched`);
  }
  // and an intact folder still works, read-only
  const dir = await copyOf(pristine);
  const before = snapshot(dir);
  const ok = await runCli(['trusted-root', '--data-dir', dir]);
  t.is(ok.code, 0, ok.stderr);
  t.deepEqual(snapshot(dir), before);
});
