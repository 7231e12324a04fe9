/**
 * The narrow interface between the Merkle log engine and its two HTTP faces (Rekor v1 API, RFC 6962 CT API).
 * One engine instance = one tree in one SQLite file. The faces decide what a leaf is; the engine only
 * sequences, stores and proves.
 */
export interface StoredEntry {
  /** 0-based position in the tree; gap-free and unique. */
  index: number;
  /** RFC 6962 leaf hash: SHA-256(0x00 || leaf). */
  leafHash: Buffer;
  /** The exact bytes that were hashed as the leaf (Rekor: the canonical entry body; CT: the MerkleTreeLeaf). */
  leaf: Buffer;
  /** When the entry was sequenced, milliseconds since the epoch (Rekor reports it in seconds). */
  integratedTimeMs: number;
  /** Face-specific data kept beside the leaf, not hashed (CT: the submitted chain for get-entries `extra_data`). */
  extra: Buffer | null;
}

export interface AppendResult {
  entry: StoredEntry;
  /** true when an identical leaf was already in the log: `entry` is the existing one, nothing was appended. */
  duplicate: boolean;
}

export interface MerkleLog {
  /**
   * Appends a leaf. Resolves only after the entry is committed durably (it survives kill -9 and power loss);
   * concurrent calls are grouped into one transaction. A leaf already present resolves with duplicate: true.
   */
  /**
   * `indexKeys`: the entry's search keys when the caller already computed them from this very leaf (Rekor computes
   * them on the worker that built the body); otherwise the engine's own indexer runs on the event loop.
   */
  append(leaf: Buffer, extra?: Buffer | null, indexKeys?: readonly string[]): Promise<AppendResult>;
  /** Number of committed entries. */
  size(): number;
  /** Root hash of the tree of the first `treeSize` entries (default: current size). Empty tree: SHA-256(""). */
  rootHash(treeSize?: number): Buffer;
  getEntry(index: number): StoredEntry | undefined;
  /** Entries [start, end] inclusive, clipped to the log size; at most `limit`. */
  getEntries(start: number, end: number, limit?: number): StoredEntry[];
  findByLeafHash(leafHash: Buffer): StoredEntry | undefined;
  /** RFC 6962 audit path for `index` in the tree of size `treeSize`. Throws RangeError for impossible arguments. */
  inclusionProof(index: number, treeSize: number): Buffer[];
  /** RFC 6962 consistency proof between sizes first < second (first >= 1). Throws RangeError for impossible arguments. */
  consistencyProof(first: number, second: number): Buffer[];
  /** Flushes pending appends and closes the database. */
  close(): Promise<void>;
}
