import { EMPTY_ROOT, nodeHash } from './hash.ts';
import { isTreeIndex, splitPoint } from './tree-math.ts';

/**
 * RFC 6962 / RFC 9162 §2.1 proof construction over stored complete subtrees.
 * Pure: the caller supplies the hashes through a NodeSource, and every function reads O(log n) of them.
 * Subtrees on the tree's incomplete right edge are never stored; they are folded from complete ones.
 */
export interface NodeSource {
  /**
   * Hash of the COMPLETE subtree covering leaves [index * 2^level, (index + 1) * 2^level).
   * Level 0 is the leaf hashes.
   */
  node(level: number, index: number): Buffer;
}

/**
 * MTH(D[start : start + size]) where `start` is a multiple of the smallest power of two >= size,
 * which holds for every range RFC 6962's recursion visits. The range splits into complete
 * subtrees, largest first (one per set bit of `size`), folded right to left.
 */
export function subtreeHash(src: NodeSource, start: number, size: number): Buffer {
  const level = Math.log2(size);
  if (Number.isInteger(level) && 2 ** level === size) return src.node(level, start / size); // one complete subtree: most calls
  const parts: Buffer[] = [];
  let offset = start;
  let remaining = size;
  while (remaining > 0) {
    let width = 1;
    let level = 0;
    while (width * 2 <= remaining) {
      width *= 2;
      level++;
    }
    parts.push(src.node(level, offset / width));
    offset += width;
    remaining -= width;
  }
  let hash = parts[parts.length - 1];
  for (let i = parts.length - 2; i >= 0; i--) hash = nodeHash(parts[i], hash);
  return hash;
}

/** MTH(D[0:size]); the empty tree hashes to SHA-256(""). */
export function rootHash(src: NodeSource, size: number): Buffer {
  if (!isTreeIndex(size)) throw new RangeError(`invalid tree size ${size}`);
  return size === 0 ? EMPTY_ROOT : subtreeHash(src, 0, size);
}

/** PATH(index, D[0:size]) of RFC 6962 §2.1.1, ordered from the leaf upwards. */
export function inclusionProof(src: NodeSource, index: number, size: number): Buffer[] {
  if (!isTreeIndex(index) || !isTreeIndex(size)) throw new RangeError('invalid inclusion proof arguments');
  if (index >= size) throw new RangeError(`leaf index ${index} is not below tree size ${size}`);
  // Walk down from the root, noting the sibling range at each split; hash them leaf-first (the proof's order),
  // so a store reads the leaf's neighbourhood before the wider siblings it may already hold with it.
  const ranges: number[] = [];
  let start = 0;
  let n = size;
  let m = index;
  while (n > 1) {
    const k = splitPoint(n);
    if (m < k) {
      ranges.push(start + k, n - k);
      n = k;
    } else {
      ranges.push(start, k);
      start += k;
      m -= k;
      n -= k;
    }
  }
  return hashRangesReversed(src, ranges);
}

/** subtreeHash of each (start, size) pair in `ranges`, last pair first. */
function hashRangesReversed(src: NodeSource, ranges: readonly number[]): Buffer[] {
  const out: Buffer[] = [];
  for (let i = ranges.length - 2; i >= 0; i -= 2) out.push(subtreeHash(src, ranges[i]!, ranges[i + 1]!));
  return out;
}

/**
 * PROOF(first, D[0:second]) of RFC 6962 §2.1.2. A proof from size 0 is refused (rekor#1290):
 * every tree extends the empty tree, so such a "proof" proves nothing and hides client bugs.
 * first == second yields the empty proof.
 */
export function consistencyProof(src: NodeSource, first: number, second: number): Buffer[] {
  if (!isTreeIndex(first) || !isTreeIndex(second)) throw new RangeError('invalid consistency proof arguments');
  if (first === 0) throw new RangeError('consistency proof from an empty tree is not allowed');
  if (first > second) throw new RangeError(`first size ${first} exceeds second size ${second}`);
  if (first === second) return [];
  // SUBPROOF(m, D[start:start+n], b) unrolled: sibling ranges are noted top-down, hashed and emitted bottom-up.
  const ranges: number[] = [];
  let start = 0;
  let n = second;
  let m = first;
  let complete = true; // RFC's flag b: whether D[start:start+m] is a prefix of the old tree's root
  while (m !== n) {
    const k = splitPoint(n);
    if (m <= k) {
      ranges.push(start + k, n - k);
      n = k;
    } else {
      ranges.push(start, k);
      start += k;
      m -= k;
      n -= k;
      complete = false;
    }
  }
  // m == n: SUBPROOF(m, D[m], true) = {} and SUBPROOF(m, D[m], false) = {MTH(D[m])}.
  if (!complete) ranges.push(start, m);
  return hashRangesReversed(src, ranges);
}
