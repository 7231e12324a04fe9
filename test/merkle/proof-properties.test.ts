import test from 'ava';
import fc from 'fast-check';
import { createRequire } from 'node:module';
import { consistencyProof, inclusionProof, rootHash } from '../../log/merkle/proofs.ts';
import { rootFromInclusionProof, verifyConsistency, verifyInclusion } from '../../log/merkle/verify.ts';
import { MemoryTree } from './memory-tree.ts';

// sigstore-js's own inclusion verifier, as an independent oracle (test-only import of its internals).
const require = createRequire(import.meta.url);
const { verifyMerkleInclusion } = require('@sigstore/verify/dist/tlog/merkle.js') as {
  verifyMerkleInclusion(entry: unknown, checkpoint: unknown): void;
};

const MAX = 300;
const big = MemoryTree.ofSize(MAX);
const roots = Array.from({ length: MAX + 1 }, (_, n) => rootHash(big, n));
const leafArb = fc.integer({ min: 1, max: MAX }).chain((size) => fc.record({ size: fc.constant(size), index: fc.nat(size - 1) }));
const pairArb = fc.integer({ min: 1, max: MAX }).chain((second) => fc.record({ second: fc.constant(second), first: fc.integer({ min: 1, max: second }) }));

function flipBit(proof: Buffer[], which: number, bit: number): Buffer[] {
  const out = proof.map((p) => Buffer.from(p));
  out[which % out.length][bit >> 3] ^= 1 << (bit & 7);
  return out;
}

test('every inclusion proof verifies, for every index of every size up to 70', (t) => {
  const failures: string[] = [];
  for (let n = 1; n <= 70; n++) {
    for (let i = 0; i < n; i++) {
      if (!verifyInclusion(big.leafHashes[i], i, n, inclusionProof(big, i, n), roots[n])) failures.push(`${i}/${n}`);
    }
  }
  t.deepEqual(failures, []);
});

test('every consistency proof verifies, for every pair of sizes up to 70', (t) => {
  const failures: string[] = [];
  for (let n = 1; n <= 70; n++) {
    for (let m = 1; m <= n; m++) {
      if (!verifyConsistency(m, n, consistencyProof(big, m, n), roots[m], roots[n])) failures.push(`${m} -> ${n}`);
    }
  }
  t.deepEqual(failures, []);
});

test('property: random inclusion proofs verify; flipped bits, wrong index, wrong size fail', (t) => {
  t.notThrows(() => fc.assert(fc.property(leafArb, fc.nat(), fc.nat(255), ({ size, index }, which, bit) => {
    const proof = inclusionProof(big, index, size);
    const leaf = big.leafHashes[index];
    if (!verifyInclusion(leaf, index, size, proof, roots[size])) return false;
    if (proof.length > 0 && verifyInclusion(leaf, index, size, flipBit(proof, which, bit), roots[size])) return false;
    if (verifyInclusion(leaf, index, size, proof, flipBit([roots[size]], 0, bit)[0])) return false;
    if (verifyInclusion(flipBit([leaf], 0, bit)[0], index, size, proof, roots[size])) return false;
    for (let other = 0; other < size; other++) {
      if (other !== index && verifyInclusion(leaf, other, size, proof, roots[size])) return false;
    }
    // A proof alone does not pin the size (the signed root does), so "wrong size" means the real root of that size.
    for (let s = index + 1; s <= MAX; s++) {
      if (s !== size && verifyInclusion(leaf, index, s, proof, roots[s])) return false;
    }
    return proof.length === 0 || !verifyInclusion(leaf, index, size, proof.slice(0, -1), roots[size]);
  }), { numRuns: 150 }));
});

test('property: random consistency proofs verify; flipped bits and wrong sizes fail', (t) => {
  t.notThrows(() => fc.assert(fc.property(pairArb, fc.nat(), fc.nat(255), ({ first, second }, which, bit) => {
    const proof = consistencyProof(big, first, second);
    if (!verifyConsistency(first, second, proof, roots[first], roots[second])) return false;
    if (first === second) return proof.length === 0;
    if (verifyConsistency(first, second, flipBit(proof, which, bit), roots[first], roots[second])) return false;
    if (verifyConsistency(first, second, proof, flipBit([roots[first]], 0, bit)[0], roots[second])) return false;
    if (verifyConsistency(first, second, proof, roots[first], flipBit([roots[second]], 0, bit)[0])) return false;
    if (verifyConsistency(first, second, [...proof, roots[0] ?? roots[1]], roots[first], roots[second])) return false;
    if (verifyConsistency(first, second, proof.slice(0, -1), roots[first], roots[second])) return false;
    for (let m = 1; m < second; m++) {
      if (m !== first && verifyConsistency(m, second, proof, roots[m], roots[second])) return false;
    }
    return true;
  }), { numRuns: 150 }));
});

