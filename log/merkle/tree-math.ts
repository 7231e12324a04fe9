/**
 * Integer helpers for tree positions. Tree sizes can exceed 2^31, where JavaScript's bitwise
 * operators silently truncate to 32 bits, so everything here is plain arithmetic on safe integers.
 */

/** True when n is a non-negative safe integer. */
export function isTreeIndex(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

/** The largest power of two strictly less than n (n >= 2): RFC 6962's split point k. */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** True when n is a power of two (n >= 1). */
export function isPowerOfTwo(n: number): boolean {
  let k = 1;
  while (k < n) k *= 2;
  return k === n;
}

/** floor(n / 2). */
export function half(n: number): number {
  return Math.floor(n / 2);
}

/** True when the lowest bit of n is set. */
export function isOdd(n: number): boolean {
  return n % 2 === 1;
}
