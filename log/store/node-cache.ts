import type { NodeSource } from '../merkle/proofs.ts';

/**
 * The upper tree levels (>= minLevel, 8 by default: every subtree of 256 leaves or more) in memory, in front
 * of the store. Every proof touches the top levels, so keeping them makes a proof in a 10M-entry log read
 * about as many rows as one in a small log: only the 8 lowest siblings, which the store's in-order layout
 * keeps on one or two pages. Packed: one growable buffer of 32-byte hashes per level plus a presence map
 * (33 bytes a node, against ~150 for a Map of Buffers), so a 10M log's ~80k upper nodes take ~2.6 MiB.
 * Indices at or above `maxPerLevel` are not cached, which bounds memory (~8.6 MiB at the default) whatever
 * the log size. Complete subtree hashes never change, so nothing is ever invalidated.
 */
const HASH = 32;

class PackedLevel {
  hashes = Buffer.alloc(0);
  present = new Uint8Array(0);

  get(index: number): Buffer | undefined {
    return index < this.present.length && this.present[index] ? this.hashes.subarray(index * HASH, (index + 1) * HASH) : undefined;
  }

  set(index: number, hash: Buffer): void {
    if (index >= this.present.length) {
      const capacity = Math.max(64, 2 ** Math.ceil(Math.log2(index + 1)));
      const hashes = Buffer.alloc(capacity * HASH);
      this.hashes.copy(hashes);
      const present = new Uint8Array(capacity);
      present.set(this.present);
      this.hashes = hashes;
      this.present = present;
    }
    hash.copy(this.hashes, index * HASH);
    this.present[index] = 1;
  }
}

export class NodeCache implements NodeSource {
  readonly #inner: NodeSource;
  readonly #minLevel: number;
  readonly #maxPerLevel: number;
  readonly #levels: PackedLevel[] = [];

  constructor(inner: NodeSource, minLevel = 8, maxPerLevel = 1 << 17) {
    // below level 6 a sibling shares its B-tree page with the leaf's neighbours: the store reads it cheaply
    if (minLevel < 6) throw new RangeError('NodeCache caches levels >= 6 only');
    this.#inner = inner;
    this.#minLevel = minLevel;
    this.#maxPerLevel = maxPerLevel;
  }

  node(level: number, index: number): Buffer {
    if (level < this.#minLevel || index >= this.#maxPerLevel) return this.#inner.node(level, index);
    const packed = (this.#levels[level] ??= new PackedLevel());
    const cached = packed.get(index);
    if (cached) return Buffer.from(cached); // a copy: callers must not alter the cache
    const hash = this.#inner.node(level, index);
    packed.set(index, hash);
    return hash;
  }
}
