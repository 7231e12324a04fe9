import test from 'ava';
import fc from 'fast-check';
import { consistencyProof, inclusionProof, rootHash } from '../../log/merkle/proofs.ts';

/**
 * A node source for trees far too big to build: returns a fixed hash for any complete subtree inside
 * the tree, refuses anything else, and counts reads. Proves proofs read O(log n) nodes and never
 * ask for a subtree that a store would not have.
 */
class CountingSource {
  reads = 0;
  constructor(readonly size: number) {}
  node(level: number, index: number): Buffer {
    const width = 2 ** level;
    if (!Number.isSafeInteger(index) || index < 0 || (index + 1) * width > this.size) {
      throw new Error(`asked for (${level}, ${index}) outside a ${this.size}-leaf tree`);
    }
    this.reads++;
    return Buffer.alloc(32, level);
  }
}

const log2ceil = (n: number) => Math.ceil(Math.log2(n));
const sizeArb = fc.oneof(fc.integer({ min: 1, max: 1 << 20 }), fc.integer({ min: 1, max: 2 ** 50 }));

test('property: inclusion proofs read at most 2·log2(n) complete subtrees, all inside the tree', (t) => {
  t.notThrows(() => fc.assert(fc.property(sizeArb.chain((size) => fc.record({ size: fc.constant(size), index: fc.integer({ min: 0, max: size - 1 }) })), ({ size, index }) => {
    const src = new CountingSource(size);
    const proof = inclusionProof(src, index, size);
    return proof.length <= log2ceil(size) && src.reads <= 2 * log2ceil(size) + 1;
  }), { numRuns: 300 }));
});

test('property: consistency proofs and past roots read O(log n) complete subtrees', (t) => {
  t.notThrows(() => fc.assert(fc.property(sizeArb.chain((second) => fc.record({ second: fc.constant(second), first: fc.integer({ min: 1, max: second }) })), ({ first, second }) => {
    const src = new CountingSource(second);
    consistencyProof(src, first, second);
    const consistencyReads = src.reads;
    src.reads = 0;
    rootHash(src, first);
    return consistencyReads <= 3 * log2ceil(second) + 2 && src.reads <= log2ceil(first) + 1;
  }), { numRuns: 300 }));
});

test('at 10M entries a proof reads about as many nodes as at 1k (log n)', (t) => {
  const reads = (size: number) => {
    const src = new CountingSource(size);
    inclusionProof(src, Math.floor(size / 3), size);
    return src.reads;
  };
  t.true(reads(10_000_000) <= 2 * 24 + 1);
  t.true(reads(1000) <= 2 * 10 + 1);
});
