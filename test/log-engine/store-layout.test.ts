import test from 'ava';
import Database from 'better-sqlite3';
import { openMerkleLog } from '../../log/merkle-log.ts';
import { inclusionProof } from '../../log/merkle/proofs.ts';
import { NodeCache } from '../../log/store/node-cache.ts';
import { SqliteStore } from '../../log/store/sqlite-store.ts';
import { MemoryTree } from '../merkle/memory-tree.ts';
import { tempDbPath } from './temp-dir.ts';

test('the store holds every complete subtree (leaves included) under its in-order position', async (t) => {
  const path = tempDbPath(t);
  const log = openMerkleLog({ path });
  const leaves = Array.from({ length: 37 }, (_, i) => Buffer.from(`layout ${i}`));
  await Promise.all(leaves.map((l) => log.append(l)));
  await log.close();
  const reference = new MemoryTree(leaves);
  const store = new SqliteStore(path);
  let complete = 0;
  for (let level = 0; 2 ** level <= 37; level++) {
    for (let index = 0; (index + 1) * 2 ** level <= 37; index++, complete++) {
      t.deepEqual(store.node(level, index), reference.node(level, index), `(${level}, ${index})`);
    }
  }
  t.throws(() => store.node(1, 18), { message: /missing/ }, 'incomplete subtrees are never stored');
  store.close();
  const db = new Database(path, { readonly: true });
  t.is(db.prepare('SELECT count(*) FROM tree').pluck().get(), complete);
  t.is(db.pragma('user_version', { simple: true }), 1);
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
  t.true(store.nodeReads <= 2 * 17 + 1, `uncached proof read ${store.nodeReads} rows`);
  for (let i = 0; i < 200; i++) inclusionProof(cache, (i * 7919) % size, size);
  store.nodeReads = 0;
  const proof = inclusionProof(cache, 54_321, size);
  t.true(store.nodeReads <= 8 + 1 + 8, `cached proof read ${store.nodeReads} rows`); // levels 0..7 plus the right edge below level 8
  t.deepEqual(proof, inclusionProof(reference, 54_321, size));
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
