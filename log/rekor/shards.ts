import { BadRequestError, NotFoundError } from '../../core/errors.ts';
import type { Signer } from '../../core/signer.ts';
import type { IndexedMerkleLog } from '../merkle-log.ts';
import type { MerkleLog, StoredEntry } from '../types.ts';
import { RekorLog, type LogEntryJson, type RekorLogOptions } from './entries.ts';
import { parseEntryId, treeIdHex } from './entry-id.ts';

/**
 * A Rekor log made of shards, as Rekor's LogRanges: frozen trees (each with its own key, final size and the
 * checkpoint signed at rotation), then the active tree that takes the appends. Entries are numbered globally
 * (Rekor's "virtual" index): the entries of every frozen tree in order, then the active tree's. An entry is
 * always served by its own tree, with that tree's log id, key, tree id and shard-local inclusion proof.
 */
export interface FrozenShardOptions {
  log: MerkleLog | IndexedMerkleLog;
  signer: Signer;
  treeId: string;
  /** Final size, and the checkpoint of that size signed with `signer` at rotation. */
  treeSize: number;
  checkpoint: string;
}

export interface FoundEntry {
  shard: RekorLog;
  entry: StoredEntry;
  /** The size the entry is proven against (read once with the lookup). */
  treeSize: number;
}

export class RekorShards {
  /** Frozen trees, oldest first. */
  readonly inactive: RekorLog[];
  readonly active: RekorLog;
  /** Entries in all frozen trees: the active tree's entry i is global index inactiveTotal + i. */
  readonly inactiveTotal: number;

  constructor(active: RekorLogOptions, frozen: FrozenShardOptions[] = []) {
    let offset = 0;
    const seen = new Set<string>();
    this.inactive = frozen.map((f) => {
      const shard = new RekorLog({ log: f.log, signer: f.signer, treeId: f.treeId, signerName: active.signerName, offset, frozen: { treeSize: f.treeSize, checkpoint: f.checkpoint } });
      offset += f.treeSize;
      return shard;
    });
    this.active = new RekorLog({ ...active, offset });
    this.inactiveTotal = offset;
    for (const s of this.all()) {
      if (seen.has(s.treeHex)) throw new RangeError(`tree ${s.treeId} is configured twice`);
      seen.add(s.treeHex);
    }
  }

  /** Every tree, oldest first (global index order). */
  all(): RekorLog[] {
    return [...this.inactive, this.active];
  }

  /** Total entries of the virtual log. */
  size(): number {
    return this.inactiveTotal + this.active.log.size();
  }

  /** The tree named by a decimal tree id (the `treeID` query parameter); 400 for a tree not served, as Rekor. */
  byTreeId(text: string | undefined): RekorLog {
    if (text === undefined || text === '') return this.active;
    if (!/^[0-9]{1,19}$/.test(text)) throw new BadRequestError('query parameter treeID must be a decimal tree id');
    let hex: string;
    try {
      hex = treeIdHex(BigInt(text).toString());
    } catch {
      throw new BadRequestError(`tree ${text} is not served by this log`);
    }
    const shard = this.all().find((s) => s.treeHex === hex);
    if (!shard) throw new BadRequestError(`tree ${text} is not served by this log`);
    return shard;
  }

  /** The entry at a global index, or undefined beyond the log. */
  byIndex(globalIndex: number): FoundEntry | undefined {
    let left = globalIndex;
    for (const shard of this.inactive) {
      const size = shard.size();
      if (left < size) return this.#found(shard, shard.log.getEntry(left), size);
      left -= size;
    }
    const size = this.active.log.size();
    return left < size ? this.#found(this.active, this.active.log.getEntry(left), size) : undefined;
  }

  /**
   * The entry an entry ID names: an 80-hex id is looked up in its own tree only (404 for a tree not served);
   * a bare 64-hex leaf hash is looked for in the active tree, then in the frozen ones, newest first, as Rekor.
   */
  byEntryId(text: string): FoundEntry | undefined {
    const { treeHex, leafHash } = parseEntryId(text);
    if (treeHex !== undefined) {
      const shard = this.all().find((s) => s.treeHex === treeHex);
      if (!shard) throw new NotFoundError(`no entry with UUID ${text.toLowerCase()}: tree ${treeHex} is not served by this log`);
      return this.byLeafHash(leafHash, [shard]);
    }
    return this.byLeafHash(leafHash);
  }

  byLeafHash(leafHash: Buffer, shards: RekorLog[] = [this.active, ...[...this.inactive].reverse()]): FoundEntry | undefined {
    for (const shard of shards) {
      const size = shard.size();
      const entry = shard.log.findByLeafHash(leafHash);
      if (entry && entry.index < size) return { shard, entry, treeSize: size };
    }
    return undefined;
  }

  /** A frozen tree's copy of a leaf: appending it again would make a second entry for one body. */
  frozenDuplicate(leafHash: Buffer): FoundEntry | undefined {
    return this.byLeafHash(leafHash, [...this.inactive].reverse());
  }

  /** The LogEntry response of a found entry. */
  logEntry(found: FoundEntry): LogEntryJson {
    return found.shard.logEntry(found.entry, found.treeSize).json;
  }

  #found(shard: RekorLog, entry: StoredEntry | undefined, treeSize: number): FoundEntry | undefined {
    return entry ? { shard, entry, treeSize } : undefined;
  }
}
