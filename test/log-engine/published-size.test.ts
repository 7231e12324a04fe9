/**
 * The high-water mark of published tree sizes (log/published-size.ts): `<db>.published` records the largest tree size
 * whose checkpoint was shown to clients, written only after the database committed it, and a database holding fewer
 * entries (an older copy put in place, its -wal lost after kill -9) is refused at open, naming both files and sizes,
 * instead of being served as a smaller tree under the same key (a fork).
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { openMerkleLog, type IndexedMerkleLog } from '../../log/merkle-log.ts';
import { PublishedSizeError } from '../../log/published-size.ts';
import { tempDbPath } from './temp-dir.ts';

const ENGINE = fileURLToPath(new URL('../../log/merkle-log.ts', import.meta.url));

async function fill(log: IndexedMerkleLog, from: number, to: number): Promise<void> {
  await Promise.all(Array.from({ length: to - from }, (_, i) => log.append(Buffer.from(`leaf ${from + i}`))));
}

function mark(path: string): number | undefined {
  const file = `${path}.published`;
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { publishedTreeSize: number }).publishedTreeSize : undefined;
}

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

test('published sizes are recorded beside the database; close and reopen are fine', async (t) => {
  const path = tempDbPath(t);
  const log = openMerkleLog({ path });
  t.is(mark(path), undefined, 'nothing published yet: no file');
  await fill(log, 0, 5);
  log.publishCheckpoint(5, 'note 5');
  t.is(mark(path), 5, 'the first publish is written at once');
  await fill(log, 5, 9);
  log.publishCheckpoint(9, 'note 9');
  log.publishCheckpoint(3, 'note 3'); // an older size never lowers it
  await log.close();
  t.is(mark(path), 9, 'close writes what the throttle held back');
  const again = openMerkleLog({ path });
  t.is(again.size(), 9);
  await again.close();
  t.false(existsSync(`${path}-wal`));
});

test('an older copy of the database put back is refused, naming both files, N and M, and left as it was', async (t) => {
  const path = tempDbPath(t, 'rekor.db');
  const old = `${path}.old-copy`;
  let log = openMerkleLog({ path });
  await fill(log, 0, 4);
  log.publishCheckpoint(4, 'note 4');
  await log.close();
  copyFileSync(path, old); // a backup of the 4-entry tree (closed: no WAL beside it)
  log = openMerkleLog({ path });
  await fill(log, 4, 12);
  log.publishCheckpointLater(12, 'note 12'); // as entry responses do
  await log.close();
  t.is(mark(path), 12);

  copyFileSync(old, path);
  const bytes = readFileSync(path);
  const err = t.throws(() => openMerkleLog({ path }), { instanceOf: PublishedSizeError });
  t.is(err!.held, 4);
  t.is(err!.published, 12);
  t.true(err!.message.includes(`${path} holds 4 entries, but ${path}.published records that checkpoints of 12 entries were shown to clients`), err!.message);
  t.regex(err!.message, /rolled back .*-wal file lost/);
  t.regex(err!.message, /sigstack log restore/);
  t.deepEqual(readFileSync(path), bytes, 'a refused database is not written');
  t.false(existsSync(`${path}-wal`) || existsSync(`${path}-shm`), 'nor left with a -wal or -shm');

  // a restored folder has no such file: the operator's restore is accepted
  rmSync(`${path}.published`);
  log = openMerkleLog({ path });
  t.is(log.size(), 4);
  await log.close();
});

test('kill -9 after publishing, then -wal and -shm deleted: the reopen is refused', async (t) => {
  const path = tempDbPath(t, 'rekor.db');
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', `
    const { openMerkleLog } = await import(${JSON.stringify(ENGINE)});
    const log = openMerkleLog({ path: ${JSON.stringify(path)} });
    await Promise.all(Array.from({ length: 30 }, (_, i) => log.append(Buffer.from('leaf ' + i))));
    log.publishCheckpoint(30, 'note 30');
    process.stdout.write('published\\n');
    setInterval(() => {}, 1000);
  `], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = once(child, 'exit');
  await once(child.stdout, 'data');
  child.kill('SIGKILL');
  await exited;
  t.is(mark(path), 30);
  t.true(existsSync(`${path}-wal`), 'the entries were only in the WAL');
  rmSync(`${path}-wal`);
  rmSync(`${path}-shm`, { force: true });
  const err = t.throws(() => openMerkleLog({ path }), { instanceOf: PublishedSizeError });
  t.regex(err!.message, /rekor\.db holds 0 entries, but \S+rekor\.db\.published records that checkpoints of 30 entries were shown to clients/);
});

test('the pending checkpoints timer writes the file within about a second', async (t) => {
  const path = tempDbPath(t);
  const log = openMerkleLog({ path });
  t.teardown(() => log.close());
  await fill(log, 0, 7);
  log.publishCheckpointLater(7, 'note 7');
  t.is(mark(path), undefined, 'not before the row is committed');
  const t0 = Date.now();
  t.true(await until(() => mark(path) === 7, 2500), 'written by the timer');
  t.true(Date.now() - t0 < 1800, `took ${Date.now() - t0} ms`);
});

test('under load the file is written at most about once a second (coalesced), and close writes the last size', async (t) => {
  const path = tempDbPath(t);
  const log = openMerkleLog({ path });
  await fill(log, 0, 1);
  log.publishCheckpoint(1, 'note 1');
  t.is(mark(path), 1);
  for (let n = 2; n <= 40; n++) {
    await log.append(Buffer.from(`leaf ${n - 1}`));
    log.publishCheckpoint(n, `note ${n}`);
  }
  t.is(mark(path), 1, 'held back within the second');
  t.true(await until(() => mark(path) === 40, 2500), 'then written once, with the largest size');
  await fill(log, 40, 45);
  log.publishCheckpoint(45, 'note 45');
  await log.close();
  t.is(mark(path), 45);
});

test('the file never claims a size whose published row did not commit', async (t) => {
  const path = tempDbPath(t);
  const log = openMerkleLog({ path, publishedSizeIntervalMs: 0 });
  t.teardown(() => log.close());
  await fill(log, 0, 3);
  log.publishCheckpoint(3, 'note 3');
  t.is(mark(path), 3);
  await fill(log, 3, 10);

  // every later insert into the history fails, from another connection
  const other = new Database(path);
  other.exec("CREATE TRIGGER refuse BEFORE INSERT ON published_checkpoints BEGIN SELECT RAISE(ABORT, 'history refused'); END");
  t.throws(() => {
    try {
      log.publishCheckpoint(10, 'note 10');
    } catch (e) {
      throw new Error((e as Error).message); // better-sqlite3's SqliteError is not a native error to ava
    }
  }, { message: /history refused/ });
  t.is(mark(path), 3, 'a failed publish is not recorded');
  log.publishCheckpointLater(10, 'note 10');
  // the batch carries the pending row
  await t.throwsAsync(log.append(Buffer.from('leaf 10')).catch((e: Error) => Promise.reject(new Error(e.message))), { message: /history refused/ });
  t.is(mark(path), 3, 'nor a batch that rolled back');
  t.is(log.size(), 10);

  other.exec('DROP TRIGGER refuse');
  other.close();
  await log.append(Buffer.from('leaf 10 again'));
  t.is(mark(path), 10, 'the pending row committed with the next batch, then the file');
});

test('a malformed file is refused naming it; a missing one is fine; :memory: keeps none', async (t) => {
  const path = tempDbPath(t);
  const log = openMerkleLog({ path });
  await fill(log, 0, 2);
  log.publishCheckpoint(2, 'note 2');
  await log.close();
  writeFileSync(`${path}.published`, 'twelve\n');
  const err = t.throws(() => openMerkleLog({ path }), { instanceOf: PublishedSizeError });
  t.true(err!.message.startsWith(`${path}.published (the published size of ${path}) is malformed`), err!.message);
  writeFileSync(`${path}.published`, '{"publishedTreeSize": -1}\n');
  t.throws(() => openMerkleLog({ path }), { instanceOf: PublishedSizeError, message: /is malformed/ });

  rmSync(`${path}.published`);
  const again = openMerkleLog({ path });
  t.is(again.size(), 2);
  await again.close();
  t.is(mark(path), undefined, 'opening and closing writes nothing');

  const memory = openMerkleLog({ path: ':memory:' });
  await memory.append(Buffer.from('x'));
  memory.publishCheckpoint(1, 'note');
  await memory.close();
  t.false(existsSync(':memory:.published'));
});
