/**
 * Group commit. Requests that arrive while a batch is waiting are committed together in ONE
 * transaction, so one fsync acknowledges many appends. The commit itself is synchronous
 * (better-sqlite3), so the next batch forms from whatever arrives before the next setImmediate.
 * Each promise settles only after its batch's COMMIT returned (or failed).
 */
export class GroupCommitQueue<I, O> {
  readonly #commit: (items: readonly I[]) => O[];
  readonly #maxBatch: number;
  #pending: { item: I; resolve: (o: O) => void; reject: (e: unknown) => void }[] = [];
  #scheduled = false;

  /** `commit` must return one result per item, in order, or throw to fail the whole batch. */
  constructor(commit: (items: readonly I[]) => O[], maxBatch = 4096) {
    this.#commit = commit;
    this.#maxBatch = maxBatch;
  }

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.#pending.push({ item, resolve, reject });
      this.#schedule();
    });
  }

  /** Commits everything queued now, synchronously (used by close()). */
  drain(): void {
    while (this.#pending.length > 0) this.#commitBatch();
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#commitBatch();
      if (this.#pending.length > 0) this.#schedule();
    });
  }

  #commitBatch(): void {
    const batch = this.#pending.splice(0, this.#maxBatch);
    if (batch.length === 0) return;
    let results: O[];
    try {
      results = this.#commit(batch.map((p) => p.item));
    } catch (e) {
      for (const p of batch) p.reject(e);
      return;
    }
    batch.forEach((p, i) => p.resolve(results[i]));
  }
}
