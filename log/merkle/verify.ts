import { HASH_SIZE, nodeHash } from './hash.ts';
import { half, isOdd, isPowerOfTwo, isTreeIndex } from './tree-math.ts';

/**
 * RFC 9162 §2.1.3.2 and §2.1.4.2 proof verification, used by the offline verifier.
 * Pure. Root comparisons are exact byte equality (rekor#2861 compared with EqualFold).
 * The inclusion walk never derives the proof length from bit lengths, so index == size - 1
 * (sigstore-js#646, where bitLength(0) was miscomputed) needs no special case.
 */

function checkHash(h: unknown, what: string): asserts h is Uint8Array {
  if (!(h instanceof Uint8Array) || h.length !== HASH_SIZE) throw new RangeError(`${what} is not a ${HASH_SIZE}-byte hash`);
}

function sameHash(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === HASH_SIZE && b.length === HASH_SIZE && Buffer.compare(a, b) === 0;
}

/**
 * The root implied by an inclusion proof for `leafHash` at `index` in a tree of `size`.
 * Throws RangeError when the proof cannot be one for these coordinates (wrong length, index >= size, bad hashes).
 */
export function rootFromInclusionProof(leafHash: Uint8Array, index: number, size: number, proof: readonly Uint8Array[]): Buffer {
  if (!isTreeIndex(index) || !isTreeIndex(size)) throw new RangeError('invalid index or tree size');
  if (index >= size) throw new RangeError(`leaf index ${index} is not below tree size ${size}`);
  if (!Array.isArray(proof)) throw new RangeError('proof is not an array');
  checkHash(leafHash, 'leaf hash');
  let fn = index;
  let sn = size - 1;
  let r: Buffer = Buffer.from(leafHash);
  for (const p of proof) {
    checkHash(p, 'proof element');
    if (sn === 0) throw new RangeError('inclusion proof is too long');
    if (isOdd(fn) || fn === sn) {
      r = nodeHash(p, r);
      // Skip the levels where this node is a lone right-edge node promoted without hashing.
      while (!isOdd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) throw new RangeError('inclusion proof is too short');
  return r;
}

/** True when `proof` proves `leafHash` at `index` in the tree of `size` whose root is `root`. Never throws. */
export function verifyInclusion(leafHash: Uint8Array, index: number, size: number, proof: readonly Uint8Array[], root: Uint8Array): boolean {
  try {
    checkHash(root, 'root');
    return sameHash(rootFromInclusionProof(leafHash, index, size, proof), root);
  } catch (e) {
    if (e instanceof RangeError) return false;
    throw e;
  }
}

/**
 * True when `proof` shows the tree of size `first` with root `firstRoot` is a prefix of the tree of size
 * `second` with root `secondRoot`. first == 0 is refused (rekor#1290). Never throws.
 */
export function verifyConsistency(first: number, second: number, proof: readonly Uint8Array[], firstRoot: Uint8Array, secondRoot: Uint8Array): boolean {
  try {
    return checkConsistency(first, second, proof, firstRoot, secondRoot);
  } catch (e) {
    if (e instanceof RangeError) return false;
    throw e;
  }
}

function checkConsistency(first: number, second: number, proof: readonly Uint8Array[], firstRoot: Uint8Array, secondRoot: Uint8Array): boolean {
  if (!isTreeIndex(first) || !isTreeIndex(second) || first === 0 || first > second) return false;
  if (!Array.isArray(proof)) return false;
  checkHash(firstRoot, 'first root');
  checkHash(secondRoot, 'second root');
  for (const p of proof) checkHash(p, 'proof element');
  if (first === second) return proof.length === 0 && sameHash(firstRoot, secondRoot);
  // When the old tree is a complete subtree its root is the first node of the path and is omitted from the proof.
  const path = isPowerOfTwo(first) ? [firstRoot, ...proof] : [...proof];
  if (path.length === 0) return false;
  let fn = first - 1;
  let sn = second - 1;
  while (isOdd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr: Buffer = Buffer.from(path[0]);
  let sr: Buffer = Buffer.from(path[0]);
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (isOdd(fn) || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while (!isOdd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && sameHash(fr, firstRoot) && sameHash(sr, secondRoot);
}
