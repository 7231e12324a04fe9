import { createHash } from 'node:crypto';
import { BadRequestError, NotFoundError } from '../../core/errors.ts';
import {
  HASH_SHA256, merkleTreeLeaf, SCT_VERSION_V1, SIG_ECDSA, sctSignedData,
  type CtSignedEntry, type SignedCertificateTimestamp,
} from '../../core/sct.ts';
import type { Signer } from '../../core/signer.ts';
import type { MerkleLog } from '../types.ts';
import { AcceptedRoots, IssuerPathCache, ownPrecertEntry, validateChain, type ValidatedChain } from './chain.ts';
import { sthToJson, treeHeadSignatureInput, type SignedTreeHead, type SthJson } from './sth.ts';

/** RFC 6962 get-entries: the log may return fewer than asked; we never return more than this. */
export const MAX_ENTRIES_PER_CALL = 256;

export interface CtLogOptions {
  log: MerkleLog;
  signer: Signer;
  /** DER of the accepted roots (our CA root). */
  roots: Buffer[];
  /** Milliseconds since the epoch (tests pin it). */
  clock?: () => number;
  /** A get-sth with an unchanged tree reuses the last signed head while it is younger than this. Default 60 s. */
  sthMaxAgeMs?: number;
  /** How many recent submissions are remembered to answer resubmissions with the same SCT. Default 4096. */
  dedupCacheSize?: number;
}

export interface CtEntry {
  /** The MerkleTreeLeaf bytes (get-entries `leaf_input`). */
  leafInput: Buffer;
  /** RFC 6962 `extra_data`. */
  extraData: Buffer;
}

function checkSize(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new BadRequestError(`${what} must be a non-negative integer`);
}

/**
 * The key under which a submission is remembered for deduplication: SHA-256 over the whole MerkleTreeLeaf with a
 * zero timestamp, all 256 bits (sunlight 903d987: a truncated key lets two certificates share one SCT).
 */
export function ctDedupKey(entry: CtSignedEntry): string {
  return createHash('sha256').update(merkleTreeLeaf(0n, entry)).digest('hex');
}

/**
 * The search-index key of a stored MerkleTreeLeaf: ctDedupKey of its entry, computed from the leaf alone (the leaf
 * with its timestamp zeroed is merkleTreeLeaf(0, entry); this log writes no SCT extensions). Open the CT log's
 * engine with this as its indexer so that deduplication survives restarts and reaches past the recent cache.
 */
export function ctLeafIndexKeys(leaf: Buffer): string[] {
  if (leaf.length < 10) return [];
  const zeroed = Buffer.from(leaf);
  zeroed.fill(0, 2, 10);
  return [dedupIndexKey(createHash('sha256').update(zeroed).digest('hex'))];
}

/** The search-index key under which the entry with ctDedupKey `key` is stored. */
const dedupIndexKey = (key: string): string => `ct:${key}`;

/** What CtLog needs of an engine that keeps a search index (log/merkle-log.ts IndexedMerkleLog). */
interface DedupIndex {
  searchIndex(key: string, limit: number): number[];
}
const hasDedupIndex = (log: MerkleLog): log is MerkleLog & DedupIndex => typeof (log as Partial<DedupIndex>).searchIndex === 'function';

/** The MerkleTreeLeaf timestamp (bytes 2..10: after version and leaf_type). */
function leafTimestamp(leaf: Buffer): number {
  return leaf.length >= 10 ? Number(leaf.readBigUInt64BE(2)) : 0;
}

/**
 * An RFC 6962 certificate-transparency log over a MerkleLog engine. Usable in process (the CA calls
 * addPreChain directly) and behind ctRouter. Every method throws BadRequestError / NotFoundError on bad input.
 */
export class CtLog {
  readonly #log: MerkleLog;
  readonly #signer: Signer;
  readonly #roots: AcceptedRoots;
  readonly #issuers: IssuerPathCache;
  readonly #clock: () => number;
  readonly #sthMaxAgeMs: number;
  readonly #dedupCacheSize: number;
  /** Submission key (SHA-256 of the entry: 256 bits, sunlight 903d987) -> the timestamp of its leaf. */
  readonly #recent = new Map<string, Promise<bigint>>();
  /** Largest leaf timestamp ever chosen, so no STH is older than an entry it covers. */
  #maxTimestamp: number;
  #sth: SignedTreeHead | undefined;

