import type Database from 'better-sqlite3';
import { ROWS_PER_GROUP, ROW_BYTES, ROW_LEAVES, groupOf, rowNode, rowOf, storedOffset, type TileRow } from './tile-layout.ts';

/** Where the group's level-6 nodes start in every row. */
const L6_OFFSET = storedOffset(6, 0, 0)!;

/** Rows kept decoded in memory: a proof reads one, so a handful is plenty (16 x 2.8 KB). */
const RECENT_ROWS = 16;

interface Writable {
  data: TileRow;
  dirty: boolean;
}

/**
 * The `tiles` table (see tile-layout.ts). Reads go through a tiny LRU of rows; writes go through the rows of the group being appended to, held in memory,
 * so a batch rewrites each row it touched ONCE (at flush, inside the batch's transaction).
 * Memory is bounded: RECENT_ROWS + 4 rows.
 */
export class TileStore {
  readonly #read;
  readonly #readGroup;
  readonly #write;
  readonly #recent = new Map<number, TileRow>();
  /** The group being written and its rows (all of them that exist). */
  #group: { group: number; rows: Map<number, Writable> } | undefined;
  /** Database rows read, for tests and metrics that check a proof reads O(1) rows below the cached levels. */
  reads = 0;

  constructor(db: Database.Database) {
    this.#read = db.prepare('SELECT leaves, done, hashes FROM tiles WHERE tile = ?').raw();
    this.#readGroup = db.prepare('SELECT tile, leaves, done, hashes FROM tiles WHERE tile BETWEEN ? AND ?');
    this.#write = db.prepare('INSERT OR REPLACE INTO tiles (tile, leaves, done, hashes) VALUES (?, ?, ?, ?)');
  }

  /** Node (level < 8, index), or undefined if it is not a complete subtree in the store. */
  node(level: number, index: number): Buffer | undefined {
    const home = rowOf(level, index);
    if (level >= 6) {
      // Any row of the group holds its level-6 nodes: prefer one a proof has just read (its leaf's row).
      const first = groupOf(home) * ROWS_PER_GROUP;
      for (let r = first; r < first + ROWS_PER_GROUP; r++) {
        const cached = this.#cached(r);
        const hash = cached && rowNode(cached, r, level, index);
        if (hash) return hash;
      }
    }
    const data = this.#row(home);
    const hash = data && rowNode(data, home, level, index);
    if (hash || !data || this.#group?.rows.has(home)) return hash;
    const fresh = this.#fetch(home);
    return fresh && rowNode(fresh, home, level, index);
  }

  /** Records a node written by an append; odd levels are dropped (recomputed on read), level 6 goes to every row of its group. */
  put(level: number, index: number, hash: Buffer): void {
    const row = rowOf(level, index);
    if (level === 6) {
      const rows = this.#writableGroup(groupOf(row)).rows;
      for (const [r, w] of rows) {
        hash.copy(w.data.hashes, storedOffset(6, index, r)!);
        w.data.done = Math.max(w.data.done, index - groupOf(row) * ROWS_PER_GROUP + 1);
        w.dirty = true;
      }
      return;
    }
    const offset = storedOffset(level, index, row);
    if (offset === undefined) return;
    const w = this.#writable(row);
    hash.copy(w.data.hashes, offset);
    if (level === 0) w.data.leaves = Math.max(w.data.leaves, index - row * ROW_LEAVES + 1);
    w.dirty = true;
  }

  /** Writes the rows changed since the last flush. Call before the transaction commits. */
  flush(): void {
    for (const [r, w] of this.#group?.rows ?? []) {
      if (!w.dirty) continue;
      this.#write.run(r, w.data.leaves, w.data.done, w.data.hashes);
      this.#recent.delete(r);
      w.dirty = false;
    }
  }

  /** Forgets unflushed and cached state: after a rollback the database is the truth again. */
  reset(): void {
    this.#group = undefined;
    this.#recent.clear();
  }

  #writableGroup(group: number): { group: number; rows: Map<number, Writable> } {
    if (this.#group?.group === group) return this.#group;
    this.flush();
    const first = group * ROWS_PER_GROUP;
    const rows = new Map<number, Writable>();
    for (const row of this.#readGroup.all(first, first + ROWS_PER_GROUP - 1) as (TileRow & { tile: number })[]) {
      this.reads++;
      rows.set(row.tile, { data: checked(row.tile, { leaves: row.leaves, done: row.done, hashes: Buffer.from(row.hashes) }), dirty: false });
    }
    this.#group = { group, rows };
    return this.#group;
  }

  #writable(row: number): Writable {
    const { rows } = this.#writableGroup(groupOf(row));
    let w = rows.get(row);
    if (!w) {
      // A new row starts with the group's level-6 nodes known so far (from any earlier row of the group).
      const hashes = Buffer.alloc(ROW_BYTES);
      let done = 0;
      for (const other of rows.values()) {
        if (other.data.done < done) continue;
        done = other.data.done;
        other.data.hashes.copy(hashes, L6_OFFSET, L6_OFFSET);
      }
      w = { data: { leaves: 0, done, hashes }, dirty: true };
      rows.set(row, w);
    }
    return w;
  }

  /** A row without a database read, if memory has it as committed. */
  #cached(row: number): TileRow | undefined {
    const w = this.#group?.rows.get(row);
    if (w) return w.dirty ? undefined : w.data; // between batches the group's rows equal the committed ones
    const hit = this.#recent.get(row);
    if (hit) {
      this.#recent.delete(row);
      this.#recent.set(row, hit); // most recently used last
    }
    return hit;
  }

  #row(row: number): TileRow | undefined {
    return this.#cached(row) ?? this.#fetch(row);
  }

  #fetch(row: number): TileRow | undefined {
    this.reads++;
    const raw = this.#read.get(row) as [number, number, Buffer] | undefined;
    if (!raw) return undefined;
    const found: TileRow = { leaves: raw[0], done: raw[1], hashes: raw[2] };
    // Cached even while still growing: only this store's flush() changes a row, and it evicts it (a rollback
    // clears everything). A node missing from a cached copy is looked up again in case someone else wrote it.
    const data = checked(row, found);
    this.#recent.set(row, data);
    if (this.#recent.size > RECENT_ROWS) this.#recent.delete(this.#recent.keys().next().value!);
    return data;
  }
}

function checked(row: number, data: TileRow): TileRow {
  if (data.hashes.length !== ROW_BYTES || data.leaves < 0 || data.leaves > ROW_LEAVES || data.done < 0 || data.done > ROWS_PER_GROUP) {
    throw new Error(`log database tile ${row} is damaged (${data.hashes.length} bytes, ${data.leaves} leaves, ${data.done} done)`);
  }
  return data;
}
