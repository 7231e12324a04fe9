import test from 'ava';
import fc from 'fast-check';
import { Frontier } from '../../log/merkle/frontier.ts';
import { rootHash } from '../../log/merkle/proofs.ts';
import { MemoryTree } from './memory-tree.ts';

const tree = MemoryTree.ofSize(600);

test('appending leaf by leaf gives the RFC 6962 root at every size, and emits exactly the completed subtrees', (t) => {
  const f = new Frontier(0, []);
  t.is(f.root().toString('hex'), rootHash(tree, 0).toString('hex'));
  for (let n = 1; n <= 600; n++) {
    const created = f.append(tree.leafHashes[n - 1]);
    if (!f.root().equals(rootHash(tree, n))) t.fail(`root at ${n}`);
    // Leaf n-1 completes one subtree per trailing 1 bit of n-1, at levels 1.., each matching the brute-force hash.
    let trailingOnes = 0;
    for (let x = n - 1; x % 2 === 1; x = Math.floor(x / 2)) trailingOnes++;
    if (created.length !== trailingOnes) t.fail(`created count at ${n}`);
    for (const c of created) if (!c.hash.equals(tree.node(c.level, c.index))) t.fail(`node ${c.level}/${c.index}`);
  }
  t.is(f.size, 600);
});

test('property: a frontier reloaded from its positions continues identically', (t) => {
  t.notThrows(() => fc.assert(fc.property(fc.integer({ min: 0, max: 550 }), fc.integer({ min: 1, max: 50 }), (start, more) => {
    const reloaded = new Frontier(start, Frontier.positions(start).map((p) => tree.node(p.level, p.index)));
    for (let i = start; i < start + more; i++) reloaded.append(tree.leafHashes[i]);
    return reloaded.root().equals(rootHash(tree, start + more));
  }), { numRuns: 100 }));
});

test('positions are the maximal complete subtrees, largest first, at most one per bit', (t) => {
  t.deepEqual(Frontier.positions(0), []);
  t.deepEqual(Frontier.positions(1), [{ level: 0, index: 0 }]);
  t.deepEqual(Frontier.positions(13), [{ level: 3, index: 0 }, { level: 2, index: 2 }, { level: 0, index: 12 }]);
  t.is(Frontier.positions(Number.MAX_SAFE_INTEGER).length, 53);
  t.deepEqual(Frontier.positions(2 ** 40 + 1), [{ level: 40, index: 0 }, { level: 0, index: 2 ** 40 }]);
  t.throws(() => new Frontier(3, []), { instanceOf: RangeError });
});

test('hashAt serves exactly the frontier subtrees', (t) => {
  const f = new Frontier(0, []);
  for (let i = 0; i < 13; i++) f.append(tree.leafHashes[i]);
  for (const p of Frontier.positions(13)) t.deepEqual(f.hashAt(p.level, p.index), tree.node(p.level, p.index));
  t.is(f.hashAt(0, 0), undefined);
  t.is(f.hashAt(2, 0), undefined);
  t.is(f.hashAt(3, 1), undefined);
  const copy = f.clone();
  copy.append(tree.leafHashes[13]);
  t.deepEqual(copy.hashAt(1, 6), tree.node(1, 6));
  t.is(f.hashAt(1, 6), undefined, 'a clone does not share state');
});
