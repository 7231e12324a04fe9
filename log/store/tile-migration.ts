import type Database from 'better-sqlite3';
import { fromPosition } from './tree-position.ts';
import { ROWS_PER_GROUP, ROW_BYTES, ROW_LEAVES, groupOf, rowOf, storedOffset, type TileRow } from './tile-layout.ts';

/** 256-leaf groups per transaction: ~260k entries, a WAL of a few MiB, and progress often enough to watch. */
const CHUNK_GROUPS = 1024;
/** Every node of group g's eight lowest levels has its in-order position in [g * 512, g * 512 + 510]. */
const SPAN = 2 * ROW_LEAVES * ROWS_PER_GROUP;

/**
 * Converts a schema-1 database (one `tree` row per node) to schema 2 (levels 0-7 in 64-leaf tile rows,
 * levels >= 8 left in `tree`), a chunk of 256-leaf groups per transaction. Each chunk inserts its rows and
 * deletes the tree rows they replace together, so a kill at any point leaves a consistent file and the next
 * open resumes after the last group written; the schema version changes in the last chunk's transaction.
 * Reads the tree in key order (sequential I/O); freed pages are reused by later appends (the file does not
 * shrink). Progress is reported in groups.
 */
export function migrateTreeToTiles(
  db: Database.Database, version: number, progress?: (done: number, total: number) => void, chunkGroups = CHUNK_GROUPS,
): void {
  db.exec('CREATE TABLE IF NOT EXISTS tiles (tile INTEGER PRIMARY KEY, leaves INTEGER NOT NULL, done INTEGER NOT NULL, hashes BLOB NOT NULL)');
  const size = ((db.prepare('SELECT max(idx) FROM entries').pluck().get() as number | null) ?? -1) + 1;
  const total = Math.ceil(size / (ROW_LEAVES * ROWS_PER_GROUP));
  const nodes = db.prepare('SELECT pos, hash FROM tree WHERE pos BETWEEN ? AND ? ORDER BY pos');
  const remove = db.prepare('DELETE FROM tree WHERE pos BETWEEN ? AND ? AND pos % 256 != 255');
  const insert = db.prepare('INSERT INTO tiles (tile, leaves, done, hashes) VALUES (?, ?, ?, ?)');
  const last = db.prepare('SELECT max(tile) FROM tiles').pluck().get() as number | null;
  let next = last === null ? 0 : groupOf(last) + 1;
  const chunk = db.transaction((first: number, end: number) => {
    const rows = new Map<number, TileRow>();
    const rowAt = (r: number) => {
      let t = rows.get(r);
      if (!t) rows.set(r, (t = { leaves: 0, done: 0, hashes: Buffer.alloc(ROW_BYTES) }));
      return t;
    };
    for (const node of nodes.iterate(first * SPAN, end * SPAN - 1) as Iterable<{ pos: number; hash: Buffer }>) {
      const { level, index } = fromPosition(node.pos);
      if (level === 6) {
        const g = groupOf(index);
        for (let r = g * ROWS_PER_GROUP; r < (g + 1) * ROWS_PER_GROUP; r++) {
          const t = rowAt(r);
          node.hash.copy(t.hashes, storedOffset(6, index, r)!);
          t.done++;
        }
        continue;
      }
      const row = rowOf(level, index);
      const offset = storedOffset(level, index, row);
      if (offset === undefined) continue; // odd levels and level >= 8
      const t = rowAt(row);
      node.hash.copy(t.hashes, offset);
      if (level === 0) t.leaves++;
    }
    for (let r = first * ROWS_PER_GROUP; r < end * ROWS_PER_GROUP; r++) {
      const leaves = Math.min(ROW_LEAVES, size - r * ROW_LEAVES);
      if (leaves <= 0) break;
      const t = rowAt(r);
      const done = Math.min(ROWS_PER_GROUP, Math.floor((size - groupOf(r) * ROWS_PER_GROUP * ROW_LEAVES) / ROW_LEAVES));
      if (t.leaves !== leaves || t.done !== done) {
        throw new Error(`log database tree is damaged: tile ${r} has ${t.leaves} of ${leaves} leaf hashes and ${t.done} of ${done} level-6 nodes`);
      }
      insert.run(r, t.leaves, t.done, t.hashes);
    }
    remove.run(first * SPAN, end * SPAN - 1);
    if (end === total) db.pragma(`user_version = ${version}`);
  });
  if (next >= total) db.pragma(`user_version = ${version}`);
  while (next < total) {
    const end = Math.min(total, next + chunkGroups);
    chunk.immediate(next, end);
    next = end;
    progress?.(next, total);
  }
}
