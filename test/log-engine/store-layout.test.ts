import test from 'ava';
import Database from 'better-sqlite3';
import { openMerkleLog } from '../../log/merkle-log.ts';
import { inclusionProof } from '../../log/merkle/proofs.ts';
import { NodeCache } from '../../log/store/node-cache.ts';
import { SqliteStore } from '../../log/store/sqlite-store.ts';
import { MemoryTree } from '../merkle/memory-tree.ts';
import { tempDbPath } from './temp-dir.ts';

test('the store holds every complete subtree: levels 0-7 packed per 64-leaf row, levels >= 8 as tree rows', async (t) => {
  const path = tempDbPath(t);
  const log = openMerkleLog({ path });
  const size = 600; // two full tiles and a partial one, two level-8 nodes and one level-9 node
  const leaves = Array.from({ length: size }, (_, i) => Buffer.from(`layout ${i}`));
  // Several batches, so the partial tile is rewritten and the full ones are written once complete.
  for (let i = 0; i < size; i += 97) await Promise.all(leaves.slice(i, i + 97).map((l) => log.append(l)));
  await log.close();
  const reference = new MemoryTree(leaves);
  const store = new SqliteStore(path);
  let upper = 0;
  for (let level = 0; 2 ** level <= size; level++) {
    for (let index = 0; (index + 1) * 2 ** level <= size; index++) {
      if (!store.node(level, index).equals(reference.node(level, index))) t.fail(`(${level}, ${index}) differs`);
      if (level >= 8) upper++;
    }
  }
  t.throws(() => store.node(1, 300), { message: /missing/ }, 'incomplete subtrees are never stored');
  t.throws(() => store.node(3, 75), { message: /missing/ }, 'an odd level is not hashed from absent children');
  t.throws(() => store.node(8, 2), { message: /missing/ });
  store.close();
  const db = new Database(path, { readonly: true });
  t.is(db.prepare('SELECT count(*) FROM tree').pluck().get(), upper);
  // 64-leaf rows: 9 full ones and one of 24 leaves; group 2 (rows 8, 9) has one complete level-6 node so far.
  t.deepEqual(db.prepare('SELECT tile, leaves, done, length(hashes) AS bytes FROM tiles ORDER BY tile').all(),
    Array.from({ length: 10 }, (_, tile) => ({ tile, leaves: tile < 9 ? 64 : 24, done: tile < 8 ? 4 : 1, bytes: 2816 })));
  // Inline rows (no overflow chain): one page each, so a proof's lower levels cost one page.
  const pages = db.prepare("SELECT count(*) FROM dbstat WHERE name = 'tiles' AND pagetype = 'overflow'").pluck().get();
  t.is(pages, 0);
  t.is(db.pragma('user_version', { simple: true }), 2);
  t.is(db.pragma('journal_mode', { simple: true }), 'wal');
  db.close();
});

test('a proof in a ~100k log reads O(log n) rows, and the upper levels come from the bounded cache', (t) => {
  const store = new SqliteStore(':memory:');
  const size = 100_000;
  // Fill the store directly: identical rows to what the engine writes, without 100k promises.
  const reference = MemoryTree.ofSize(size);
  store.transaction(() => {
    for (let i = 0; i < size; i++) {
      store.insertEntry({ index: i, leafHash: reference.leafHashes[i], leaf: Buffer.from(`leaf ${i}`), integratedTimeMs: 0, extra: null });
    }
    for (let level = 1; 2 ** level <= size; level++) {
      const nodes = [];
      for (let index = 0; (index + 1) * 2 ** level <= size; index++) nodes.push({ level, index, hash: reference.node(level, index) });
      store.insertNodes(nodes);
    }
  });
  const cache = new NodeCache(store);
  store.nodeReads = 0;
  inclusionProof(store, 12_345, size);
  t.true(store.nodeReads <= 17 + 2, `uncached proof read ${store.nodeReads} rows`); // upper levels + two tiles
  for (let i = 0; i < 200; i++) inclusionProof(cache, (i * 7919) % size, size);
  store.nodeReads = 0;
  const proof = inclusionProof(cache, 54_321, size);
  // Levels 0..7 from the leaf's tile, the right edge below level 8 from the last (partial) tile.
  t.true(store.nodeReads <= 2, `cached proof read ${store.nodeReads} rows`);
  t.deepEqual(proof, inclusionProof(reference, 54_321, size));
  // A miss above level 8 fills its whole 65,536-leaf block: a proof elsewhere in the block reads tiles only.
  const fresh = new NodeCache(store);
  inclusionProof(fresh, 100, size);
  store.nodeReads = 0;
  t.deepEqual(inclusionProof(fresh, 60_000, size), inclusionProof(reference, 60_000, size));
  t.true(store.nodeReads <= 2, `a proof in a filled block read ${store.nodeReads} rows`);
  t.throws(() => new NodeCache(store, 3), { instanceOf: RangeError });
  store.close();
});

test('the node cache never holds nodes past its per-level bound', (t) => {
  const reference = MemoryTree.ofSize(4096);
  const cache = new NodeCache(reference, 6, 10);
  for (let i = 0; i < 64; i++) t.deepEqual(cache.node(6, i), reference.node(6, i));
  reference.reads = 0;
  cache.node(6, 9);
  t.is(reference.reads, 0, 'nodes below the bound are served from memory');
  cache.node(6, 63);
  t.is(reference.reads, 1, 'nodes past the bound are read from the store every time');
  const copy = cache.node(6, 3);
  copy.fill(0);
  t.deepEqual(cache.node(6, 3), reference.node(6, 3), 'callers get copies');
});

test('a database from an unknown schema version is refused', (t) => {
  const path = tempDbPath(t);
  const db = new Database(path);
  db.pragma('user_version = 99');
  db.close();
  t.throws(() => openMerkleLog({ path }), { message: /schema version 99/ });
});
