import Router from '@koa/router';
import type Koa from 'koa';
import '../../core/koa-augment.ts';
import { BadRequestError, ConflictError, NotFoundError } from '../../core/errors.ts';
import { canonicalizeProposedEntry } from '../kinds/index.ts';
import type { Canonicalize } from '../kinds/canonicalize-pool.ts';
import { leafHashFromEntryId } from './entry-id.ts';
import { RekorLog, type RekorLogOptions } from './entries.ts';
import { searchLogQuery } from './search.ts';
import { parseSearchIndex, runIndexQuery } from './index-search.ts';
import { addTileRoutes } from './tiles.ts';
import type { IndexedMerkleLog } from '../merkle-log.ts';

/**
 * Rekor v1 REST API (the subset sigstore clients use), paths and shapes as upstream openapi.yaml:
 *   POST /api/v1/log/entries                 create (201 + LogEntry, 409 + Location for duplicates)
 *   GET  /api/v1/log/entries?logIndex=N      entry by index
 *   GET  /api/v1/log/entries/{entryUUID}     entry by 64-hex leaf hash or 80-hex entry id
 *   POST /api/v1/log/entries/retrieve        search by ids, proposed entries and indexes (<= 10 queries)
 *   POST /api/v1/index/retrieve              entry UUIDs by artifact hash, public key or email (SearchIndex)
 *   GET  /api/v1/log                         LogInfo (size, root, signed checkpoint)
 *   GET  /api/v1/log/proof                   consistency proof
 *   GET  /api/v1/log/publicKey               the log key, PEM
 *   GET  /api/v1/tiles/...                   C2SP tlog-tiles read API (tiles.ts), when the engine is given
 * Errors are thrown as core/errors.ts classes; services/errors.ts writes Rekor's `{code, message}` body.
 */
export interface RekorRouterOptions extends RekorLogOptions {
  /** How proposed entries are validated and canonicalized; default inline. services/ passes a worker pool. */
  canonicalize?: Canonicalize;
  /** The search index of /api/v1/index/retrieve (the engine opened with `indexKeys: rekorIndexKeys`); default `log` if it has one. */
  index?: Pick<IndexedMerkleLog, 'searchIndex'> | IndexedMerkleLog;
}

