import test from 'ava';
import Database from 'better-sqlite3';
import { openMerkleLog } from '../../log/merkle-log.ts';
import { tempDbPath } from './temp-dir.ts';

const keysOf = (leaf: Buffer) => [`k:${leaf.toString().split(' ')[0]}`];

/** A log whose file predates the search index: made by the engine, then the table dropped as if never created. */
async function logWithoutIndex(path: string, n: number): Promise<void> {
  const log = openMerkleLog({ path });
  await Promise.all(Array.from({ length: n }, (_, i) => log.append(Buffer.from(`${i % 3} entry ${i}`))));
  await log.close();
  const db = new Database(path);
  db.exec('DROP TABLE search_index');
  db.close();
}

test('entries stored before the search index existed are indexed on the first open with an indexer', async (t) => {
  const path = tempDbPath(t);
  await logWithoutIndex(path, 10_000);
  // opened first without an indexer (as the CT log is): the marker stays, nothing is lost
  await openMerkleLog({ path }).close();
  const log = openMerkleLog({ path, indexKeys: keysOf });
  t.teardown(() => log.close());
  const zero = log.searchIndex('k:0', 100_000);
  t.is(zero.length, 3334);
  t.deepEqual(zero.slice(0, 3), [0, 3, 6]);
  t.is(log.searchIndex('k:2', 100_000).at(-1), 9998);
  // new appends are indexed as before, and the marker is gone
  const { entry } = await log.append(Buffer.from('1 after'));
  t.true(log.searchIndex('k:1', 100_000).includes(entry.index));
  const db = new Database(path, { readonly: true });
  t.is(db.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'search_index_backfill'").pluck().get(), 0);
  db.close();
});

test('a backfill stopped midway resumes from its marker and indexes each entry once', async (t) => {
  const path = tempDbPath(t);
  await logWithoutIndex(path, 5_000);
  await openMerkleLog({ path }).close(); // creates the table and the marker, indexes nothing
  const db = new Database(path);
  // as if killed after the first chunk: entries below 4096 indexed, the marker moved past them
  const insert = db.prepare('INSERT INTO search_index (key, idx) VALUES (?, ?)');
  db.transaction(() => {
    for (let i = 0; i < 4096; i++) insert.run(`k:${i % 3}`, i);
    db.prepare('UPDATE search_index_backfill SET next_idx = 4096').run();
  })();
  db.close();
  const seen: Buffer[] = [];
  const log = openMerkleLog({ path, indexKeys: (leaf) => (seen.push(leaf), keysOf(leaf)) });
  t.teardown(() => log.close());
  t.is(seen.length, 5_000 - 4096, 'only the entries after the marker are read again');
  t.is(log.searchIndex('k:0', 100_000).length, 1667);
  t.is(log.searchIndex('k:1', 100_000).length, 1667);
  t.is(log.searchIndex('k:2', 100_000).length, 1666);
});

test('keys computed by the caller are stored as given; a log without an indexer stores none', async (t) => {
  const indexed = openMerkleLog({ path: tempDbPath(t), indexKeys: keysOf });
  const plain = openMerkleLog({ path: tempDbPath(t) });
  t.teardown(async () => { await indexed.close(); await plain.close(); });
  const a = await indexed.append(Buffer.from('x first'), null, ['k:given']);
  const b = await indexed.append(Buffer.from('x second'));
  t.deepEqual(indexed.searchIndex('k:given', 10), [a.entry.index]);
  t.deepEqual(indexed.searchIndex('k:x', 10), [b.entry.index], 'without keys the indexer runs');
  await plain.append(Buffer.from('y'), null, ['k:given']);
  t.deepEqual(plain.searchIndex('k:given', 10), []);
});
