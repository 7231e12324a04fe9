import { EMPTY_ROOT, nodeHash } from './hash.ts';
import { half, isOdd, isTreeIndex } from './tree-math.ts';

/** A complete subtree: leaves [index * 2^level, (index + 1) * 2^level). */
export interface SubtreePosition {
  level: number;
  index: number;
}

export interface SubtreeHash extends SubtreePosition {
  hash: Buffer;
}

/**
 * The right frontier (compact range) of a tree: the roots of its maximal complete subtrees, one per
 * set bit of the size, largest first. At most 64 hashes, so appending computes every new parent
 * without reading storage, and the current root is a fold of these hashes.
 */
export class Frontier {
  #size: number;
  #hashes: Buffer[];
  #positions: SubtreePosition[];

  /** `hashes` must be the subtree hashes at `Frontier.positions(size)`, in that order. */
  constructor(size: number, hashes: readonly Buffer[]) {
    if (!isTreeIndex(size)) throw new RangeError(`invalid tree size ${size}`);
    this.#positions = Frontier.positions(size);
    if (hashes.length !== this.#positions.length) throw new RangeError('frontier does not match tree size');
    this.#size = size;
    this.#hashes = [...hashes];
  }

  /** Which complete subtrees form the frontier of a tree of `size`: what to read to reload it. */
  static positions(size: number): SubtreePosition[] {
    const levels: number[] = [];
    for (let n = size, level = 0; n > 0; n = half(n), level++) if (isOdd(n)) levels.push(level);
    const out: SubtreePosition[] = [];
    let start = 0;
    for (const level of levels.reverse()) {
      const width = 2 ** level;
      out.push({ level, index: start / width });
      start += width;
    }
    return out;
  }

  get size(): number {
    return this.#size;
  }

  /**
   * Adds the next leaf. Returns the complete subtrees at level >= 1 that this leaf completed
   * (the nodes a store must persist so later proofs can read them).
   */
  append(leafHash: Buffer): SubtreeHash[] {
    const created: SubtreeHash[] = [];
    let hash = leafHash;
    let index = this.#size;
    let level = 0;
    // Each trailing 1 bit of the old size is a frontier subtree that now has a right sibling of equal height.
    while (isOdd(index)) {
      hash = nodeHash(this.#hashes.pop()!, hash);
      this.#positions.pop();
      index = half(index);
      level++;
      created.push({ level, index, hash });
    }
    this.#hashes.push(hash);
    this.#positions.push({ level, index });
    this.#size++;
    return created;
  }

  /**
   * The hash of complete subtree (level, index) if it is one of the frontier's, else undefined.
   * Proofs against the current size need exactly these on the right edge: served without a read.
   */
  hashAt(level: number, index: number): Buffer | undefined {
    // O(1) rejection of the common case (a node inside the tree): a frontier node of height `level` exists
    // only if that bit of the size is set, and it starts where the larger frontier subtrees end.
    const width = 2 ** level;
    if (Math.floor(this.#size / width) % 2 !== 1 || index !== 2 * Math.floor(this.#size / (2 * width))) return undefined;
    const p = this.#positions;
    for (let i = p.length - 1; i >= 0; i--) if (p[i].level === level && p[i].index === index) return this.#hashes[i];
    return undefined;
  }

  /** MTH of the whole tree, folding the frontier right to left. */
  root(): Buffer {
    const h = this.#hashes;
    if (h.length === 0) return EMPTY_ROOT;
    let root = h[h.length - 1];
    for (let i = h.length - 2; i >= 0; i--) root = nodeHash(h[i], root);
    return root;
  }

  clone(): Frontier {
    return new Frontier(this.#size, this.#hashes);
  }
}
