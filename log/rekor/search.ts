import { BadRequestError, NotFoundError, UnprocessableError } from '../../core/errors.ts';
import { canonicalizeProposedEntry } from '../kinds/index.ts';
import type { Canonicalize } from '../kinds/canonicalize-pool.ts';
import { leafHash } from '../merkle/hash.ts';
import { readObject } from '../kinds/strict-json.ts';
import { parseEntryId } from './entry-id.ts';
import type { LogEntryJson } from './entries.ts';
import type { FoundEntry, RekorShards } from './shards.ts';

/**
 * POST /api/v1/log/entries/retrieve (SearchLogQuery): entries by entry ID / UUID, by proposed entry (its
 * canonical body's leaf hash) and by log index; what is not found is left out. At most 10 queries per
 * request in total (rekor#1011: unbounded queries were a DoS), more is a 422 as upstream. Over every tree of a
 * sharded log: indexes are global, an 80-hex id is looked up in its tree, a leaf hash in all of them.
 */
export const MAX_SEARCH_QUERIES = 10;

const inline: Canonicalize = async (proposed) => ({ body: canonicalizeProposedEntry(proposed) });

function readArray(value: unknown, path: string): unknown[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new BadRequestError(`${path} must be an array`);
  return value;
}

/**
 * `canonicalize` is how proposed entries are checked (default inline); the server passes its worker pool, as for
 * appends: a query of ten DSSE envelopes with many signatures and keys each costs hundreds of milliseconds of
 * signature checks, which on the event loop would stall every other request meanwhile.
 */
export async function searchLogQuery(shards: RekorShards, query: unknown, canonicalize: Canonicalize = inline): Promise<LogEntryJson[]> {
  const q = readObject(query, 'query', ['entryUUIDs', 'logIndexes', 'entries']);
  const ids = readArray(q.entryUUIDs, 'query.entryUUIDs');
  const indexes = readArray(q.logIndexes, 'query.logIndexes');
  const proposed = readArray(q.entries, 'query.entries');
  const total = ids.length + indexes.length + proposed.length;
  if (total > MAX_SEARCH_QUERIES) {
    throw new UnprocessableError(`maximum number of search queries (${MAX_SEARCH_QUERIES}) exceeded`);
  }

  // Validate everything before reading anything: one bad query fails the request, as upstream.
  const byId: string[] = [];
  ids.forEach((id, i) => {
    if (typeof id !== 'string') throw new BadRequestError(`query.entryUUIDs[${i}] must be a string`);
    parseEntryId(id);
    byId.push(id);
  });
  const positions = indexes.map((n, i) => {
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
      throw new BadRequestError(`query.logIndexes[${i}] must be a non-negative integer`);
    }
    return n;
  });
  // all checked at once; the first failure in query order is the answer, whichever finished first
  const checked = await Promise.allSettled(proposed.map((entry) => canonicalize(entry)));
  const hashes = checked.map((c) => {
    if (c.status === 'rejected') throw c.reason;
    return leafHash(c.value.body);
  });

  const found: (FoundEntry | undefined)[] = [];
  for (const id of byId) {
    try {
      found.push(shards.byEntryId(id));
    } catch (err) {
      // an entry of a tree this log does not serve is simply not here
      if (!(err instanceof NotFoundError)) throw err;
    }
  }
  for (const hash of hashes) found.push(shards.byLeafHash(hash));
  for (const index of positions) found.push(shards.byIndex(index));
  return found.filter((f) => f !== undefined).map((f) => shards.logEntry(f));
}
