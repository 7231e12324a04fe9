import Database from 'better-sqlite3';
import type { NodeSource } from '../merkle/proofs.ts';
import type { SubtreeHash } from '../merkle/frontier.ts';
import type { StoredEntry } from '../types.ts';
import { migrateTreeToTiles } from './tile-migration.ts';
import { backfillSearchIndex, lacksSearchIndex, markBackfill } from './index-backfill.ts';
import { fromPosition, treePosition } from './tree-position.ts';
import { TILE_HEIGHT } from './tile-layout.ts';
import { TileStore } from './tile-store.ts';

/**
 * SQLite persistence of one Merkle tree: the entries (leaf hash, leaf, time, extra) and the hash of every
 * complete subtree, so a proof reads a few indexed rows and nothing is ever rebuilt. WAL with
 * synchronous = FULL: a returned COMMIT has been fsynced, so an acknowledged append survives kill -9 and
 * power loss. Entries, tiles and upper nodes are one file and one transaction: nothing to reconcile on open.
 *
 * Schema 2: the eight lowest levels are packed per 64-leaf tile in `tiles` (tile-layout.ts: one inline row
 * answers a proof's eight lowest siblings, so the proof working set is small and dense); levels >= 8 are rows of
 * `tree`, keyed by in-order position (node (level, i) at i * 2^(level+1) + 2^level - 1). Schema 1 (every
 * node a `tree` row) is converted on open, resumably (tile-migration.ts).
 */
const SCHEMA_VERSION = 2;
/** Height of the blocks upperBlock() reads at once. */
const BLOCK_HEIGHT = 16;
const SCHEMA = `
CREATE TABLE IF NOT EXISTS entries (
  idx INTEGER PRIMARY KEY,
  leaf_hash BLOB NOT NULL UNIQUE,
  leaf BLOB NOT NULL,
  integrated_ms INTEGER NOT NULL,
  extra BLOB
);
CREATE TABLE IF NOT EXISTS tree (
  pos INTEGER PRIMARY KEY,
  hash BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS tiles (
  tile INTEGER PRIMARY KEY,
  leaves INTEGER NOT NULL,
  done INTEGER NOT NULL,
  hashes BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS search_index (
  key TEXT NOT NULL,
  idx INTEGER NOT NULL,
  PRIMARY KEY (key, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS published_checkpoints (
  size INTEGER PRIMARY KEY,
  note TEXT NOT NULL,
  published_ms INTEGER NOT NULL
);
`;

export interface SqliteStoreOptions {
  /** Applies only when the file is created (SQLite fixes it then, and WAL forbids changing it). */
  pageSize?: number;
  /** Called while a schema-1 database is converted on open: 256-leaf groups done, groups in all. */
  migrationProgress?: (done: number, total: number) => void;
}

interface EntryRow {
  idx: number;
  leaf_hash: Buffer;
  leaf: Buffer;
  integrated_ms: number;
  extra: Buffer | null;
}

function toEntry(row: EntryRow): StoredEntry {
  return { index: row.idx, leafHash: row.leaf_hash, leaf: row.leaf, integratedTimeMs: row.integrated_ms, extra: row.extra };
}

export interface PublishedCheckpoint {
  size: number;
  note: string;
  publishedMs: number;
}

export class SqliteStore implements NodeSource {
  readonly #db: Database.Database;
  readonly #stmts;
  readonly #tiles: TileStore;
  #treeReads = 0;

