/**
 * `sigstack log backup` and `log restore` as a user runs them: an archive is never written into the data folder it
 * backs up; Ctrl-C (SIGINT) or SIGTERM in the middle of a run removes its work folder and half-written archive and
 * ends the process by that signal (exit 130/143 in a shell); a run removes the work folders of earlier runs that
 * were killed outright, and only those; and restore's usage errors are named, exit 2, never a raw errno.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { chmodSync, chownSync, copyFileSync, cpSync, existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { backupDataDir, workFolderPrefix } from '../../services/backup.ts';
import { CLI, collect, ROOT, runCli } from '../helpers/cli.ts';
import { startStack } from '../helpers/stack.ts';

let base: string;
let small: string;
let large: string;
let largeArchive: string;

/** A data folder with a log, made by a stack that is then stopped. */
async function dataFolder(name: string): Promise<string> {
  const dataDir = join(base, name);
  mkdirSync(dataDir);
  const stack = await startStack({ dataDir });
  await stack.close();
  return dataDir;
}

test.before(async () => {
  base = mkdtempSync(join(tmpdir(), 'sigstack-cli-backup-'));
  small = await dataFolder('small');
  // 200 MB of pages in the Rekor database: a backup or restore of it lasts seconds, so a signal lands mid-run
  large = await dataFolder('large');
  const db = new Database(join(large, 'log', 'rekor.db'));
  db.exec('CREATE TABLE ballast (b BLOB)');
  const insert = db.prepare('INSERT INTO ballast VALUES (zeroblob(1048576))');
  db.transaction(() => { for (let i = 0; i < 200; i++) insert.run(); })();
  db.close();
  largeArchive = join(base, 'large.bak');
  await backupDataDir(large, largeArchive);
});
test.after.always(() => base && rmSync(base, { recursive: true, force: true }));

const digest = (dir: string) => {
  const h = createHash('sha256');
  const walk = (d: string) => readdirSync(d).sort().forEach((n) => {
    const p = join(d, n);
    try {
      h.update(n).update(readFileSync(p));
    } catch {
      walk(p); // a folder
    }
  });
  walk(dir);
  return h.digest('hex');
};

test.serial('backup refuses any target in the data folder it backs up, through links too, before writing anything', async (t) => {
  const before = digest(small);
  symlinkSync(small, join(base, 'small-link'));
  linkSync(join(small, 'meta.json'), join(base, 'meta-hardlink.json'));
  const targets: [string, RegExp][] = [
    [join(small, 'meta.json'), /meta\.json is in the data folder/],
    [join(small, 'keys', 'rekor.key.pem'), /rekor\.key\.pem is in the data folder/],
    [join(small, 'log', 'rekor.db'), /rekor\.db is in the data folder/],
    [join(small, 'new.bak'), /new\.bak is in the data folder/],
    [join(base, 'small-link', 'meta.json'), /is in the data folder/],
    [join(base, 'meta-hardlink.json'), /meta-hardlink\.json is a hard link to a file of the data folder/],
  ];
  for (const [to, message] of targets) {
    const r = await runCli(['log', 'backup', '--data-dir', small, '--to', to, '--force']);
    t.is(r.code, 2, `${to}: ${r.stderr}`);
    t.regex(r.stderr, message);
  }
  t.is(digest(small), before, 'the data folder is as it was');
  t.false(readdirSync(small).some((n) => n.startsWith('.sigstack-')), 'no work folder in it either');
});

/** Runs `sigstack ARGS`, sends `signal` once `ready` is true of the folder `watch`, and resolves with how it ended. */
async function interrupt(args: string[], watch: string, ready: (names: string[]) => boolean, signal: NodeJS.Signals) {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d));
  let exited = false;
  child.on('exit', () => (exited = true));
  while (!exited && !ready(readdirSync(watch))) await new Promise((r) => setTimeout(r, 10));
  const sent = !exited && child.kill(signal);
  const [code, killedBy] = child.exitCode !== null || child.signalCode !== null ? [child.exitCode, child.signalCode] : await once(child, 'exit') as [number | null, NodeJS.Signals | null];
  return { sent, code, killedBy, stderr };
}

