import { leafHash as hashLeaf } from './merkle/hash.ts';
import { Frontier } from './merkle/frontier.ts';
import { consistencyProof, inclusionProof, rootHash } from './merkle/proofs.ts';
import { isTreeIndex } from './merkle/tree-math.ts';
import { PendingCheckpoints } from './pending-checkpoints.ts';
import { checkAfterOpen, checkBeforeOpen, publishedSizePath, PublishedSizeMark } from './published-size.ts';
import { GroupCommitQueue } from './sequencer.ts';
import { NodeCache } from './store/node-cache.ts';
import { SqliteStore, type PublishedCheckpoint } from './store/sqlite-store.ts';
import type { NodeSource } from './merkle/proofs.ts';
import type { AppendResult, MerkleLog, StoredEntry } from './types.ts';

/**
 * The Merkle log engine: SQLite store + in-memory right frontier + group-commit sequencer.
 * Memory is flat in the log size (the frontier holds <= 64 hashes, the caches are bounded); roots and
 * proofs of past sizes read the upper levels from memory and the eight lowest from one or two tile rows.
 */
export interface MerkleLogOptions {
  /** SQLite file, or ':memory:' for tests. */
  path: string;
  /** Milliseconds since the epoch, for integrated times (tests pin it). */
  clock?: () => number;
  /**
   * Search keys of a leaf (the face's choice: Rekor indexes artifact hash, key and email). Computed before
   * the batch, written in the same transaction as the entry, so the index never names an entry that is not
   * committed nor misses one that is. Must not throw; return [] for a leaf with nothing to index.
   */
  indexKeys?: (leaf: Buffer) => string[];
  /** SQLite page size for a NEW file (default SQLite's 4096); see docs/bench.md for what it changes. */
  pageSize?: number;
  /** Progress of converting an older (schema 1) database on open: 256-leaf groups done, groups in all. */
  migrationProgress?: (done: number, total: number) => void;
  /**
   * Least milliseconds between two writes of `<path>.published`, the largest published tree size (log/published-size.ts;
   * default 1000). Close always writes what is left.
   */
  publishedSizeIntervalMs?: number;
}

/**
 * What the SQLite engine offers beyond the MerkleLog interface the faces share: the search index
 * (/api/v1/index/retrieve), single subtree hashes (tlog-tiles) and the history of published checkpoints.
 */
export interface IndexedMerkleLog extends MerkleLog {
  /** Indices of committed entries stored under `key`, ascending, at most `limit`. */
  searchIndex(key: string, limit: number): number[];
  /** Whether committed entry `index` is stored under `key`. */
  inSearchIndex(key: string, index: number): boolean;
  /** Hash of the complete subtree of 2^level leaves starting at leaf index * 2^level; RangeError if not complete in the log. */
  subtreeHash(level: number, index: number): Buffer;
  /** Records a signed checkpoint as published (kept once per size), in a transaction of its own. */
  publishCheckpoint(size: number, note: string): void;
  /** The same, written with the next batch of appends (or within a second): for checkpoints in entry responses. */
  publishCheckpointLater(size: number, note: string): void;
  /** Published checkpoints with size >= fromSize, ascending, at most `limit`. */
  publishedCheckpoints(fromSize: number, limit: number): PublishedCheckpoint[];
}

interface AppendRequest {
  leaf: Buffer;
  leafHash: Buffer;
  extra: Buffer | null;
  indexKeys: readonly string[];
}

function toBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/** A private copy: the caller may reuse its buffer before the batch commits, and the leaf hash must match what is stored. */
function copyBytes(b: Uint8Array): Buffer {
  return Buffer.from(b);
}

class SqliteMerkleLog implements IndexedMerkleLog {
  readonly #store: SqliteStore;
  /** What proofs read: the frontier's subtrees from memory, upper levels from a bounded cache, the rest from SQLite. */
  readonly #nodes: NodeSource;
  readonly #clock: () => number;
  readonly #indexKeys: (leaf: Buffer) => string[];
  readonly #indexed: boolean;
  readonly #queue: GroupCommitQueue<AppendRequest, AppendResult>;
  readonly #pending = new PendingCheckpoints(() => this.#flushPending());
  /** `<path>.published`, kept after each commit of published checkpoints (none for ':memory:'). */
  readonly #mark: PublishedSizeMark | undefined;
  #frontier: Frontier;
  #root: Buffer;
  #closed = false;

