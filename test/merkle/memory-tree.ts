import { leafHash, nodeHash } from '../../log/merkle/hash.ts';
import type { NodeSource } from '../../log/merkle/proofs.ts';

/**
 * Test helper: a NodeSource over an in-memory list of leaves, computing each complete subtree
 * by brute force (no frontier, no store), and counting how many nodes a computation asks for.
 */
export class MemoryTree implements NodeSource {
  readonly leafHashes: Buffer[];
  reads = 0;

  constructor(leaves: readonly Uint8Array[]) {
    this.leafHashes = leaves.map((l) => leafHash(l));
  }

  static ofSize(n: number, tag = 'leaf'): MemoryTree {
    return new MemoryTree(Array.from({ length: n }, (_, i) => Buffer.from(`${tag} ${i}`)));
  }

  node(level: number, index: number): Buffer {
    this.reads++;
    const width = 2 ** level;
    if (!Number.isSafeInteger(index) || index < 0 || (index + 1) * width > this.leafHashes.length) {
      throw new Error(`node (${level}, ${index}) is not a complete subtree of a ${this.leafHashes.length}-leaf tree`);
    }
    return this.#hash(level, index);
  }

  readonly #memo = new Map<string, Buffer>();

  #hash(level: number, index: number): Buffer {
    if (level === 0) return this.leafHashes[index];
    const key = `${level}/${index}`;
    let h = this.#memo.get(key);
    if (!h) {
      h = nodeHash(this.#hash(level - 1, 2 * index), this.#hash(level - 1, 2 * index + 1));
      this.#memo.set(key, h);
    }
    return h;
  }
}

export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
export const unhex = (s: string): Buffer => Buffer.from(s, 'hex');
