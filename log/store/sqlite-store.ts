import Database from 'better-sqlite3';
import type { NodeSource } from '../merkle/proofs.ts';
import type { SubtreeHash } from '../merkle/frontier.ts';
import type { StoredEntry } from '../types.ts';

/**
 * SQLite persistence of one Merkle tree: the entries (leaf hash, leaf, time, extra) and, in `tree`,
 * the hash of every complete subtree including the leaves, so a proof reads one indexed row per hash
 * and nothing is ever rebuilt. WAL with synchronous = FULL: a returned COMMIT has been fsynced, so an
 * acknowledged append survives kill -9 and power loss.
 *
 * `tree` is keyed by in-order position (node (level, i) sits at i * 2^(level+1) + 2^level - 1), which
 * stores every small subtree contiguously: the lower levels of a proof, the ones the cache cannot
 * hold, share one or two B-tree pages instead of costing a random read each.
 */
const SCHEMA_VERSION = 1;
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

/** In-order position of complete subtree (level, index). */
function treePosition(level: number, index: number): number {
  return index * 2 ** (level + 1) + 2 ** level - 1;
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
  /** Rows read through `node()`, for tests and metrics that check proofs stay O(log n). */
  nodeReads = 0;

  /** `pageSize` applies only when the file is created (SQLite fixes it then, and WAL forbids changing it). */
  constructor(path: string, pageSize?: number) {
    this.#db = new Database(path);
    if (pageSize !== undefined) this.#db.pragma(`page_size = ${Math.trunc(pageSize)}`);
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma('synchronous = FULL');
    this.#db.pragma('busy_timeout = 5000');
    this.#db.pragma('cache_size = -32768'); // 32 MiB: bounded, whatever the log size
    const version = this.#db.pragma('user_version', { simple: true }) as number;
    if (version !== 0 && version !== SCHEMA_VERSION) {
      this.#db.close();
      throw new Error(`log database schema version ${version} is not supported (expected ${SCHEMA_VERSION})`);
    }
    this.#db.exec(SCHEMA);
    this.#db.pragma(`user_version = ${SCHEMA_VERSION}`);
    const db = this.#db;
    this.#stmts = {
      maxIndex: db.prepare('SELECT max(idx) FROM entries').pluck(),
      node: db.prepare('SELECT hash FROM tree WHERE pos = ?').pluck(),
      entry: db.prepare('SELECT * FROM entries WHERE idx = ?'),
      entries: db.prepare('SELECT * FROM entries WHERE idx BETWEEN ? AND ? ORDER BY idx LIMIT ?'),
      byLeafHash: db.prepare('SELECT * FROM entries WHERE leaf_hash = ?'),
      insertEntry: db.prepare('INSERT INTO entries (idx, leaf_hash, leaf, integrated_ms, extra) VALUES (?, ?, ?, ?, ?)'),
      insertNode: db.prepare('INSERT INTO tree (pos, hash) VALUES (?, ?)'),
      insertKey: db.prepare('INSERT OR IGNORE INTO search_index (key, idx) VALUES (?, ?)'),
      publish: db.prepare('INSERT OR IGNORE INTO published_checkpoints (size, note, published_ms) VALUES (?, ?, ?)'),
      published: db.prepare('SELECT size, note, published_ms AS publishedMs FROM published_checkpoints WHERE size >= ? ORDER BY size LIMIT ?'),
      lookupKey: db.prepare('SELECT idx FROM search_index WHERE key = ? ORDER BY idx LIMIT ?').pluck(),
    };
  }

  /** Number of stored entries (indices are gap-free, so max + 1). */
  count(): number {
    const max = this.#stmts.maxIndex.get() as number | null;
    return max === null ? 0 : max + 1;
  }

  node(level: number, index: number): Buffer {
    this.nodeReads++;
    const hash = this.#stmts.node.get(treePosition(level, index)) as Buffer | undefined;
    // Callers only ask for subtrees inside the committed tree, so a miss means a damaged database.
    if (!hash) throw new Error(`log database is missing subtree hash (level ${level}, index ${index})`);
    return hash;
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

  /** Stores the entry and its leaf hash as tree node (0, index). */
  insertEntry(e: StoredEntry): void {
    this.#stmts.insertEntry.run(e.index, e.leafHash, e.leaf, e.integratedTimeMs, e.extra);
    this.#stmts.insertNode.run(treePosition(0, e.index), e.leafHash);
  }

  /** Stores subtrees completed by an append (level >= 1). */
  insertNodes(nodes: readonly SubtreeHash[]): void {
    for (const n of nodes) this.#stmts.insertNode.run(treePosition(n.level, n.index), n.hash);
  }

  /** Search keys of an entry (the face decides what they are: artifact hash, key, email), in the append's transaction. */
  insertIndexKeys(index: number, keys: readonly string[]): void {
    for (const key of keys) this.#stmts.insertKey.run(key, index);
  }

  /** Indices of the entries under `key`, ascending, at most `limit`. */
  lookupIndexKey(key: string, limit: number): number[] {
    return this.#stmts.lookupKey.all(key, limit) as number[];
  }

  /** Keeps the first signed checkpoint published for `size` (later ones for the same size are the same tree). */
  publishCheckpoint(size: number, note: string, publishedMs: number): void {
    this.#stmts.publish.run(size, note, publishedMs);
  }

  publishedCheckpoints(fromSize: number, limit: number): PublishedCheckpoint[] {
    return this.#stmts.published.all(fromSize, limit) as PublishedCheckpoint[];
  }

  /** Runs `fn` in one transaction (BEGIN IMMEDIATE): all of it commits, durably, or none of it. */
  transaction<T>(fn: () => T): T {
    return this.#db.transaction(fn).immediate();
  }

  close(): void {
    this.#db.close();
  }
}