test('property: sigstore-js verifyMerkleInclusion accepts our proofs (including index == size - 1)', (t) => {
  const check = (index: number, size: number) => {
    verifyMerkleInclusion(
      { canonicalizedBody: Buffer.from(`leaf ${index}`), inclusionProof: { logIndex: String(index), hashes: inclusionProof(big, index, size) } },
      { logSize: BigInt(size), logHash: roots[size] },
    );
  };
  for (let n = 1; n <= 70; n++) check(n - 1, n); // sigstore-js#646: the last leaf's proof
  t.notThrows(() => fc.assert(fc.property(leafArb, ({ size, index }) => {
    check(index, size);
    return true;
  }), { numRuns: 200 }));
});

test('index == size - 1 (sigstore-js#646): the last leaf verifies and its proof has the right length', (t) => {
  for (let n = 1; n <= 70; n++) {
    const proof = inclusionProof(big, n - 1, n);
    t.true(verifyInclusion(big.leafHashes[n - 1], n - 1, n, proof, roots[n]));
    t.is(rootFromInclusionProof(big.leafHashes[n - 1], n - 1, n, proof).toString('hex'), roots[n].toString('hex'));
    t.throws(() => rootFromInclusionProof(big.leafHashes[n - 1], n - 1, n, [...proof, roots[1]]), { instanceOf: RangeError });
  }
  t.is(inclusionProof(big, 0, 1).length, 0);
  t.true(verifyInclusion(big.leafHashes[0], 0, 1, [], big.leafHashes[0]));
});

test('generators refuse impossible arguments with RangeError', (t) => {
  const bad: [string, () => unknown][] = [
    ['index == size', () => inclusionProof(big, 5, 5)],
    ['index > size', () => inclusionProof(big, 9, 5)],
    ['negative index', () => inclusionProof(big, -1, 5)],
    ['fractional size', () => inclusionProof(big, 0, 2.5)],
    ['size 0', () => inclusionProof(big, 0, 0)],
    ['consistency from 0 (rekor#1290)', () => consistencyProof(big, 0, 5)],
    ['first > second', () => consistencyProof(big, 6, 5)],
    ['NaN', () => consistencyProof(big, NaN, 5)],
    ['negative root size', () => rootHash(big, -1)],
  ];
  for (const [name, fn] of bad) t.throws(fn, { instanceOf: RangeError }, name);
  t.deepEqual(consistencyProof(big, 7, 7), []);
});

test('verifiers reject malformed input by returning false, and rootFromInclusionProof throws RangeError', (t) => {
  const proof = inclusionProof(big, 5, 8);
  const leaf = big.leafHashes[5];
  t.false(verifyInclusion(leaf, 8, 8, proof, roots[8]));
  t.false(verifyInclusion(leaf, -1, 8, proof, roots[8]));
  t.false(verifyInclusion(leaf.subarray(0, 31), 5, 8, proof, roots[8]));
  t.false(verifyInclusion(leaf, 5, 8, [proof[0].subarray(0, 31), ...proof.slice(1)], roots[8]));
  t.false(verifyInclusion(leaf, 5, 8, proof, roots[8].subarray(0, 31)));
  t.false(verifyInclusion(leaf, 5, 8, 'nope' as unknown as Buffer[], roots[8]));
  t.throws(() => rootFromInclusionProof(leaf, 5, 8, proof.slice(0, 2)), { instanceOf: RangeError });
  t.throws(() => rootFromInclusionProof(leaf, 8, 8, proof), { instanceOf: RangeError });
  t.throws(() => rootFromInclusionProof(leaf, 5, 8, [...proof, proof[0]]), { instanceOf: RangeError });
  const cproof = consistencyProof(big, 6, 8);
  t.false(verifyConsistency(0, 8, [], roots[0] ?? Buffer.alloc(32), roots[8]));
  t.false(verifyConsistency(8, 6, cproof, roots[8], roots[6]));
  t.false(verifyConsistency(6, 8, [], roots[6], roots[8]));
  t.false(verifyConsistency(6, 8, cproof, roots[6].subarray(0, 31), roots[8]));
  t.true(verifyConsistency(4, 4, [], roots[4], roots[4]));
  t.false(verifyConsistency(4, 4, [roots[4]], roots[4], roots[4]));
  t.false(verifyConsistency(4, 4, [], roots[4], roots[5]));
});

test('root comparison is exact bytes (rekor#2861): an ASCII-case variant of the root does not verify', (t) => {
  // Find a proof whose root contains an ASCII letter byte; flipping its case must break verification.
  const proof = inclusionProof(big, 3, 10);
  const root = Buffer.from(roots[10]);
  const pos = root.findIndex((b) => (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a));
  t.true(pos >= 0);
  root[pos] ^= 0x20;
  t.false(verifyInclusion(big.leafHashes[3], 3, 10, proof, root));
});
