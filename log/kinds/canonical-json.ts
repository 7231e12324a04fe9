import canonicalizeModule from 'canonicalize';
import { BadRequestError } from '../../core/errors.ts';

/**
 * RFC 8785 (JCS) serialization, the form Rekor uses for entry bodies and SET payloads.
 * `canonicalize` is a CommonJS module whose typings declare an ES default export; under NodeNext the
 * default import is `module.exports` (the function) at run time, but TypeScript types it as the namespace.
 * Resolve it once here instead of casting at every call site.
 */
type Serialize = (input: unknown) => string | undefined;
const mod = canonicalizeModule as unknown as Serialize | { default: Serialize };
const serialize: Serialize = typeof mod === 'function' ? mod : mod.default;

/**
 * A lone surrogate as JSON.stringify (which `canonicalize` uses for every string and key) writes it: the only
 * surrogates it escapes are lone ones, and an escape is one whose backslash is not itself escaped.
 */
const ESCAPED_LONE_SURROGATE = /(?:^|[^\\])(?:\\\\)*\\ud[89a-f][0-9a-f]{2}/i;

/**
 * Canonical JSON bytes (UTF-8). Throws TypeError for values JSON cannot represent, and BadRequestError for a
 * string holding a lone surrogate, which RFC 8785 forbids (a backstop: the entry readers refuse the fields they
 * know by name first).
 */
export function canonicalJson(value: unknown): Buffer {
  const text = serialize(value);
  if (text === undefined) throw new TypeError('value has no JSON representation');
  if (ESCAPED_LONE_SURROGATE.test(text)) throw new BadRequestError('the entry holds a string that is not valid Unicode (a lone surrogate)');
  return Buffer.from(text, 'utf8');
}
