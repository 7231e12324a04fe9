/**
 * A bounded memo for results that are pure functions of their key and of the (immutable) trust material:
 * parsed certificates and their verified chains and SCTs, verified checkpoints. Oldest-first eviction keeps
 * memory bounded whatever a caller feeds the verifier; a long-running verifier keeps its hot entries because
 * a hit moves an entry to the back.
 */
export class BoundedCache<K, V> {
  readonly #map = new Map<K, V>();

  constructor(private readonly capacity: number) {}

  get(key: K): V | undefined {
    const v = this.#map.get(key);
    if (v !== undefined) {
      this.#map.delete(key);
      this.#map.set(key, v);
    }
    return v;
  }

  set(key: K, value: V): void {
    this.#map.delete(key);
    this.#map.set(key, value);
    if (this.#map.size > this.capacity) this.#map.delete(this.#map.keys().next().value as K);
  }

  get size(): number {
    return this.#map.size;
  }
}

/**
 * `read` remembered by the exact bytes it reads, for small DER values that recur across certificates: every
 * Fulcio leaf carries the same key usage, extended key usage, basic constraints, authority key id and issuer
 * extension, and one signer's identity recurs in all its certificates. Reading one through asn1js costs ~10-30
 * µs; looking it up costs well under one. Only results are kept (a value that fails to read is read again and
 * fails again), objects frozen so that no caller can change what the next certificate gets (a Buffer cannot be
 * frozen: callers treat the bytes they get as read-only, as they already do a certificate's); larger values
 * are always read afresh.
 */
export function memoizeByBytes<T>(read: (value: Buffer) => T, capacity = 256, maxBytes = 128): (value: Buffer) => T {
  const memo = new BoundedCache<string, T>(capacity);
  return (value) => {
    if (value.length > maxBytes) return read(value);
    const key = value.toString('latin1');
    let result = memo.get(key);
    if (result === undefined) {
      result = read(value);
      if (typeof result === 'object' && result !== null && !ArrayBuffer.isView(result)) Object.freeze(result);
      memo.set(key, result);
    }
    return result;
  };
}
