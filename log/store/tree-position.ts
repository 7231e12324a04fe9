/**
 * In-order position of complete subtree (level, index): the key of the `tree` table. Node (level, i) sits at
 * i * 2^(level+1) + 2^level - 1, so the nodes of every subtree are contiguous in key order.
 */
export function treePosition(level: number, index: number): number {
  return index * 2 ** (level + 1) + 2 ** level - 1;
}

/** Inverse of treePosition: pos + 1 = (2 * index + 1) * 2^level. */
export function fromPosition(pos: number): { level: number; index: number } {
  let x = pos + 1;
  let level = 0;
  while (x % 2 === 0) {
    x /= 2;
    level++;
  }
  return { level, index: (x - 1) / 2 };
}