  constructor(path: string, options: SqliteStoreOptions = {}) {
    this.#db = new Database(path);
    if (options.pageSize !== undefined) this.#db.pragma(`page_size = ${Math.trunc(options.pageSize)}`);
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma('synchronous = FULL');
    this.#db.pragma('busy_timeout = 5000');
    // 8 MiB, bounded whatever the log size. Proofs read one random tile row, which no cache of this size holds
    // at 10M (the OS page cache does); 32 MiB only added ~25 MiB of RSS there for no measurable gain.
    this.#db.pragma('cache_size = -8192');
    const version = this.#db.pragma('user_version', { simple: true }) as number;
    if (version !== 0 && version !== 1 && version !== SCHEMA_VERSION) {
      this.#db.close();
      throw new Error(`log database schema version ${version} is not supported (expected ${SCHEMA_VERSION})`);
    }
    try {
      // a file from before the search index gets the table and its backfill marker in one transaction
      if (lacksSearchIndex(this.#db)) {
        this.#db.transaction(() => {
          this.#db.exec(SCHEMA);
          markBackfill(this.#db);
        }).immediate();
      } else this.#db.exec(SCHEMA);
      if (version === 1) migrateTreeToTiles(this.#db, SCHEMA_VERSION, options.migrationProgress);
      else if (version === 0) this.#db.pragma(`user_version = ${SCHEMA_VERSION}`);
    } catch (e) {
      this.#db.close();
      throw e;
    }
    const db = this.#db;
    this.#tiles = new TileStore(db);
    this.#stmts = {
      maxIndex: db.prepare('SELECT max(idx) FROM entries').pluck(),
      node: db.prepare('SELECT hash FROM tree WHERE pos = ?').pluck(),
      upperRange: db.prepare('SELECT pos, hash FROM tree WHERE pos BETWEEN ? AND ?').raw(),
      entry: db.prepare('SELECT * FROM entries WHERE idx = ?'),
      entries: db.prepare('SELECT * FROM entries WHERE idx BETWEEN ? AND ? ORDER BY idx LIMIT ?'),
      byLeafHash: db.prepare('SELECT * FROM entries WHERE leaf_hash = ?'),
      insertEntry: db.prepare('INSERT INTO entries (idx, leaf_hash, leaf, integrated_ms, extra) VALUES (?, ?, ?, ?, ?)'),
      insertNode: db.prepare('INSERT INTO tree (pos, hash) VALUES (?, ?)'),
      insertKey: db.prepare('INSERT OR IGNORE INTO search_index (key, idx) VALUES (?, ?)'),
      publish: db.prepare('INSERT OR IGNORE INTO published_checkpoints (size, note, published_ms) VALUES (?, ?, ?)'),
      published: db.prepare('SELECT size, note, published_ms AS publishedMs FROM published_checkpoints WHERE size >= ? ORDER BY size LIMIT ?'),
      lookupKey: db.prepare('SELECT idx FROM search_index WHERE key = ? ORDER BY idx LIMIT ?').pluck(),
      hasKey: db.prepare('SELECT 1 FROM search_index WHERE key = ? AND idx = ?').pluck(),
    };
  }

  /** Number of stored entries (indices are gap-free, so max + 1). */
  count(): number {
    const max = this.#stmts.maxIndex.get() as number | null;
    return max === null ? 0 : max + 1;
  }

  /** Database rows read for tree nodes (tiles and upper nodes), for tests and metrics that check proofs stay cheap. */
  get nodeReads(): number {
    return this.#treeReads + this.#tiles.reads;
  }

  set nodeReads(n: number) {
    this.#treeReads = n;
    this.#tiles.reads = 0;
  }

  node(level: number, index: number): Buffer {
    let hash: Buffer | undefined;
    if (level < TILE_HEIGHT) hash = this.#tiles.node(level, index);
    else {
      this.#treeReads++;
      hash = this.#stmts.node.get(treePosition(level, index)) as Buffer | undefined;
    }
    // Callers only ask for subtrees inside the committed tree, so a miss means a damaged database.
    if (!hash) throw new Error(`log database is missing subtree hash (level ${level}, index ${index})`);
    return hash;
  }

