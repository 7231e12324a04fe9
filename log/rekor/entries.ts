import type { Signer } from '../../core/signer.ts';
import type { MerkleLog, StoredEntry } from '../types.ts';
import { CheckpointCache } from './checkpoints.ts';
import { entryIdFor, treeIdHex } from './entry-id.ts';
import { signEntryTimestamp } from './set.ts';

/**
 * Rekor v1 `LogEntry` responses: `{ "<80-hex entry id>": LogEntryAnon }`, where LogEntryAnon carries the
 * body, its position and time, the inclusion proof with the signed checkpoint for the same tree size, and
 * the SET. Field names and encodings are upstream's (openapi.yaml): hashes hex, body and SET base64,
 * integratedTime in seconds.
 */
export interface InclusionProofJson {
  checkpoint: string;
  hashes: string[];
  logIndex: number;
  rootHash: string;
  treeSize: number;
}

export interface LogEntryAnon {
  body: string;
  integratedTime: number;
  logID: string;
  logIndex: number;
  verification: {
    inclusionProof: InclusionProofJson;
    signedEntryTimestamp: string;
  };
}

export type LogEntryJson = Record<string, LogEntryAnon>;

export interface RekorLogOptions {
  log: MerkleLog;
  signer: Signer;
  /** Decimal int64 tree id (Rekor's Trillian tree id); part of entry IDs and the checkpoint origin. */
  treeId: string;
  /** Checkpoint signer name, e.g. the server's host:port. */
  signerName: string;
}

/** How a tree sits in a sharded log (log/rekor/shards.ts); a log that was never rotated has offset 0 and is not frozen. */
export interface ShardPlacement {
  /** Entries of all earlier (frozen) trees: entry i of this tree is global log index offset + i. */
  offset?: number;
  /** A frozen tree: its final size and the checkpoint signed for it at rotation, served instead of signing new ones. */
  frozen?: { treeSize: number; checkpoint: string };
}

/** Everything an entry response needs, derived once from the router options. */
export class RekorLog {
  readonly log: MerkleLog;
  readonly signer: Signer;
  readonly treeId: string;
  readonly treeHex: string;
  /** hex SHA-256 of the log key's DER SPKI. */
  readonly logId: string;
  readonly checkpoints: CheckpointCache;
  readonly offset: number;
  readonly frozen?: { treeSize: number; checkpoint: string };

  constructor(opts: RekorLogOptions & ShardPlacement) {
    this.log = opts.log;
    this.signer = opts.signer;
    this.treeId = opts.treeId;
    this.treeHex = treeIdHex(opts.treeId);
    this.logId = opts.signer.keyId.toString('hex');
    this.checkpoints = new CheckpointCache(opts.log, opts.signer, opts.signerName, `${opts.signerName} - ${opts.treeId}`);
    this.offset = opts.offset ?? 0;
    this.frozen = opts.frozen;
  }

  /** The tree size to read and prove against: a frozen tree's final size, else the current one. */
  size(): number {
    return this.frozen ? this.frozen.treeSize : this.log.size();
  }

  /** The signed checkpoint for `treeSize`: a frozen tree never signs a new one with its old key. */
  checkpoint(treeSize: number): string {
    if (this.frozen) {
      if (treeSize !== this.frozen.treeSize) throw new RangeError(`tree ${this.treeId} is frozen at size ${this.frozen.treeSize}`);
      return this.frozen.checkpoint;
    }
    return this.checkpoints.get(treeSize);
  }

  entryId(entry: StoredEntry): string {
    return entryIdFor(this.treeHex, entry.leafHash);
  }

  /**
   * The response for `entry`, proven against the tree of `treeSize` entries (the caller reads the size once,
   * so proof, root and checkpoint all describe the same tree even while appends go on).
   * As Rekor with shards: `logIndex` (and so the SET) is the global index, the inclusion proof's `logIndex` and
   * checkpoint are this tree's. A frozen tree's SET is signed again, as Rekor does, with that tree's own key over
   * the same payload it signed when the entry was made: nothing new is ever asserted with an old key.
   */
  logEntry(entry: StoredEntry, treeSize: number): { entryId: string; json: LogEntryJson } {
    const body = entry.leaf.toString('base64');
    const integratedTime = Math.floor(entry.integratedTimeMs / 1000);
    const logIndex = this.offset + entry.index;
    const set = signEntryTimestamp(this.signer, { body, integratedTime, logID: this.logId, logIndex });
    const anon: LogEntryAnon = {
      body,
      integratedTime,
      logID: this.logId,
      logIndex,
      verification: {
        inclusionProof: {
          checkpoint: this.checkpoint(treeSize),
          hashes: this.log.inclusionProof(entry.index, treeSize).map((h) => h.toString('hex')),
          logIndex: entry.index,
          rootHash: this.log.rootHash(treeSize).toString('hex'),
          treeSize,
        },
        signedEntryTimestamp: set.toString('base64'),
      },
    };
    const entryId = this.entryId(entry);
    return { entryId, json: { [entryId]: anon } };
  }
}
