import test from 'ava';
import Database from 'better-sqlite3';
import { openMerkleLog } from '../../log/merkle-log.ts';
import { leafHash } from '../../log/merkle/hash.ts';
import { verifyConsistency, verifyInclusion } from '../../log/merkle/verify.ts';
import { rootHash } from '../../log/merkle/proofs.ts';
import { MemoryTree } from '../merkle/memory-tree.ts';
import { tempDbPath } from './temp-dir.ts';

const leaf = (i: number, tag = 'entry') => Buffer.from(`${tag} ${i}`);

test('500 concurrent appends: indices 0..499 exactly once, one group commit, every proof verifies', async (t) => {
  let clockCalls = 0;
  const log = openMerkleLog({ path: ':memory:', clock: () => 1_700_000_000_000 + ++clockCalls });
  const results = await Promise.all(Array.from({ length: 500 }, (_, i) => log.append(leaf(i))));
  t.deepEqual(results.map((r) => r.entry.index).sort((a, b) => a - b), Array.from({ length: 500 }, (_, i) => i));
  t.true(results.every((r) => !r.duplicate));
  // All 500 were queued before the first flush, so they share one transaction (and one clock reading).
  t.is(clockCalls, 1);
  t.is(new Set(results.map((r) => r.entry.integratedTimeMs)).size, 1);
  t.is(log.size(), 500);

  // Independent root: the leaves in index order, hashed by brute force.
  const byIndex = results.slice().sort((a, b) => a.entry.index - b.entry.index).map((r) => r.entry.leaf);
  const reference = new MemoryTree(byIndex);
  t.is(log.rootHash().toString('hex'), rootHash(reference, 500).toString('hex'));
  const root = log.rootHash();
  for (const r of results) {
    if (!verifyInclusion(r.entry.leafHash, r.entry.index, 500, log.inclusionProof(r.entry.index, 500), root)) t.fail(`index ${r.entry.index}`);
  }
  for (const size of [1, 2, 3, 7, 64, 100, 255, 256, 257, 499]) {
    t.is(log.rootHash(size).toString('hex'), rootHash(reference, size).toString('hex'));
    t.true(verifyConsistency(size, 500, log.consistencyProof(size, 500), log.rootHash(size), root));
    t.true(verifyInclusion(reference.leafHashes[size - 1], size - 1, size, log.inclusionProof(size - 1, size), log.rootHash(size)));
  }
  await log.close();
});

test('sequential appends after each other form separate batches and stay gap-free', async (t) => {
  const log = openMerkleLog({ path: ':memory:' });
  for (let i = 0; i < 20; i++) t.is((await log.append(leaf(i))).entry.index, i);
  t.is(log.rootHash().toString('hex'), rootHash(new MemoryTree(Array.from({ length: 20 }, (_, i) => leaf(i))), 20).toString('hex'));
  await log.close();
});

test('duplicates, committed or earlier in the same batch, return the existing entry and append nothing', async (t) => {
  const log = openMerkleLog({ path: ':memory:', clock: () => 42_000 });
  const first = await log.append(leaf(1), Buffer.from('extra-1'));
  t.deepEqual(first.entry, { index: 0, leafHash: leafHash(leaf(1)), leaf: leaf(1), integratedTimeMs: 42_000, extra: Buffer.from('extra-1') });
  const [a, b, c, d] = await Promise.all([log.append(leaf(2)), log.append(leaf(2)), log.append(leaf(1)), log.append(leaf(3))]);
  t.false(a.duplicate);
  t.true(b.duplicate);
  t.deepEqual(b.entry, a.entry);
  t.true(c.duplicate);
  t.deepEqual(c.entry, first.entry);
  t.is(d.entry.index, 2);
  t.is(log.size(), 3);
  const again = await log.append(leaf(2), Buffer.from('other extra'));
  t.true(again.duplicate);
  t.is(again.entry.index, 1);
  t.is(again.entry.extra, null);
  t.is(log.size(), 3);
  await log.close();
});