  /**
   * Every stored node of level 8..16 in the 65,536-leaf block that holds node (8 <= level < 16, index), as
   * (level, index, hash) to `fn`: one range read (<= 511 rows, contiguous thanks to the in-order key), so the
   * upper-level cache fills a block per miss and a fresh process stops paying extra row reads after ~1k
   * proofs at 10M rather than ~100k. Rows are streamed raw, not collected: collecting them as objects left
   * ~60 MiB more RSS behind in a 20k-proof run.
   */
  upperBlock(level: number, index: number, fn: (level: number, index: number, hash: Buffer) => void): void {
    const span = 2 ** (BLOCK_HEIGHT + 1);
    const block = Math.floor((index * 2 ** level) / 2 ** BLOCK_HEIGHT);
    this.#treeReads++;
    for (const [pos, hash] of this.#stmts.upperRange.iterate(block * span, block * span + span - 2) as Iterable<[number, Buffer]>) {
      const n = fromPosition(pos);
      fn(n.level, n.index, hash);
    }
  }

  entry(index: number): StoredEntry | undefined {
    const row = this.#stmts.entry.get(index) as EntryRow | undefined;
    return row && toEntry(row);
  }

  entries(start: number, end: number, limit: number): StoredEntry[] {
    return (this.#stmts.entries.all(start, end, limit) as EntryRow[]).map(toEntry);
  }

  byLeafHash(leafHash: Buffer): StoredEntry | undefined {
    const row = this.#stmts.byLeafHash.get(leafHash) as EntryRow | undefined;
    return row && toEntry(row);
  }

  /** Stores the entry and its leaf hash as tree node (0, index). Only inside transaction(). */
  insertEntry(e: StoredEntry): void {
    this.#stmts.insertEntry.run(e.index, e.leafHash, e.leaf, e.integratedTimeMs, e.extra);
    this.#tiles.put(0, e.index, e.leafHash);
  }

  /** Stores subtrees completed by an append (level >= 1). Only inside transaction(). */
  insertNodes(nodes: readonly SubtreeHash[]): void {
    for (const n of nodes) {
      if (n.level < TILE_HEIGHT) this.#tiles.put(n.level, n.index, n.hash);
      else this.#stmts.insertNode.run(treePosition(n.level, n.index), n.hash);
    }
  }

  /** Search keys of an entry (the face decides what they are: artifact hash, key, email), in the append's transaction. */
  insertIndexKeys(index: number, keys: readonly string[]): void {
    for (const key of keys) this.#stmts.insertKey.run(key, index);
  }

  /** Indexes entries stored before the search index existed (index-backfill.ts); a no-op once done. */
  backfillSearchIndex(indexKeys: (leaf: Buffer) => string[], progress?: (done: number, total: number) => void): number {
    return backfillSearchIndex(this.#db, indexKeys, progress);
  }

  /** Indices of the entries under `key`, ascending, at most `limit`. */
  lookupIndexKey(key: string, limit: number): number[] {
    return this.#stmts.lookupKey.all(key, limit) as number[];
  }

  /** Whether entry `idx` is stored under `key` (one primary-key lookup). */
  hasIndexKey(key: string, idx: number): boolean {
    return this.#stmts.hasKey.get(key, idx) !== undefined;
  }

  /** Keeps the first signed checkpoint published for `size` (later ones for the same size are the same tree). */
  publishCheckpoint(size: number, note: string, publishedMs: number): void {
    this.#stmts.publish.run(size, note, publishedMs);
  }

  publishedCheckpoints(fromSize: number, limit: number): PublishedCheckpoint[] {
    return this.#stmts.published.all(fromSize, limit) as PublishedCheckpoint[];
  }

  /**
   * Runs `fn` in one transaction (BEGIN IMMEDIATE): all of it commits, durably, or none of it. The tiles the
   * batch touched are written once, at its end, in the same transaction.
   */
  transaction<T>(fn: () => T): T {
    try {
      return this.#db.transaction(() => {
        const result = fn();
        this.#tiles.flush();
        return result;
      }).immediate();
    } catch (e) {
      this.#tiles.reset();
      throw e;
    }
  }

  close(): void {
    this.#db.close();
  }
}
