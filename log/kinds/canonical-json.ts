import canonicalizeModule from 'canonicalize';

/**
 * RFC 8785 (JCS) serialization, the form Rekor uses for entry bodies and SET payloads.
 * `canonicalize` is a CommonJS module whose typings declare an ES default export; under NodeNext the
 * default import is `module.exports` (the function) at run time, but TypeScript types it as the namespace.
 * Resolve it once here instead of casting at every call site.
 */
type Serialize = (input: unknown) => string | undefined;
const mod = canonicalizeModule as unknown as Serialize | { default: Serialize };
const serialize: Serialize = typeof mod === 'function' ? mod : mod.default;

/** Canonical JSON bytes (UTF-8). Throws TypeError for values JSON cannot represent. */
export function canonicalJson(value: unknown): Buffer {
  const text = serialize(value);
  if (text === undefined) throw new TypeError('value has no JSON representation');
  return Buffer.from(text, 'utf8');
}
