import test from 'ava';
import Database from 'better-sqlite3';
import { openMerkleLog } from '../../log/merkle-log.ts';
import { consistencyProof, inclusionProof, rootHash } from '../../log/merkle/proofs.ts';
import { migrateTreeToTiles } from '../../log/store/tile-migration.ts';
import { treePosition } from '../../log/store/tree-position.ts';
import { MemoryTree } from '../merkle/memory-tree.ts';
import { tempDbPath } from './temp-dir.ts';

/** A database exactly as schema 1 wrote it: every complete subtree (leaves included) a `tree` row. */
function writeSchema1(path: string, leaves: readonly Buffer[]): MemoryTree {
  const reference = new MemoryTree(leaves);
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.exec(`
    CREATE TABLE entries (idx INTEGER PRIMARY KEY, leaf_hash BLOB NOT NULL UNIQUE, leaf BLOB NOT NULL, integrated_ms INTEGER NOT NULL, extra BLOB);
    CREATE TABLE tree (pos INTEGER PRIMARY KEY, hash BLOB NOT NULL);
    CREATE TABLE search_index (key TEXT NOT NULL, idx INTEGER NOT NULL, PRIMARY KEY (key, idx)) WITHOUT ROWID;
    CREATE TABLE published_checkpoints (size INTEGER PRIMARY KEY, note TEXT NOT NULL, published_ms INTEGER NOT NULL);`);
  const entry = db.prepare('INSERT INTO entries VALUES (?, ?, ?, ?, NULL)');
  const node = db.prepare('INSERT INTO tree VALUES (?, ?)');
  db.transaction(() => {
    leaves.forEach((leaf, i) => entry.run(i, reference.leafHashes[i], leaf, 1000 + i));
    for (let level = 0; 2 ** level <= leaves.length; level++) {
      for (let index = 0; (index + 1) * 2 ** level <= leaves.length; index++) node.run(treePosition(level, index), reference.node(level, index));
    }
    db.prepare("INSERT INTO search_index VALUES ('sha256:ab', 7)").run();
  })();
  db.pragma('user_version = 1');
  db.close();
  return reference;
}

const leavesOf = (n: number) => Array.from({ length: n }, (_, i) => Buffer.from(`schema-1 entry ${i}`));

async function assertServesTree(t: import('ava').ExecutionContext, path: string, reference: MemoryTree, size: number): Promise<void> {
  const log = openMerkleLog({ path });
  t.is(log.size(), size);
  t.deepEqual(log.rootHash(), rootHash(reference, size));
  for (const index of [0, 255, 256, 511, 777, size - 1]) {
    t.deepEqual(log.inclusionProof(index, size), inclusionProof(reference, index, size), `inclusion ${index}`);
    if (index < 800) t.deepEqual(log.inclusionProof(index, 800), inclusionProof(reference, index, 800), `inclusion ${index} in 800`);
  }
  for (const first of [1, 3, 256, 300, 799]) t.deepEqual(log.consistencyProof(first, size), consistencyProof(reference, first, size));
  t.deepEqual(log.rootHash(523), rootHash(reference, 523));
  t.is(log.getEntry(42)?.integratedTimeMs, 1042);
  t.deepEqual(log.searchIndex('sha256:ab', 10), [7]);
  t.is(log.findByLeafHash(reference.leafHashes[900])?.index, 900);
  const next = await log.append(Buffer.from('after the migration'));
  t.is(next.entry.index, size);
  t.deepEqual(log.rootHash(), rootHash(new MemoryTree([...leavesOf(size), Buffer.from('after the migration')]), size + 1));
  await log.close();
}

test('a schema-1 database is converted to tiles on open, with progress, and serves the same tree', async (t) => {
  const path = tempDbPath(t);
  const reference = writeSchema1(path, leavesOf(1000));
  const progress: [number, number][] = [];
  await (await openMerkleLog({ path, migrationProgress: (done, total) => progress.push([done, total]) })).close();
  t.deepEqual(progress, [[4, 4]]);
  const db = new Database(path, { readonly: true });
  t.is(db.pragma('user_version', { simple: true }), 2);
  t.deepEqual(db.prepare('SELECT tile, leaves, done FROM tiles ORDER BY tile').all(),
    Array.from({ length: 16 }, (_, tile) => ({ tile, leaves: tile < 15 ? 64 : 40, done: tile < 12 ? 4 : 3 })));
  t.deepEqual(db.prepare('SELECT pos FROM tree ORDER BY pos').pluck().all(), [treePosition(8, 0), treePosition(9, 0), treePosition(8, 1), treePosition(8, 2)]);
  db.close();
  await assertServesTree(t, path, reference, 1000);
});

test('an interrupted conversion leaves a consistent schema-1 file and resumes on the next open', async (t) => {
  const path = tempDbPath(t);
  const reference = writeSchema1(path, leavesOf(1000));
  const db = new Database(path);
  // One 256-leaf group per transaction, "killed" after the second committed: what a crash mid-conversion leaves.
  t.throws(() => migrateTreeToTiles(db, 2, (done) => { if (done === 2) throw new Error('killed'); }, 1), { message: 'killed' });
  t.is(db.pragma('user_version', { simple: true }), 1);
  t.is(db.prepare('SELECT count(*) FROM tiles').pluck().get(), 8, 'two groups of four rows');
  db.close();
  const seen: number[] = [];
  await (await openMerkleLog({ path, migrationProgress: (done) => seen.push(done) })).close();
  t.deepEqual(seen, [4], 'only the remaining tiles were converted');
  await assertServesTree(t, path, reference, 1000);
});

test('a schema-1 database with a missing leaf hash is refused, not half-served', (t) => {
  const path = tempDbPath(t);
  writeSchema1(path, leavesOf(300));
  const db = new Database(path);
  db.prepare('DELETE FROM tree WHERE pos = ?').run(treePosition(0, 290));
  db.close();
  t.throws(() => openMerkleLog({ path }), { message: /tile 4 has 43 of 44 leaf hashes/ });
  const after = new Database(path, { readonly: true });
  t.is(after.pragma('user_version', { simple: true }), 1, 'the failed chunk rolled back');
  t.is(after.prepare('SELECT count(*) FROM tiles').pluck().get(), 0);
  after.close();
});