test('reads: entries, ranges, leaf-hash lookups, and RangeErrors for impossible proofs', async (t) => {
  const log = openMerkleLog({ path: ':memory:', clock: () => 5 });
  t.is(log.rootHash().toString('hex'), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  t.throws(() => log.inclusionProof(0, 0), { instanceOf: RangeError });
  await Promise.all(Array.from({ length: 10 }, (_, i) => log.append(leaf(i), i % 2 ? Buffer.from([i]) : null)));
  t.deepEqual(log.getEntry(3)?.extra, Buffer.from([3]));
  t.is(log.getEntry(4)?.extra, null);
  t.is(log.getEntry(10), undefined);
  t.is(log.getEntry(-1), undefined);
  t.is(log.getEntry(1.5), undefined);
  t.deepEqual(log.getEntries(7, 100).map((e) => e.index), [7, 8, 9]);
  t.deepEqual(log.getEntries(2, 8, 3).map((e) => e.index), [2, 3, 4]);
  t.deepEqual(log.getEntries(5, 4), []);
  t.deepEqual(log.getEntries(10, 20), []);
  t.throws(() => log.getEntries(-1, 3), { instanceOf: RangeError });
  t.is(log.findByLeafHash(leafHash(leaf(6)))?.index, 6);
  t.is(log.findByLeafHash(leafHash(Buffer.from('absent'))), undefined);
  t.is(log.findByLeafHash(Buffer.alloc(3)), undefined);
  const impossible: [string, () => unknown][] = [
    ['tree size above log size (rekor#1311)', () => log.inclusionProof(0, 11)],
    ['index == tree size', () => log.inclusionProof(5, 5)],
    ['negative index', () => log.inclusionProof(-1, 5)],
    ['non-integer size', () => log.inclusionProof(0, 2.5)],
    ['consistency from 0 (rekor#1290)', () => log.consistencyProof(0, 5)],
    ['consistency first > second', () => log.consistencyProof(6, 5)],
    ['consistency beyond log size', () => log.consistencyProof(5, 11)],
    ['root beyond log size', () => log.rootHash(11)],
  ];
  for (const [name, fn] of impossible) t.throws(fn, { instanceOf: RangeError }, name);
  t.deepEqual(log.consistencyProof(10, 10), []);
  await log.close();
});

test('reopening a file gives the same size, roots, proofs and entries, and appends continue gap-free', async (t) => {
  const path = tempDbPath(t);
  const log = openMerkleLog({ path });
  await Promise.all(Array.from({ length: 77 }, (_, i) => log.append(leaf(i))));
  const root = log.rootHash();
  const proof = log.inclusionProof(40, 77);
  const cons = log.consistencyProof(33, 77);
  await log.close();

  const reopened = openMerkleLog({ path });
  t.is(reopened.size(), 77);
  t.deepEqual(reopened.rootHash(), root);
  t.deepEqual(reopened.inclusionProof(40, 77), proof);
  t.deepEqual(reopened.consistencyProof(33, 77), cons);
  t.deepEqual(reopened.getEntry(40)?.leaf, leaf(40));
  t.is((await reopened.append(leaf(77))).entry.index, 77);
  t.true((await reopened.append(leaf(5))).duplicate);
  const all = reopened.getEntries(0, 77).map((e) => e.leaf);
  t.deepEqual(reopened.rootHash(), rootHash(new MemoryTree(all), 78));
  await reopened.close();
});

test('close() commits appends that were still queued, then refuses new ones', async (t) => {
  const path = tempDbPath(t);
  const log = openMerkleLog({ path });
  const pending = Array.from({ length: 30 }, (_, i) => log.append(leaf(i)));
  await log.close();
  const settled = await Promise.all(pending);
  t.deepEqual(settled.map((r) => r.entry.index), Array.from({ length: 30 }, (_, i) => i));
  await t.throwsAsync(log.append(leaf(99)));
  await t.notThrowsAsync(log.close());
  const reopened = openMerkleLog({ path });
  t.is(reopened.size(), 30);
  await reopened.close();
});

test('a failed transaction rejects its whole batch and leaves the frontier consistent with the database', async (t) => {
  const path = tempDbPath(t);
  const log = openMerkleLog({ path });
  await Promise.all(Array.from({ length: 5 }, (_, i) => log.append(leaf(i))));
  // Inject a failure in the middle of the next batch, after some of its rows and nodes were written.
  const saboteur = new Database(path);
  saboteur.exec(`CREATE TRIGGER sabotage BEFORE INSERT ON entries WHEN NEW.idx = 7 BEGIN SELECT RAISE(ABORT, 'injected failure'); END`);
  const batch = Array.from({ length: 6 }, (_, i) => log.append(leaf(100 + i)));
  const outcomes = await Promise.allSettled(batch);
  t.true(outcomes.every((o) => o.status === 'rejected'));
  t.is(log.size(), 5);
  saboteur.exec('DROP TRIGGER sabotage');
  saboteur.close();

  // The same leaves now go in at the indices they would have had; the tree matches a brute-force one.
  const retried = await Promise.all(Array.from({ length: 6 }, (_, i) => log.append(leaf(100 + i))));
  t.deepEqual(retried.map((r) => r.entry.index), [5, 6, 7, 8, 9, 10]);
  const leaves = [...Array.from({ length: 5 }, (_, i) => leaf(i)), ...Array.from({ length: 6 }, (_, i) => leaf(100 + i))];
  const reference = new MemoryTree(leaves);
  t.deepEqual(log.rootHash(), rootHash(reference, 11));
  t.true(verifyInclusion(reference.leafHashes[6], 6, 11, log.inclusionProof(6, 11), log.rootHash()));
  await log.close();
  const reopened = openMerkleLog({ path });
  t.deepEqual(reopened.rootHash(), rootHash(reference, 11));
  await reopened.close();
});

test('append rejects non-byte input without touching the log', async (t) => {
  const log = openMerkleLog({ path: ':memory:' });
  await t.throwsAsync(log.append('text' as unknown as Buffer), { instanceOf: TypeError });
  await t.throwsAsync(log.append(Buffer.from('x'), 'extra' as unknown as Buffer), { instanceOf: TypeError });
  t.is((await log.append(new Uint8Array([1, 2, 3]) as Buffer)).entry.index, 0);
  t.is(log.size(), 1);
  await log.close();
});

test('a second writer on the same file makes the stale engine fail one batch, then resync from disk', async (t) => {
  const path = tempDbPath(t);
  const a = openMerkleLog({ path });
  await Promise.all(Array.from({ length: 5 }, (_, i) => a.append(leaf(i))));
  const b = openMerkleLog({ path });
  t.is((await b.append(leaf(5))).entry.index, 5);
  // `a` still believes the size is 5: its insert of index 5 collides, the batch fails, nothing is half-written.
  await t.throwsAsync(a.append(leaf(6)), { any: true, code: 'SQLITE_CONSTRAINT_PRIMARYKEY' });
  t.is(a.size(), 6);
  t.is((await a.append(leaf(6))).entry.index, 6);
  const reference = new MemoryTree(Array.from({ length: 7 }, (_, i) => leaf(i)));
  t.deepEqual(a.rootHash(), rootHash(reference, 7));
  t.deepEqual(b.rootHash(6), rootHash(reference, 6));
  await a.close();
  await b.close();
});

test('an invalid clock reading fails the batch before anything is written', async (t) => {
  let now = Number.NaN;
  const log = openMerkleLog({ path: ':memory:', clock: () => now });
  await t.throwsAsync(log.append(leaf(1)), { message: /clock/ });
  t.is(log.size(), 0);
  now = 1000;
  t.is((await log.append(leaf(1))).entry.integratedTimeMs, 1000);
  await log.close();
});

test('the engine keeps its own copy of a leaf: reusing the caller buffer before commit changes nothing', async (t) => {
  const log = openMerkleLog({ path: ':memory:' });
  const buf = Buffer.from('original');
  const pending = log.append(buf);
  buf.write('mutated!');
  const { entry } = await pending;
  t.deepEqual(entry.leaf, Buffer.from('original'));
  t.deepEqual(entry.leafHash, leafHash(Buffer.from('original')));
  t.deepEqual(log.getEntry(0)?.leaf, Buffer.from('original'));
  await log.close();
});