  constructor(opts: CtLogOptions) {
    this.#log = opts.log;
    this.#signer = opts.signer;
    this.#roots = new AcceptedRoots(opts.roots);
    this.#issuers = new IssuerPathCache(this.#roots);
    this.#clock = opts.clock ?? Date.now;
    this.#sthMaxAgeMs = opts.sthMaxAgeMs ?? 60_000;
    this.#dedupCacheSize = opts.dedupCacheSize ?? 4096;
    const size = this.#log.size();
    const last = size > 0 ? this.#log.getEntry(size - 1) : undefined;
    this.#maxTimestamp = last ? leafTimestamp(last.leaf) : 0;
  }

  /** The log id carried by every SCT: SHA-256 of the log's DER public key. */
  get logId(): Buffer {
    return this.#signer.keyId;
  }

  /** Logs a precertificate chain (precertificate first); resolves with its SCT once the entry is durable. */
  addPreChain(chainDer: Buffer[]): Promise<SignedCertificateTimestamp> {
    return this.#submit(() => validateChain(chainDer, this.#roots, 'precert', this.#issuers));
  }

  /**
   * Logs a precertificate built by the CA in this same process, without parsing it again: `tbsWithoutPoisonDer`
   * is its TBS without the poison, as the CA encoded it (see chain.ts ownPrecertEntry for what is trusted). The
   * stored entry and the SCT are the ones addPreChain gives for the same chain. Never exposed over HTTP.
   */
  addOwnPrecert(chainDer: Buffer[], tbsWithoutPoisonDer: Buffer): Promise<SignedCertificateTimestamp> {
    return this.#submit(() => ownPrecertEntry(chainDer, tbsWithoutPoisonDer, this.#issuers));
  }

  /** Logs a final certificate chain (certificate first); resolves with its SCT once the entry is durable. */
  addChain(chainDer: Buffer[]): Promise<SignedCertificateTimestamp> {
    return this.#submit(() => validateChain(chainDer, this.#roots, 'x509', this.#issuers));
  }