for (const [signal, phase] of [['SIGINT', 'copying the database'], ['SIGTERM', 'writing the archive']] as const) {
  test.serial(`${signal} while backup is ${phase} removes its work folder and partial archive, and ends the process by ${signal}`, async (t) => {
    const out = mkdtempSync(join(base, 'out-'));
    const ready = phase === 'writing the archive' ? (names: string[]) => names.some((n) => n.endsWith('.partial')) : (names: string[]) => names.some((n) => n.startsWith('.sigstack-backup-'));
    const r = await interrupt(['log', 'backup', '--data-dir', large, '--to', join(out, 'large.bak')], out, ready, signal);
    t.true(r.sent, `the run ended before the signal: ${r.stderr}`);
    t.is(r.killedBy, signal, r.stderr);
    t.deepEqual(readdirSync(out), [], 'no work folder, no .partial, no archive');
    t.regex(r.stderr, new RegExp(`Interrupted \\(${signal}\\): the backup was stopped and its work files removed`));
  });
}

test.serial('SIGINT during restore removes its work folder (it would hold private keys) and the parents it made', async (t) => {
  const out = mkdtempSync(join(base, 'restore-'));
  const target = join(out, 'new', 'restored');
  const r = await interrupt(['log', 'restore', '--from', largeArchive, '--data-dir', target], out,
    (names) => names.includes('new') && readdirSync(join(out, 'new')).some((n) => n.startsWith('.sigstack-restore-')), 'SIGINT');
  t.true(r.sent, r.stderr);
  t.is(r.killedBy, 'SIGINT', r.stderr);
  t.deepEqual(readdirSync(out), [], 'no work folder, and not the folder made for it');
});

test.serial('a run removes the work folders of killed runs (their pid is gone, or an unnamed one a day old), not those of live runs', async (t) => {
  const out = mkdtempSync(join(base, 'stale-'));
  const gone = spawn(process.execPath, ['-e', '']);
  await once(gone, 'exit');
  const dead = `${workFolderPrefix('backup', gone.pid)}AbC123`;
  const live = `${workFolderPrefix('backup', process.pid)}DeF456`;
  for (const name of [dead, live, '.sigstack-backup-old123', '.sigstack-backup-new123']) {
    mkdirSync(join(out, name));
    writeFileSync(join(out, name, 'rekor.db'), 'a copy');
  }
  const dayAgo = new Date(Date.now() - 2 * 86_400_000);
  utimesSync(join(out, '.sigstack-backup-old123'), dayAgo, dayAgo);
  const r = await runCli(['log', 'backup', '--data-dir', small, '--to', join(out, 'small.bak')]);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(readdirSync(out).sort(), ['.sigstack-backup-new123', live, 'small.bak'].sort());
});

