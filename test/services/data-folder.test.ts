/**
 * A data folder belongs to one server and is set up by a start that succeeds: a second server on the same folder is
 * refused (two servers each failed the other's appends with a 500); a first start that fails on its issuer file
 * leaves nothing behind (it used to create the keys and record the URL first); a --public-url that differs from
 * the URL the folder was created with is said, not silently ignored; a damaged meta.json is named.
 */
import test from 'ava';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { parseServeConfig } from '../../services/config.ts';
import { startStack } from '../../services/app.ts';
import { hashedRekordProposal } from '../helpers/rekord.ts';

function tempDir(t: import('ava').ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'sigstack-data-folder-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function capture() {
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, new Writable({ write(chunk, _enc, cb) { lines.push(chunk.toString()); cb(); } }));
  return { logger, warnings: () => lines.map((l) => JSON.parse(l) as { level: number; msg: string }).filter((l) => l.level === 40).map((l) => l.msg) };
}

test('a second server on a data folder in use is refused; the folder is free again once the first has stopped', async (t) => {
  const dataDir = join(tempDir(t), 'data');
  const cfg = parseServeConfig('all', { port: '0', dataDir, devOidc: true });
  const first = await startStack(cfg, pino({ level: 'silent' }));
  let firstClosed = false;
  t.teardown(async () => { if (!firstClosed) await first.close(); });
  await t.throwsAsync(startStack(cfg, pino({ level: 'silent' })), { message: `the data folder ${dataDir} is in use by another sigstack server: stop it first, or give this one its own --data-dir` });
  // the first one is unharmed
  const res = await fetch(`${first.url}/api/v1/log/entries`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(hashedRekordProposal().proposal) });
  t.is(res.status, 201);
  await first.close();
  firstClosed = true;
  const again = await startStack(cfg, pino({ level: 'silent' }));
  t.teardown(() => again.close());
  t.is((await (await fetch(`${again.url}/api/v1/log`)).json() as { treeSize: number }).treeSize, 1);
});

test('a first start that fails on its issuer file creates nothing; the next start records its own URL', async (t) => {
  const dir = tempDir(t);
  const dataDir = join(dir, 'data');
  const bad = join(dir, 'issuers.yaml');
  writeFileSync(bad, 'notjson');
  const badCfg = parseServeConfig('all', { port: '0', dataDir, oidcConfig: bad, publicUrl: 'http://wrong.example:3999' });
  await t.throwsAsync(startStack(badCfg, pino({ level: 'silent' })), { message: /issuer configuration/ });
  t.false(existsSync(dataDir) && readdirSync(dataDir).length > 0, 'no keys, no meta.json');

  const { logger, warnings } = capture();
  const good = await startStack(parseServeConfig('all', { port: '0', dataDir, devOidc: true, publicUrl: 'http://sigstack.internal:3000' }), logger);
  t.teardown(() => good.close());
  const root = await (await fetch(`http://127.0.0.1:${(good.server.address() as { port: number }).port}/sigstack/v1/trusted_root.json`)).json() as { tlogs: { baseUrl: string }[] };
  t.is(root.tlogs[0]!.baseUrl, 'http://sigstack.internal:3000');
  t.deepEqual(warnings(), []);
});

test('a --public-url other than the recorded one is warned about, naming both; a first start on every interface without one is too', async (t) => {
  const dataDir = join(tempDir(t), 'data');
  const first = await startStack(parseServeConfig('all', { port: '0', dataDir, devOidc: true, host: '0.0.0.0' }), capture().logger);
  const recorded = first.url;
  await first.close();
  const firstRun = capture();
  const other = join(tempDir(t), 'data');
  const wildcard = await startStack(parseServeConfig('all', { port: '0', dataDir: other, devOidc: true, host: '0.0.0.0' }), firstRun.logger);
  await wildcard.close();
  t.deepEqual(firstRun.warnings(), [`no --public-url on a first start listening on every interface: this deployment is now recorded as ${wildcard.url}, which other machines cannot reach; start it afresh with --public-url to name it otherwise`]);

  const later = capture();
  const restarted = await startStack(parseServeConfig('all', { port: '0', dataDir, devOidc: true, publicUrl: 'http://sigstack.internal:3000' }), later.logger);
  t.teardown(() => restarted.close());
  t.deepEqual(later.warnings(), ['log', 'CA'].map((what) => `--public-url http://sigstack.internal:3000 differs from ${recorded}, the URL this data folder's ${what} was created with: the trusted root and the log's checkpoints keep naming ${recorded}`));
});

test('a damaged meta.json stops the start naming the file and what is wrong with it', async (t) => {
  const dataDir = join(tempDir(t), 'data');
  const cfg = parseServeConfig('all', { port: '0', dataDir, devOidc: true });
  const cases: [string, RegExp][] = [
    ['{"version": 1, "log": {', /meta\.json is not valid JSON \(.*\): restore it from a backup/],
    ['[1]', /meta\.json: expected a JSON object/],
    ['{}', /meta\.json: no version/],
    ['{"version": 1, "ca": {"baseUrl": 7}}', /meta\.json: ca\.baseUrl must be a string/],
  ];
  for (const [text, message] of cases) {
    rmSync(dataDir, { recursive: true, force: true });
    const { mkdirSync } = await import('node:fs');
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(join(dataDir, 'meta.json'), text);
    await t.throwsAsync(startStack(cfg, pino({ level: 'silent' })), { message }, text);
  }
});
