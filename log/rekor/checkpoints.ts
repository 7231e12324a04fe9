import type { Signer } from '../../core/signer.ts';
import { signCheckpoint } from '../checkpoint.ts';
import type { MerkleLog } from '../types.ts';

/**
 * Signed checkpoints by tree size. Every entry response carries the checkpoint of the tree its proof is
 * for; signing one per request would put an ECDSA signature on every GET and give clients many different
 * notes for one size. Each size is signed once and kept while it is among the most recent sizes asked for.
 */
export class CheckpointCache {
  readonly #notes = new Map<number, string>();
  /** Told of every note signed, so that each one a client may be shown can go into the history. */
  onSigned: ((size: number, note: string) => void) | undefined;

  constructor(
    private readonly log: MerkleLog,
    private readonly signer: Signer,
    /** Checkpoint key name (`— <name> <sig>`), Rekor's `rekor_server.hostname`. */
    private readonly signerName: string,
    /** Checkpoint origin line, Rekor's `<hostname> - <treeID>`. */
    private readonly origin: string,
    private readonly capacity = 64,
  ) {}

  /** The signed note for the tree of `size` entries (size <= log size). */
  get(size: number): string {
    const cached = this.#notes.get(size);
    if (cached !== undefined) {
      // refresh recency: Map iteration order is insertion order
      this.#notes.delete(size);
      this.#notes.set(size, cached);
      return cached;
    }
    const note = signCheckpoint({ origin: this.origin, size, rootHash: this.log.rootHash(size) }, this.signerName, this.signer);
    this.onSigned?.(size, note);
    this.#notes.set(size, note);
    if (this.#notes.size > this.capacity) {
      const oldest = this.#notes.keys().next().value as number;
      this.#notes.delete(oldest);
    }
    return note;
  }
}