  /** `validate` runs inside the async function so that a refusal is a rejected promise, as before. */
  async #submit(validate: () => ValidatedChain): Promise<SignedCertificateTimestamp> {
    const v = validate();
    // A resubmission (or a concurrent duplicate) of the same entry gets the SCT timestamp of the first one
    // instead of a second leaf (tesseract #445: no unbounded duplicates in flight).
    const key = ctDedupKey(v.entry);
    let pending = this.#recent.get(key);
    if (!pending) {
      // Not among the recent ones: logged before (before a restart, or 4096 submissions ago) if the index says so.
      // Trillian's CT dedups by leaf identity for ever; without this, every public precertificate could be
      // replayed from get-entries to grow the log without end.
      const stored = this.#storedTimestamp(key);
      pending = stored !== undefined ? Promise.resolve(stored) : this.#append(v.entry, v.extraData, key);
      this.#remember(key, pending);
    }
    const timestamp = await pending;
    return this.#sct(timestamp, v.entry);
  }

  async #append(entry: CtSignedEntry, extraData: Buffer, key: string): Promise<bigint> {
    // The timestamp is inside the leaf, so it is fixed before the append; the SCT is only made after it.
    const now = this.#now();
    this.#maxTimestamp = Math.max(this.#maxTimestamp, now);
    const timestamp = BigInt(now);
    await this.#log.append(merkleTreeLeaf(timestamp, entry), extraData, [dedupIndexKey(key)]);
    return timestamp;
  }

  /** The timestamp of the stored leaf of the entry with dedup key `key`, when the engine keeps an index. */
  #storedTimestamp(key: string): bigint | undefined {
    if (!hasDedupIndex(this.#log)) return undefined;
    const [index] = this.#log.searchIndex(dedupIndexKey(key), 1);
    const leaf = index === undefined ? undefined : this.#log.getEntry(index)?.leaf;
    return leaf ? BigInt(leafTimestamp(leaf)) : undefined;
  }

  #remember(key: string, pending: Promise<bigint>): void {
    this.#recent.set(key, pending);
    while (this.#recent.size > this.#dedupCacheSize) this.#recent.delete(this.#recent.keys().next().value!);
    // A failed append must not be replayed to later submitters.
    pending.catch(() => {
      if (this.#recent.get(key) === pending) this.#recent.delete(key);
    });
  }

  #sct(timestamp: bigint, entry: CtSignedEntry): SignedCertificateTimestamp {
    return {
      version: SCT_VERSION_V1,
      logId: this.#signer.keyId,
      timestamp,
      extensions: Buffer.alloc(0),
      hashAlgorithm: HASH_SHA256,
      signatureAlgorithm: SIG_ECDSA,
      signature: this.#signer.sign(sctSignedData(timestamp, entry)),
    };
  }

  #now(): number {
    const t = Math.floor(this.#clock());
    if (!Number.isSafeInteger(t) || t < 0) throw new Error('CT log clock returned an invalid time');
    return t;
  }

  /** The current signed tree head; reused while the tree is unchanged and the head is fresh. */
  signedTreeHead(): SignedTreeHead {
    const treeSize = this.#log.size();
    const now = this.#now();
    const cached = this.#sth;
    if (cached && cached.treeSize === treeSize && now >= cached.timestamp && now - cached.timestamp < this.#sthMaxAgeMs) return cached;
    // Never older than an entry it covers nor than the previous head, even if the clock steps back.
    const timestamp = Math.max(now, this.#maxTimestamp, cached?.timestamp ?? 0);
    const rootHash = this.#log.rootHash(treeSize);
    const signature = this.#signer.sign(treeHeadSignatureInput(treeSize, timestamp, rootHash));
    this.#sth = { treeSize, timestamp, rootHash, signature };
    return this.#sth;
  }

  /** get-sth body. */
  getSth(): SthJson {
    return sthToJson(this.signedTreeHead());
  }

  /** get-sth-consistency: proof that the tree of size `first` is a prefix of the tree of size `second`. */
  getSthConsistency(first: number, second: number): Buffer[] {
    checkSize(first, 'first');
    checkSize(second, 'second');
    const size = this.#log.size();
    // rekor#1290 / #1311: no proofs from the empty tree, none beyond the real tree.
    if (first === 0) throw new BadRequestError('first must be at least 1');
    if (first > second) throw new BadRequestError(`first (${first}) is larger than second (${second})`);
    if (second > size) throw new BadRequestError(`second (${second}) is beyond the tree size ${size}`);
    if (first === second) return [];
    return this.#guard(() => this.#log.consistencyProof(first, second));
  }

  /** get-proof-by-hash: audit path for the leaf with `leafHash` in the tree of size `treeSize`. */
  getProofByHash(leafHash: Buffer, treeSize: number): { leafIndex: number; auditPath: Buffer[] } {
    if (leafHash.length !== 32) throw new BadRequestError('hash must be a 32-byte leaf hash');
    checkSize(treeSize, 'tree_size');
    const size = this.#log.size();
    if (treeSize === 0) throw new BadRequestError('tree_size must be at least 1');
    if (treeSize > size) throw new BadRequestError(`tree_size (${treeSize}) is beyond the tree size ${size}`);
    const entry = this.#log.findByLeafHash(leafHash);
    if (!entry || entry.index >= treeSize) throw new NotFoundError(`no leaf with this hash in the tree of size ${treeSize}`);
    return { leafIndex: entry.index, auditPath: this.#guard(() => this.#log.inclusionProof(entry.index, treeSize)) };
  }

  /** get-entries: entries [start, end], clipped to the tree and to MAX_ENTRIES_PER_CALL. */
  getEntries(start: number, end: number): CtEntry[] {
    checkSize(start, 'start');
    checkSize(end, 'end');
    if (start > end) throw new BadRequestError(`start (${start}) is larger than end (${end})`);
    const size = this.#log.size();
    if (start >= size) throw new BadRequestError(`start (${start}) is beyond the tree size ${size}`);
    const last = Math.min(end, size - 1, start + MAX_ENTRIES_PER_CALL - 1);
    return this.#log.getEntries(start, last, MAX_ENTRIES_PER_CALL).map((e) => ({ leafInput: e.leaf, extraData: e.extra ?? Buffer.alloc(0) }));
  }

  /** get-entry-and-proof: one entry with its audit path in the tree of size `treeSize`. */
  getEntryAndProof(leafIndex: number, treeSize: number): CtEntry & { auditPath: Buffer[] } {
    checkSize(leafIndex, 'leaf_index');
    checkSize(treeSize, 'tree_size');
    const size = this.#log.size();
    if (treeSize > size) throw new BadRequestError(`tree_size (${treeSize}) is beyond the tree size ${size}`);
    if (leafIndex >= treeSize) throw new BadRequestError(`leaf_index (${leafIndex}) is not below tree_size (${treeSize})`);
    const e = this.#log.getEntry(leafIndex);
    if (!e) throw new NotFoundError(`no entry at index ${leafIndex}`);
    const auditPath = this.#guard(() => this.#log.inclusionProof(leafIndex, treeSize));
    return { leafInput: e.leaf, extraData: e.extra ?? Buffer.alloc(0), auditPath };
  }

  /** get-roots: DER of every accepted root. */
  getRoots(): Buffer[] {
    return this.#roots.ders;
  }

  /** The engine throws RangeError for impossible coordinates; the checks above should prevent it, never a 500. */
  #guard<T>(f: () => T): T {
    try {
      return f();
    } catch (e) {
      if (e instanceof RangeError) throw new BadRequestError(e.message);
      throw e;
    }
  }
}