  constructor(options: MerkleLogOptions) {
    // A database smaller than the tree size clients were shown (rolled back, or its WAL lost) is refused before the
    // store opens it and writes its schema (log/published-size.ts): PublishedSizeError names both files and sizes.
    const published = checkBeforeOpen(options.path);
    this.#store = new SqliteStore(options.path, { pageSize: options.pageSize, migrationProgress: options.migrationProgress });
    this.#clock = options.clock ?? Date.now;
    this.#indexKeys = options.indexKeys ?? (() => []);
    this.#indexed = options.indexKeys !== undefined;
    try {
      checkAfterOpen(options.path, published, this.#store.count());
      if (options.indexKeys) this.#store.backfillSearchIndex(options.indexKeys);
      this.#frontier = this.#loadFrontier();
    } catch (e) {
      this.#store.close();
      throw e;
    }
    this.#root = this.#frontier.root();
    this.#mark = publishedSizePath(options.path) === undefined ? undefined : new PublishedSizeMark(options.path, published, options.publishedSizeIntervalMs);
    const cache = new NodeCache(this.#store);
    this.#nodes = { node: (level, index) => this.#frontier.hashAt(level, index) ?? cache.node(level, index) };
    this.#queue = new GroupCommitQueue((batch) => this.#commit(batch));
  }

  append(leaf: Buffer, extra: Buffer | null = null, precomputedKeys?: readonly string[]): Promise<AppendResult> {
    if (this.#closed) return Promise.reject(new Error('log is closed'));
    if (!(leaf instanceof Uint8Array)) return Promise.reject(new TypeError('leaf must be bytes'));
    if (extra !== null && !(extra instanceof Uint8Array)) return Promise.reject(new TypeError('extra must be bytes or null'));
    const bytes = copyBytes(leaf);
    let indexKeys: readonly string[];
    try {
      // precomputed keys count only for a log that keeps a search index at all
      indexKeys = this.#indexed ? precomputedKeys ?? this.#indexKeys(bytes) : [];
    } catch {
      indexKeys = []; // an indexer bug must not lose an append; the entry is still found by hash and index
    }
    return this.#queue.submit({ leaf: bytes, leafHash: hashLeaf(bytes), extra: extra && copyBytes(extra), indexKeys });
  }

  /** One batch, one transaction. The frontier advances only if COMMIT succeeds. */
  #commit(batch: readonly AppendRequest[]): AppendResult[] {
    const now = Math.floor(this.#clock());
    if (!Number.isSafeInteger(now) || now < 0) throw new Error(`clock returned an invalid time: ${now}`);
    const frontier = this.#frontier.clone();
    try {
      return this.#appendBatch(batch, frontier, now);
    } catch (e) {
      // The transaction rolled back. Re-read the frontier rather than trusting memory, so a failure
      // caused by someone else writing the file cannot leave us proving a tree that is not on disk.
      try {
        this.#frontier = this.#loadFrontier();
        this.#root = this.#frontier.root();
      } catch {
        // Keep the pre-batch frontier: it still matches the rolled-back database.
      }
      throw e;
    }
  }

  #appendBatch(batch: readonly AppendRequest[], frontier: Frontier, now: number): AppendResult[] {
    // checkpoints shown since the last commit join this one (log/pending-checkpoints.ts); kept if it rolls back
    const published = this.#pending.take();
    let results: AppendResult[];
    try {
      results = this.#store.transaction(() => {
        for (const c of published) this.#store.publishCheckpoint(c.size, c.note, c.publishedMs);
        const inBatch = new Map<string, StoredEntry>();
        return batch.map((req): AppendResult => {
          const key = req.leafHash.toString('hex');
          const existing = inBatch.get(key) ?? this.#store.byLeafHash(req.leafHash);
          if (existing) return { entry: existing, duplicate: true };
          const entry: StoredEntry = { index: frontier.size, leafHash: req.leafHash, leaf: req.leaf, integratedTimeMs: now, extra: req.extra };
          this.#store.insertEntry(entry);
          this.#store.insertNodes(frontier.append(req.leafHash));
          this.#store.insertIndexKeys(entry.index, req.indexKeys);
          inBatch.set(key, entry);
          return { entry, duplicate: false };
        });
      });
    } catch (e) {
      this.#pending.restore(published);
      throw e;
    }
    this.#frontier = frontier;
    this.#root = frontier.root();
    this.#markPublished(published);
    return results;
  }

  size(): number {
    return this.#frontier.size;
  }

