import type { NodeSource } from '../merkle/proofs.ts';

/**
 * The upper tree levels (>= minLevel, 8 by default: every subtree of 256 leaves or more) in memory, in front
 * of the store. Every proof touches the top levels, so keeping them makes a proof in a 10M-entry log read
 * about as many rows as one in a small log: only the 8 lowest siblings, which the store packs in one tile row.
 * Packed: one growable buffer of 32-byte hashes per level plus a presence map
 * (33 bytes a node, against ~150 for a Map of Buffers), so a 10M log's ~80k upper nodes take ~2.6 MiB.
 * Indices at or above `maxPerLevel` are not cached, which bounds memory (~8.6 MiB at the default) whatever
 * the log size. Complete subtree hashes never change, so nothing is ever invalidated.
 */
const HASH = 32;

class PackedLevel {
  hashes = Buffer.alloc(0);
  present = new Uint8Array(0);

  /** A copy (callers must not alter the cache): one pooled allocation, no intermediate view. */
  get(index: number): Buffer | undefined {
    if (index >= this.present.length || !this.present[index]) return undefined;
    const out = Buffer.allocUnsafe(HASH);
    this.hashes.copy(out, 0, index * HASH, (index + 1) * HASH);
    return out;
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

/** A store that can hand over a whole block of upper nodes in one read (SqliteStore). */
export interface UpperBlockSource extends NodeSource {
  upperBlock(level: number, index: number, fn: (level: number, index: number, hash: Buffer) => void): void;
}

export class NodeCache implements NodeSource {
  readonly #inner: NodeSource | UpperBlockSource;
  readonly #minLevel: number;
  readonly #maxPerLevel: number;
  readonly #levels: PackedLevel[] = [];

  constructor(inner: NodeSource | UpperBlockSource, minLevel = 8, maxPerLevel = 1 << 17) {
    // below level 6 a node is one of many in its tile row, which the store reads once per proof anyway
    if (minLevel < 6) throw new RangeError('NodeCache caches levels >= 6 only');
    this.#inner = inner;
    this.#minLevel = minLevel;
    this.#maxPerLevel = maxPerLevel;
  }

  node(level: number, index: number): Buffer {
    if (level < this.#minLevel || index >= this.#maxPerLevel) return this.#inner.node(level, index);
    const packed = (this.#levels[level] ??= new PackedLevel());
    const cached = packed.get(index);
    if (cached) return cached;
    if (level >= 8 && level < 16 && 'upperBlock' in this.#inner) {
      // A miss fills the node's whole block: the cache warms in ~1k proofs at 10M, not ~100k.
      this.#inner.upperBlock(level, index, (l, i, hash) => {
        if (l >= this.#minLevel && i < this.#maxPerLevel) (this.#levels[l] ??= new PackedLevel()).set(i, hash);
      });
      const filled = packed.get(index);
      if (filled) return filled;
    }
    const hash = this.#inner.node(level, index);
    packed.set(index, hash);
    return hash;
  }
}
