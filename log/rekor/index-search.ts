import { BadRequestError } from '../../core/errors.ts';
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

/** Entry indices matching the query, ascending. */
export function runIndexQuery(q: IndexQuery, lookup: (key: string, limit: number) => number[]): number[] {
  const sets = q.keys.map((k) => lookup(k, MAX_INDEX_RESULTS));
  let result: number[];
  if (q.operator === 'or') result = [...new Set(sets.flat())];
  else {
    const [first, ...rest] = sets.map((s) => new Set(s));
    result = [...first!].filter((i) => rest.every((s) => s.has(i)));
  }
  return result.sort((a, b) => a - b).slice(0, MAX_INDEX_RESULTS);
}
