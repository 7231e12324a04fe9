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
