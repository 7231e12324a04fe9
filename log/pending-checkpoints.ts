/**
 * Checkpoints shown to clients that wait to join the history of published checkpoints. Every entry response
 * carries the signed checkpoint its proof is for (one per group commit under load); writing each in a
 * transaction of its own would add a commit, an fsync, per group commit on the event loop. They are written in
 * the next transaction the engine commits anyway (the next batch of appends), or by themselves within `delayMs`
 * when no append comes. One row per tree size, so what waits is bounded by the sizes signed in that time.
 */
export interface PendingCheckpoint {
  size: number;
  note: string;
  publishedMs: number;
}

export class PendingCheckpoints {
  readonly #rows = new Map<number, PendingCheckpoint>();
  #timer: NodeJS.Timeout | undefined;

  constructor(private readonly flush: () => void, private readonly delayMs = 1000) {}

  /** Keeps the first note for a size, as the history does (a later one for the same size is the same tree). */
  add(row: PendingCheckpoint): void {
    if (!this.#rows.has(row.size)) this.#rows.set(row.size, row);
    if (!this.#timer) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.flush();
      }, this.delayMs);
      this.#timer.unref(); // never what keeps a process alive: close() flushes
    }
  }

  /** Everything waiting, handed to the caller's transaction (give it back with `restore` if that rolls back). */
  take(): PendingCheckpoint[] {
    const rows = [...this.#rows.values()];
    this.#rows.clear();
    return rows;
  }

  restore(rows: readonly PendingCheckpoint[]): void {
    for (const row of rows) if (!this.#rows.has(row.size)) this.#rows.set(row.size, row);
  }

  cancel(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
