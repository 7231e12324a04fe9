/**
 * Where `log backup` writes: a wrong --to is refused before any copy, with exit 2, and a backup that fails at any
 * point leaves nothing behind: no work folder, and no half-written archive (it would hold every private key).
 */
import test from 'ava';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backupDataDir, readManifest } from '../../services/backup.ts';
import { runCli } from '../helpers/cli.ts';
import { startStack, type TestStack } from '../helpers/stack.ts';

let stack: TestStack;
let out: string;

test.before(async () => {
  stack = await startStack();
  out = mkdtempSync(join(tmpdir(), 'sigstack-backup-target-'));
});
test.after.always(async () => {
  await stack?.close();
  if (out) rmSync(out, { recursive: true, force: true });
});

const leftovers = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.partial') || f.startsWith('.sigstack-backup-'));

test.serial('--to an existing folder is refused up front, exit 2, nothing written', async (t) => {
  const folder = join(out, 'somedir');
  mkdirSync(folder);
  const r = await runCli(['log', 'backup', '--data-dir', stack.dataDir, '--to', folder]);
  t.is(r.code, 2, r.stderr);
  t.regex(r.stderr, new RegExp(`^Error: ${folder} is a folder: give the archive's file name, e\\.g\\. ${folder}/sigstack\\.bak\\nRun "sigstack log backup --help"`));
  t.deepEqual(leftovers(out), []);
  t.deepEqual(readdirSync(folder), []);
});

test.serial('--to an existing file is refused unless --force, which replaces it with a 0600 archive', async (t) => {
  const target = join(out, 'existing.bak');
  writeFileSync(target, 'an older backup');
  chmodSync(target, 0o644);
  const refused = await runCli(['log', 'backup', '--data-dir', stack.dataDir, '--to', target]);
  t.is(refused.code, 2, refused.stderr);
  t.regex(refused.stderr, /existing\.bak exists: give a new file name, or --force to replace it/);
  t.is(readFileSync(target, 'utf8'), 'an older backup', 'the older backup is kept');

  const forced = await runCli(['log', 'backup', '--data-dir', stack.dataDir, '--to', target, '--force']);
  t.is(forced.code, 0, forced.stderr);
  t.is(statSync(target).mode & 0o777, 0o600);
  t.true(readManifest(target).manifest.files.some((f) => f.path === 'keys/rekor.key.pem'));
  t.deepEqual(leftovers(out), []);
});

test.serial('--to in a folder that does not exist is refused, naming the folder', async (t) => {
  const r = await runCli(['log', 'backup', '--data-dir', stack.dataDir, '--to', join(out, 'nodir', 'x.bak')]);
  t.is(r.code, 2, r.stderr);
  t.regex(r.stderr, /cannot write \S+x\.bak: the folder \S+nodir does not exist/);
  t.false(existsSync(join(out, 'nodir')));
});

test.serial('a backup failing while it writes the archive removes the .partial file and the work folder', async (t) => {
  const dir = mkdtempSync(join(out, 'fail-'));
  const target = join(dir, 'log.bak');
  // stale .partial of a crashed run, world-readable: must not be reused with its mode
  writeFileSync(`${target}.partial`, 'stale');
  chmodSync(`${target}.partial`, 0o644);
  let modeWhileWriting = -1;
  await t.throwsAsync(backupDataDir(stack.dataDir, target, (p) => {
    if (p.step !== 'archive') return;
    modeWhileWriting = statSync(`${target}.partial`).mode & 0o777;
    throw new Error('disk full (simulated)');
  }), { message: 'disk full (simulated)' });
  t.is(modeWhileWriting, 0o600, 'the archive is 0600 from its first byte');
  t.deepEqual(readdirSync(dir), [], 'no archive, no .partial, no work folder');
});

test.serial('a data folder that is not one is named', async (t) => {
  const r = await runCli(['log', 'backup', '--data-dir', join(out, 'nodata'), '--to', join(out, 'y.bak')]);
  t.is(r.code, 1);
  t.regex(r.stderr, /nodata is not a sigstack data folder \(no meta\.json\)/);
  t.deepEqual(leftovers(out), []);
});
