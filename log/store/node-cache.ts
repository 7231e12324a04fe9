import type { NodeSource } from '../merkle/proofs.ts';

/**
 * A bounded cache of the upper tree levels in front of the store. Every proof touches the top
 * levels, so keeping them in memory makes a proof in a 10M-entry log read about as many rows as
 * one in a small log. Complete subtree hashes never change, so nothing is ever invalidated.
 * The capacity bounds memory whatever the log size (oldest entries are dropped first).
 */
export class NodeCache implements NodeSource {
  readonly #inner: NodeSource;
  readonly #minLevel: number;
  readonly #capacity: number;
  readonly #hashes = new Map<number, Buffer>();

  constructor(inner: NodeSource, minLevel = 8, capacity = 1 << 16) {
    // At level >= 6 an index is below 2^47, so `index * 64 + level` is a unique safe integer.
    if (minLevel < 6) throw new RangeError('NodeCache caches levels >= 6 only');
    this.#inner = inner;
    this.#minLevel = minLevel;
    this.#capacity = capacity;
  }

  node(level: number, index: number): Buffer {
    if (level < this.#minLevel) return this.#inner.node(level, index);
    const key = index * 64 + level;
    let hash = this.#hashes.get(key);
    if (hash === undefined) {
      hash = this.#inner.node(level, index);
      if (this.#hashes.size >= this.#capacity) this.#hashes.delete(this.#hashes.keys().next().value!);
      this.#hashes.set(key, hash);
    }
    return hash;
  }
}
