import { leafHash as hashLeaf } from './merkle/hash.ts';
import { Frontier } from './merkle/frontier.ts';
import { consistencyProof, inclusionProof, rootHash } from './merkle/proofs.ts';
import { isTreeIndex } from './merkle/tree-math.ts';
import { GroupCommitQueue } from './sequencer.ts';
import { SqliteStore } from './store/sqlite-store.ts';
import type { AppendResult, MerkleLog, StoredEntry } from './types.ts';

/**
 * The Merkle log engine: SQLite store + in-memory right frontier + group-commit sequencer.
 * Memory is flat in the log size (the frontier holds <= 64 hashes); roots and proofs of
 * past sizes read O(log n) stored subtree hashes.
 */
export interface MerkleLogOptions {
  /** SQLite file, or ':memory:' for tests. */
  path: string;
  /** Milliseconds since the epoch, for integrated times (tests pin it). */
  clock?: () => number;
}

interface AppendRequest {
  leaf: Buffer;
  leafHash: Buffer;
  extra: Buffer | null;
}

function toBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

class SqliteMerkleLog implements MerkleLog {
  readonly #store: SqliteStore;
  readonly #clock: () => number;
  readonly #queue: GroupCommitQueue<AppendRequest, AppendResult>;
  #frontier: Frontier;
  #root: Buffer;
  #closed = false;

  constructor(options: MerkleLogOptions) {
    this.#store = new SqliteStore(options.path);
    this.#clock = options.clock ?? Date.now;
    try {
      const size = this.#store.count();
      const hashes = Frontier.positions(size).map((p) => this.#store.node(p.level, p.index));
      this.#frontier = new Frontier(size, hashes);
    } catch (e) {
      this.#store.close();
      throw e;
    }
    this.#root = this.#frontier.root();
    this.#queue = new GroupCommitQueue((batch) => this.#commit(batch));
  }

  append(leaf: Buffer, extra: Buffer | null = null): Promise<AppendResult> {
    if (this.#closed) return Promise.reject(new Error('log is closed'));
    if (!(leaf instanceof Uint8Array)) return Promise.reject(new TypeError('leaf must be bytes'));
    if (extra !== null && !(extra instanceof Uint8Array)) return Promise.reject(new TypeError('extra must be bytes or null'));
    const bytes = toBuffer(leaf);
    return this.#queue.submit({ leaf: bytes, leafHash: hashLeaf(bytes), extra: extra && toBuffer(extra) });
  }

  /** One batch, one transaction. The frontier advances only if COMMIT succeeds. */
  #commit(batch: readonly AppendRequest[]): AppendResult[] {
    const frontier = this.#frontier.clone();
    const now = Math.floor(this.#clock());
    const results = this.#store.transaction(() => {
      const inBatch = new Map<string, StoredEntry>();
      return batch.map((req): AppendResult => {
        const key = req.leafHash.toString('hex');
        const existing = inBatch.get(key) ?? this.#store.byLeafHash(req.leafHash);
        if (existing) return { entry: existing, duplicate: true };
        const entry: StoredEntry = { index: frontier.size, leafHash: req.leafHash, leaf: req.leaf, integratedTimeMs: now, extra: req.extra };
        this.#store.insertEntry(entry);
        this.#store.insertNodes(frontier.append(req.leafHash));
        inBatch.set(key, entry);
        return { entry, duplicate: false };
      });
    });
    this.#frontier = frontier;
    this.#root = frontier.root();
    return results;
  }

  size(): number {
    return this.#frontier.size;
  }

  rootHash(treeSize: number = this.size()): Buffer {
    this.#checkTreeSize(treeSize);
    return treeSize === this.size() ? this.#root : rootHash(this.#store, treeSize);
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

  inclusionProof(index: number, treeSize: number): Buffer[] {
    this.#checkTreeSize(treeSize);
    return inclusionProof(this.#store, index, treeSize);
  }

  consistencyProof(first: number, second: number): Buffer[] {
    this.#checkTreeSize(second);
    return consistencyProof(this.#store, first, second);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue.drain();
    this.#store.close();
  }

  #checkTreeSize(treeSize: number): void {
    if (this.#closed) throw new Error('log is closed');
    if (!isTreeIndex(treeSize)) throw new RangeError(`invalid tree size ${treeSize}`);
    if (treeSize > this.size()) throw new RangeError(`tree size ${treeSize} exceeds log size ${this.size()}`);
  }
}

/** Opens (creating if needed) the log in `options.path`. */
export function openMerkleLog(options: MerkleLogOptions): MerkleLog {
  return new SqliteMerkleLog(options);
}