export function rekorRouter(opts: RekorRouterOptions): Router {
  const rekor = new RekorLog(opts);
  const { log } = rekor;
  const publicKeyPem = opts.signer.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const canonicalize: Canonicalize = opts.canonicalize ?? (async (proposed) => canonicalizeProposedEntry(proposed));
  const router = new Router();

  router.post('/api/v1/log/entries', async (ctx) => {
    if (ctx.request.body === undefined) throw new BadRequestError('request body must be a JSON proposed entry');
    const leaf = await canonicalize(ctx.request.body);
    const { entry, duplicate } = await log.append(leaf);
    const entryId = rekor.entryId(entry);
    const location = `/api/v1/log/entries/${entryId}`;
    if (duplicate) {
      throw new ConflictError(`an equivalent entry already exists in the transparency log with UUID ${entryId}`, location);
    }
    const { json } = rekor.logEntry(entry, log.size());
    ctx.status = 201;
    ctx.set('Location', location);
    ctx.set('ETag', entryId);
    ctx.body = json;
  });

  router.get('/api/v1/log/entries', (ctx) => {
    const logIndex = queryInt(ctx, 'logIndex', { min: 0 });
    const size = log.size();
    const entry = logIndex < size ? log.getEntry(logIndex) : undefined;
    if (!entry) throw new NotFoundError(`no entry at log index ${logIndex} (log size ${size})`);
    ctx.body = rekor.logEntry(entry, size).json;
  });

  router.get('/api/v1/log/entries/:entryUUID', (ctx) => {
    const leafHash = leafHashFromEntryId(ctx.params.entryUUID, rekor.treeHex);
    const size = log.size();
    const entry = log.findByLeafHash(leafHash);
    if (!entry || entry.index >= size) throw new NotFoundError(`no entry with UUID ${ctx.params.entryUUID.toLowerCase()}`);
    ctx.body = rekor.logEntry(entry, size).json;
  });

  router.post('/api/v1/log/entries/retrieve', (ctx) => {
    if (ctx.request.body === undefined) throw new BadRequestError('request body must be a JSON search query');
    ctx.body = searchLogQuery(rekor, ctx.request.body);
  });

  const index = opts.index ?? ('searchIndex' in log ? (log as IndexedMerkleLog) : undefined);
  router.post('/api/v1/index/retrieve', (ctx) => {
    if (!index) throw new NotFoundError('this log keeps no search index');
    const query = parseSearchIndex(ctx.request.body);
    ctx.body = runIndexQuery(query, (key, limit) => index.searchIndex(key, limit))
      .map((i) => log.getEntry(i))
      .filter((e) => e !== undefined)
      .map((e) => rekor.entryId(e));
  });

  if (opts.index && 'subtreeHash' in opts.index) addTileRoutes(router, rekor, opts.index as IndexedMerkleLog);
  else if ('subtreeHash' in log) addTileRoutes(router, rekor, log as IndexedMerkleLog);

  router.get('/api/v1/log', (ctx) => {
    const size = log.size();
    ctx.body = {
      inactiveShards: [],
      rootHash: log.rootHash(size).toString('hex'),
      signedTreeHead: rekor.checkpoints.get(size),
      treeID: rekor.treeId,
      treeSize: size,
    };
  });

  router.get('/api/v1/log/proof', (ctx) => {
    checkTreeId(ctx, rekor.treeId);
    const size = log.size();
    const firstSize = queryInt(ctx, 'firstSize', { min: 1, fallback: 1 });
    const lastSize = queryInt(ctx, 'lastSize', { min: 1 });
    if (firstSize > lastSize) throw new BadRequestError(`firstSize(${firstSize}) must be less than or equal to lastSize(${lastSize})`);
    // rekor 5366584c / #1290: a size the log has not reached has no proof; refuse it rather than invent one.
    if (lastSize > size) throw new BadRequestError(`lastSize(${lastSize}) is greater than the current tree size(${size})`);
    const hashes = firstSize === lastSize ? [] : log.consistencyProof(firstSize, lastSize);
    ctx.body = { rootHash: log.rootHash(lastSize).toString('hex'), hashes: hashes.map((h) => h.toString('hex')) };
  });

  router.get('/api/v1/log/publicKey', (ctx) => {
    checkTreeId(ctx, rekor.treeId);
    ctx.type = 'application/x-pem-file';
    ctx.body = publicKeyPem;
  });

  return router;
}

/** One value of a query parameter; repeated parameters are ambiguous and refused. */
function queryString(ctx: Koa.Context, name: string): string | undefined {
  const value = ctx.query[name];
  if (Array.isArray(value)) throw new BadRequestError(`query parameter ${name} must be given once`);
  return value;
}

/** A non-negative decimal safe integer (digits only: no sign, exponent, spaces or hex). */
function queryInt(ctx: Koa.Context, name: string, o: { min: number; fallback?: number }): number {
  const text = queryString(ctx, name);
  if (text === undefined) {
    if (o.fallback !== undefined) return o.fallback;
    throw new BadRequestError(`query parameter ${name} is required`);
  }
  const value = /^[0-9]{1,16}$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value)) throw new BadRequestError(`query parameter ${name} must be a non-negative integer`);
  if (value < o.min) throw new BadRequestError(`query parameter ${name} must be at least ${o.min}`);
  return value;
}

/** The optional `treeID` parameter must name this log's tree (we have no inactive shards). */
function checkTreeId(ctx: Koa.Context, treeId: string): void {
  const text = queryString(ctx, 'treeID');
  if (text === undefined || text === '') return;
  if (!/^[0-9]{1,19}$/.test(text)) throw new BadRequestError('query parameter treeID must be a decimal tree id');
  if (BigInt(text) !== BigInt(treeId)) throw new BadRequestError(`tree ${text} is not served by this log`);
}