for (const ending of ['SIGINT', 'a truncated archive'] as const) {
  test.serial(`a restore stopped by ${ending} removes the parent it made only while empty: another restore's data folder in it stays`, async (t) => {
    const out = mkdtempSync(join(base, 'shared-parent-'));
    const other = join(base, `other-${ending === 'SIGINT' ? 'int' : 'trunc'}.bak`);
    await backupDataDir(small, other);
    let archive = largeArchive;
    if (ending === 'a truncated archive') {
      archive = join(base, 'truncated.bak');
      copyFileSync(largeArchive, archive);
      truncateSync(archive, Math.floor(statSync(archive).size / 2));
    }
    // restore A makes out/new, and is paused mid-unpack (SIGSTOP, as a long restore would be)
    const a = spawn(process.execPath, ['--import', 'tsx', CLI, 'log', 'restore', '--from', archive, '--data-dir', join(out, 'new', 'a')], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const done = collect(a);
    let exited = false;
    a.on('exit', () => (exited = true));
    const staging = () => existsSync(join(out, 'new')) && readdirSync(join(out, 'new')).some((n) => n.startsWith('.sigstack-restore-'));
    while (!exited && !staging()) await new Promise((r) => setTimeout(r, 10));
    t.true(!exited && a.kill('SIGSTOP'), 'restore A was still running');
    // restore B into a sibling folder of the parent A made, to the end
    const b = await runCli(['log', 'restore', '--from', other, '--data-dir', join(out, 'new', 'b')]);
    t.is(b.code, 0, b.stderr);
    if (ending === 'SIGINT') a.kill('SIGINT');
    a.kill('SIGCONT');
    const r = await done;
    if (ending === 'SIGINT') t.regex(r.stderr, /Interrupted \(SIGINT\)/);
    else t.regex(r.stderr, /truncated in log\/rekor\.db/);
    t.deepEqual(readdirSync(join(out, 'new')), ['b'], 'A removed its own work folder and nothing else');
    t.true(existsSync(join(out, 'new', 'b', 'meta.json')), 'B\'s restored data folder is intact');
    t.true(existsSync(join(out, 'new', 'b', 'keys', 'rekor.key.pem')), 'and its keys');
    if (ending === 'a truncated archive') {
      // alone, a failed restore still removes all the (empty) parents it made, innermost first
      const alone = await runCli(['log', 'restore', '--from', archive, '--data-dir', join(out, 'x', 'y', 'z', 'r')]);
      t.is(alone.code, 1, alone.stderr);
      t.deepEqual(readdirSync(out), ['new'], 'x/y/z removed');
    }
  });
}

// Needs root: the CLI runs as another user (setpriv) beside a root-owned work folder. CI and this machine run as
// root; elsewhere ava reports the test as skipped rather than passing it without a check.
const asRoot = process.getuid?.() === 0 ? test.serial : test.serial.skip;

asRoot('a stale work folder that this user cannot remove (root\'s, 0700) is skipped with a warning: the backup still succeeds', async (t) => {
  // the service user's folders, readable from outside (base is 0700)
  const home = mkdtempSync(join(tmpdir(), 'sigstack-cli-backup-user-'));
  t.teardown(() => rmSync(home, { recursive: true, force: true }));
  chmodSync(home, 0o755);
  const data = join(home, 'data');
  const out = join(home, 'out');
  cpSync(small, data, { recursive: true });
  mkdirSync(out);
  const chownAll = (p: string) => {
    chownSync(p, 65534, 65534);
    if (statSync(p).isDirectory()) for (const n of readdirSync(p)) chownAll(join(p, n));
  };
  chownAll(data);
  chownAll(out);
  // a root backup killed outright (OOM) left its work folder, 0700 with a database copy in it
  const gone = spawn(process.execPath, ['-e', '']);
  await once(gone, 'exit');
  const stale = `${workFolderPrefix('backup', gone.pid)}AbC123`;
  mkdirSync(join(out, stale), { mode: 0o700 });
  writeFileSync(join(out, stale, 'rekor.db'), 'a copy');
  for (const night of [1, 2]) {
    const child = spawn('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '--import', 'tsx', CLI,
      'log', 'backup', '--data-dir', data, '--to', join(out, `night-${night}.bak`)], { cwd: ROOT, env: { ...process.env, HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] });
    const r = await collect(child);
    t.is(r.code, 0, r.stderr);
    t.notRegex(r.stderr, /EACCES|scandir/);
    t.regex(r.stderr, new RegExp(`cannot remove the stale work folder \\S*${stale}`));
  }
  t.deepEqual(readdirSync(out).sort(), ['night-1.bak', 'night-2.bak', stale].sort(), 'the backups, and root\'s folder left for root');
});

test.serial('restore: usage errors are named and exit 2; a --data-dir in folders that do not exist yet is restored', async (t) => {
  const dir = mkdtempSync(join(base, 'usage-'));
  mkdirSync(join(dir, 'folder'));
  writeFileSync(join(dir, 'file'), 'not a backup');
  const cases: [string[], RegExp][] = [
    [['--from', join(dir, 'nonexist.tar'), '--data-dir', join(dir, 'r1')], /cannot read the archive \S+nonexist\.tar: it does not exist/],
    [['--from', join(dir, 'folder'), '--data-dir', join(dir, 'r1')], /the archive \S+folder is a folder/],
    [['--from', join(dir, 'file'), '--data-dir', join(dir, 'r1')], /\S+file is not a sigstack backup/],
    [['--from', largeArchive, '--data-dir', join(dir, 'file')], /--data-dir \S+file is a file: give a new folder/],
    [['--from', largeArchive, '--data-dir', join(dir, 'file', 'sub')], /cannot make \S+file\/sub: a part of its path is not a folder/],
    [['--from', largeArchive, '--data-dir', small], /small is not empty: restore into a new folder/],
  ];
  for (const [args, message] of cases) {
    const r = await runCli(['log', 'restore', ...args]);
    t.is(r.code, 2, r.stderr);
    t.regex(r.stderr, message);
    t.regex(r.stderr, /Run "sigstack log restore --help" for usage/);
    t.notRegex(r.stderr, /ENOENT|EISDIR|ENOTDIR|scandir|mkdtemp/);
  }
  t.deepEqual(readdirSync(dir).sort(), ['file', 'folder'], 'nothing was made');
  const nested = await runCli(['log', 'restore', '--from', largeArchive, '--data-dir', join(dir, 'nodir', 'sub', 'r3')]);
  t.is(nested.code, 0, nested.stderr);
  t.true(readdirSync(join(dir, 'nodir', 'sub', 'r3')).includes('meta.json'));
  const help = await runCli(['log', 'restore', '--help']);
  t.regex(help.stdout, /Exit codes: 0 restored, 1 the restore failed[\s\S]*2 bad usage/);
});
