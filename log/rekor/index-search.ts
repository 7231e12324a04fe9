import { BadRequestError, UnprocessableError } from '../../core/errors.ts';
import { parseVerifierKey } from '../kinds/verifier-key.ts';
import { decodeBase64, readObject, readString } from '../kinds/strict-json.ts';
import { emailKey, hashKey, publicKeyKey } from '../kinds/index-keys.ts';

/**
 * POST /api/v1/index/retrieve (upstream SearchIndex): `{hash?, publicKey?: {format, content?, url?}, email?,
 * operator?: "and"|"or"}` -> array of entry UUIDs. Lookups are rows of the SQLite index written with each
 * append (log/kinds/index-keys.ts). GHSA-4c4x-jm2x-pf9j: `publicKey.url` was fetched by upstream (blind
 * SSRF); here it is refused with 400, never fetched. Only x509 keys exist in this log's kinds.
 */
export const MAX_INDEX_RESULTS = 10_000;

const HASH = /^(?:(sha256):)?([0-9a-fA-F]{64})$|^(?:(sha384):)?([0-9a-fA-F]{96})$|^(?:(sha512):)?([0-9a-fA-F]{128})$/;

export interface IndexQuery {
  keys: string[];
  operator: 'and' | 'or';
}

export function parseSearchIndex(body: unknown): IndexQuery {
  const q = readObject(body, 'query', ['hash', 'publicKey', 'email', 'operator']);
  const keys: string[] = [];
  if (q.hash !== undefined) {
    const text = readString(q.hash, 'query.hash');
    const m = HASH.exec(text);
    if (!m) throw new BadRequestError('query.hash must be [sha256:]<64 hex>, [sha384:]<96 hex> or [sha512:]<128 hex>');
    const hex = m[2] ?? m[4] ?? m[6]!;
    keys.push(hashKey(hex.length === 64 ? 'sha256' : hex.length === 96 ? 'sha384' : 'sha512', hex));
  }
  if (q.publicKey !== undefined) {
    const pk = readObject(q.publicKey, 'query.publicKey', ['format', 'content', 'url'], ['format']);
    if (pk.url !== undefined) throw new BadRequestError('query.publicKey.url is not supported: send the key in query.publicKey.content');
    const format = readString(pk.format, 'query.publicKey.format');
    if (format !== 'x509') throw new BadRequestError(`query.publicKey.format "${format.slice(0, 16)}" is not supported (x509)`);
    const content = readString(pk.content, 'query.publicKey.content');
    const pem = decodeBase64(content, 'query.publicKey.content');
    keys.push(publicKeyKey(parseVerifierKey(pem, 'query.publicKey.content').canonicalPem));
  }
  if (q.email !== undefined) {
    const email = readString(q.email, 'query.email');
    if (email.length > 320 || !/^[^\s@]+@[^\s@]+$/.test(email)) throw new BadRequestError('query.email must be an email address');
    keys.push(emailKey(email));
  }
  if (keys.length === 0) throw new BadRequestError('query must give at least one of hash, publicKey, email');
  const operator = q.operator === undefined ? 'or' : readString(q.operator, 'query.operator');
  if (operator !== 'and' && operator !== 'or') throw new BadRequestError('query.operator must be "and" or "or"');
  return { keys, operator };
}

export interface SearchableIndex {
  /** Indices under `key`, ascending, at most `limit`. */
  searchIndex(key: string, limit: number): number[];
  inSearchIndex(key: string, index: number): boolean;
}

export function tooManyMatches(): never {
  throw new UnprocessableError(`more than ${MAX_INDEX_RESULTS} entries match the query: narrow it (several of hash, publicKey and email with operator "and")`);
}

/**
 * Entry indices matching the query, ascending, all of them or UnprocessableError (422): never a silently cut list.
 * (Each key used to be cut to its first 10,000 entries before the intersection, so an "and" query missed newer
 * matches.) Every lookup is bounded: each key is read to at most MAX_INDEX_RESULTS + 1 entries; for "and", the
 * smallest complete list is filtered by one primary-key lookup per entry and key.
 */
export function runIndexQuery(q: IndexQuery, index: SearchableIndex): number[] {
  const found = [...new Set(q.keys)].map((key) => ({ key, indices: index.searchIndex(key, MAX_INDEX_RESULTS + 1) }));
  const complete = (f: { indices: number[] }) => f.indices.length <= MAX_INDEX_RESULTS;
  if (q.operator === 'or') {
    if (!found.every(complete)) tooManyMatches();
    const all = [...new Set(found.flatMap((f) => f.indices))].sort((a, b) => a - b);
    if (all.length > MAX_INDEX_RESULTS) tooManyMatches();
    return all;
  }
  const smallest = found.filter(complete).sort((a, b) => a.indices.length - b.indices.length)[0];
  if (!smallest) tooManyMatches();
  const others = found.filter((f) => f !== smallest).map((f) => (complete(f) ? { set: new Set(f.indices) } : { key: f.key }));
  return smallest.indices.filter((i) => others.every((o) => (o.set ? o.set.has(i) : index.inSearchIndex(o.key!, i))));
}
