/**
 * Verdicts by (image digest, effective policy): bounded (least recently used goes first) and each verdict
 * expires after a TTL, so a revoked trust root or a changed policy file takes effect within the TTL at worst.
 * The key is the digest, never the tag: a tag moved to other content is a cache miss.
 */
export interface Verdict {
  allowed: boolean;
  message: string;
}

/** Bounded (least recently used goes first), each value expiring after the TTL; also caches registry credentials. */
export class VerdictCache<V = Verdict> {
  readonly #entries = new Map<string, { verdict: V; expires: number }>();
  hits = 0;
  misses = 0;

  constructor(private readonly max: number, private readonly ttlMs: number, private readonly now: () => number = Date.now) {
    if (!(max >= 1) || !(ttlMs >= 0)) throw new Error('verdict cache: size must be at least 1 and the TTL not negative');
  }

  get(key: string): V | undefined {
    const e = this.#entries.get(key);
    if (!e || e.expires <= this.now()) {
      if (e) this.#entries.delete(key);
      this.misses++;
      return undefined;
    }
    this.#entries.delete(key);
    this.#entries.set(key, e); // most recently used last
    this.hits++;
    return e.verdict;
  }

  set(key: string, verdict: V): void {
    this.#entries.delete(key);
    this.#entries.set(key, { verdict, expires: this.now() + this.ttlMs });
    while (this.#entries.size > this.max) this.#entries.delete(this.#entries.keys().next().value!);
  }

  get size(): number {
    return this.#entries.size;
  }
}
