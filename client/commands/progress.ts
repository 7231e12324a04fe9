/**
 * Progress of long reads (hashing a large artifact, reading it from stdin), on stderr as `log fill` reports its
 * own: one line after the first second, then one a second, with the share done when the size is known, and the
 * rate. Work that takes less than a second prints nothing.
 */
function size(bytes: number): string {
  return bytes >= 1e9 ? `${(bytes / 1e9).toFixed(1)} GB` : `${Math.round(bytes / 1e6)} MB`;
}

export class ByteProgress {
  private done = 0;
  private readonly started = performance.now();
  private last = this.started;

  constructor(private readonly label: string, private readonly total: number | undefined,
    private readonly write: (line: string) => void = (line) => process.stderr.write(`${line}\n`)) {}

  /** `n` more bytes were read. */
  add(n: number): void {
    this.update(this.done + n);
  }

  /** `done` bytes have been read in all. */
  update(done: number): void {
    this.done = done;
    const now = performance.now();
    if (now - this.last < 1000) return;
    this.last = now;
    const rate = `${size(this.done / ((now - this.started) / 1000))}/s`;
    if (!this.total) this.write(`  ${this.label}: ${size(this.done)}, ${rate}`);
    else this.write(`  ${this.label}: ${Math.floor((100 * this.done) / this.total)}% (${size(this.done)} of ${size(this.total)}), ${rate}`);
  }
}
