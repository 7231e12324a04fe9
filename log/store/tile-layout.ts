import { HASH_SIZE, nodeHash } from '../merkle/hash.ts';

/**
 * The eight lowest tree levels, packed so that ONE small row answers every node a proof needs below level 8.
 *
 * A row covers a 64-leaf tile and holds its levels 0, 2 and 4 (64 + 16 + 4 hashes) plus the four level-6
 * nodes of its 256-leaf group (the tile's own root and its neighbours'): 88 hashes, 2,816 bytes. Odd levels
 * are one hash of two stored children (~1 µs; storing them would cost a third more bytes), level 7 is the
 * hash of two level-6 nodes. The row fits inline in a 4 KiB SQLite page (no overflow chain), so a proof's
 * eight lowest siblings cost one B-tree lookup and one page, and the proof working set of a 10M log is one
 * page per 64 leaves, apart from the entry bodies. Level 8 and above live in the `tree` table.
 * The group's level-6 nodes complete after the row is first written: the store writes them back into the
 * group's earlier rows (at most 3 extra row writes per 64 appends); `done` says how many are present.
 */
export const TILE_HEIGHT = 8; // levels below this are in tile rows
const ROW_HEIGHT = 6;
export const ROW_LEAVES = 2 ** ROW_HEIGHT;
export const ROWS_PER_GROUP = 2 ** (TILE_HEIGHT - ROW_HEIGHT);
const OFFSET: Record<number, number> = { 0: 0, 2: 64, 4: 80, 6: 84 };
export const ROW_BYTES = 88 * HASH_SIZE;

/** One stored row: `leaves` of its 64 leaves are present, and the first `done` level-6 nodes of its group. */
export interface TileRow {
  leaves: number;
  done: number;
  hashes: Buffer;
}

/** The row that holds node (level < 6, index), and for levels 6 and 7 the row that completes it. */
export function rowOf(level: number, index: number): number {
  if (level < ROW_HEIGHT) return Math.floor(index / 2 ** (ROW_HEIGHT - level));
  return level === ROW_HEIGHT ? index : 2 * index + 1;
}

/** The 256-leaf group of a row. */
export function groupOf(row: number): number {
  return Math.floor(row / ROWS_PER_GROUP);
}

/** Where a stored node (level 0, 2, 4 or 6) of `row` sits in its blob, or undefined for levels that are hashed on read. */
export function storedOffset(level: number, index: number, row: number): number | undefined {
  if (level === ROW_HEIGHT) return (OFFSET[6]! + index - groupOf(row) * ROWS_PER_GROUP) * HASH_SIZE;
  if (level >= ROW_HEIGHT || level % 2 === 1) return undefined;
  return (OFFSET[level]! + index - row * (ROW_LEAVES >> level)) * HASH_SIZE;
}

function stored(r: TileRow, offset: number): Buffer {
  return r.hashes.subarray(offset, offset + HASH_SIZE);
}

/**
 * Node (level < 8, index) from `r`, the row at position `row`, or undefined if that row does not hold it
 * (another row, or a subtree not complete there). Always a fresh buffer.
 */
export function rowNode(r: TileRow, row: number, level: number, index: number): Buffer | undefined {
  if (level >= ROW_HEIGHT) {
    const group = groupOf(row);
    const first = index * 2 ** (level - ROW_HEIGHT); // first level-6 node under it
    const count = 2 ** (level - ROW_HEIGHT);
    if (groupOf(first) !== group || first - group * ROWS_PER_GROUP + count > r.done) return undefined;
    const at = storedOffset(ROW_HEIGHT, first, row)!;
    return level === ROW_HEIGHT ? Buffer.from(stored(r, at)) : nodeHash(stored(r, at), stored(r, at + HASH_SIZE));
  }
  if (rowOf(level, index) !== row || (index + 1) * 2 ** level - row * ROW_LEAVES > r.leaves) return undefined;
  if (level % 2 === 0) return Buffer.from(stored(r, storedOffset(level, index, row)!));
  const left = storedOffset(level - 1, 2 * index, row)!;
  return nodeHash(stored(r, left), stored(r, left + HASH_SIZE));
}