  rootHash(treeSize: number = this.size()): Buffer {
    this.#checkTreeSize(treeSize);
    // A copy: callers must not be able to alter the cached root (or the shared empty-tree constant).
    return Buffer.from(treeSize === this.size() ? this.#root : rootHash(this.#nodes, treeSize));
  }

  getEntry(index: number): StoredEntry | undefined {
    if (!isTreeIndex(index) || index >= this.size()) return undefined;
    return this.#store.entry(index);
  }

  getEntries(start: number, end: number, limit = Number.MAX_SAFE_INTEGER): StoredEntry[] {
    if (!isTreeIndex(start) || !isTreeIndex(end) || !isTreeIndex(limit)) throw new RangeError('invalid entry range');
    const last = Math.min(end, this.size() - 1);
    if (start > last || limit === 0) return [];
    return this.#store.entries(start, last, limit);
  }

  findByLeafHash(leafHash: Buffer): StoredEntry | undefined {
    if (!(leafHash instanceof Uint8Array) || leafHash.length !== 32) return undefined;
    return this.#store.byLeafHash(toBuffer(leafHash));
  }

  searchIndex(key: string, limit: number): number[] {
    if (this.#closed) throw new Error('log is closed');
    const size = this.size();
    return this.#store.lookupIndexKey(key, limit).filter((i) => i < size);
  }

  inSearchIndex(key: string, index: number): boolean {
    if (this.#closed) throw new Error('log is closed');
    return index < this.size() && this.#store.hasIndexKey(key, index);
  }

  subtreeHash(level: number, index: number): Buffer {
    if (this.#closed) throw new Error('log is closed');
    if (!Number.isSafeInteger(level) || level < 0 || level > 52 || !isTreeIndex(index) || (index + 1) * 2 ** level > this.size()) {
      throw new RangeError(`no complete subtree (level ${level}, index ${index}) in a log of ${this.size()}`);
    }
    return Buffer.from(this.#nodes.node(level, index));
  }

  publishCheckpoint(size: number, note: string): void {
    this.#checkTreeSize(size);
    this.#store.publishCheckpoint(size, note, Math.floor(this.#clock()));
    this.#mark?.committed(size); // a statement of its own: committed (and fsynced) when it returns
  }

  publishCheckpointLater(size: number, note: string): void {
    this.#checkTreeSize(size);
    this.#pending.add({ size, note, publishedMs: Math.floor(this.#clock()) });
  }

  /** The checkpoints no append has taken along, in a transaction of their own (kept for the next try if it fails). */
  #writePending(): void {
    const rows = this.#pending.take();
    if (rows.length === 0) return;
    try {
      this.#store.transaction(() => {
        for (const c of rows) this.#store.publishCheckpoint(c.size, c.note, c.publishedMs);
      });
    } catch {
      this.#pending.restore(rows); // the next batch of appends (or close) tries again
      return;
    }
    this.#markPublished(rows);
  }

  /** Published-checkpoint rows have committed: the high-water-mark file may follow (never before, never beyond). */
  #markPublished(rows: readonly { size: number }[]): void {
    if (!this.#mark || rows.length === 0) return;
    let max = 0;
    for (const r of rows) if (r.size > max) max = r.size;
    this.#mark.committed(max);
  }

  #flushPending(): void {
    if (!this.#closed) this.#writePending();
  }

  publishedCheckpoints(fromSize: number, limit: number): PublishedCheckpoint[] {
    if (this.#closed) throw new Error('log is closed');
    return this.#store.publishedCheckpoints(fromSize, limit);
  }

  inclusionProof(index: number, treeSize: number): Buffer[] {
    this.#checkTreeSize(treeSize);
    return inclusionProof(this.#nodes, index, treeSize);
  }

  consistencyProof(first: number, second: number): Buffer[] {
    this.#checkTreeSize(second);
    return consistencyProof(this.#nodes, first, second);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue.drain();
    this.#pending.cancel();
    this.#writePending();
    this.#mark?.close();
    this.#store.close();
  }

  /** The frontier of the committed tree: O(log n) reads. */
  #loadFrontier(): Frontier {
    const size = this.#store.count();
    return new Frontier(size, Frontier.positions(size).map((p) => this.#store.node(p.level, p.index)));
  }

  #checkTreeSize(treeSize: number): void {
    if (this.#closed) throw new Error('log is closed');
    if (!isTreeIndex(treeSize)) throw new RangeError(`invalid tree size ${treeSize}`);
    if (treeSize > this.size()) throw new RangeError(`tree size ${treeSize} exceeds log size ${this.size()}`);
  }
}

/** Opens (creating if needed) the log in `options.path`. */
export function openMerkleLog(options: MerkleLogOptions): IndexedMerkleLog {
  return new SqliteMerkleLog(options);
}
