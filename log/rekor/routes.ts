import Router from '@koa/router';
import '../../core/koa-augment.ts';
import { BadRequestError, ConflictError, NotFoundError, PayloadTooLargeError } from '../../core/errors.ts';
import { ProposedEntryJson, canonicalizeProposedEntry } from '../kinds/index.ts';
import type { Canonicalize } from '../kinds/canonicalize-pool.ts';
import { leafHash } from '../merkle/hash.ts';
import type { RekorLogOptions } from './entries.ts';
import { RekorShards, type FrozenShardOptions } from './shards.ts';
import { searchLogQuery } from './search.ts';
import { MAX_INDEX_RESULTS, parseSearchIndex, runIndexQuery, tooManyMatches } from './index-search.ts';
import { addTileRoutes, shardTilesPrefix } from './tiles.ts';
import { queryInt, queryString } from './query.ts';
import type { IndexedMerkleLog } from '../merkle-log.ts';

/**
 * Rekor v1 REST API (the subset sigstore clients use), paths and shapes as upstream openapi.yaml:
 *   POST /api/v1/log/entries                 create (201 + LogEntry, 409 + Location for duplicates)
 *   GET  /api/v1/log/entries?logIndex=N      entry by global index (over every tree, oldest first)
 *   GET  /api/v1/log/entries/{entryUUID}     entry by 64-hex leaf hash (any tree) or 80-hex entry id (its tree)
 *   POST /api/v1/log/entries/retrieve        search by ids, proposed entries and indexes (<= 10 queries)
 *   POST /api/v1/index/retrieve              entry UUIDs by artifact hash, public key or email (SearchIndex)
 *   GET  /api/v1/log                         LogInfo of the active tree (size, root, checkpoint) + inactiveShards
 *   GET  /api/v1/log/proof[?treeID=]         consistency proof (active tree unless treeID names another)
 *   GET  /api/v1/log/publicKey[?treeID=]     a tree's key, PEM
 *   GET  /api/v1/tiles/...                   C2SP tlog-tiles read API (tiles.ts), when the engine is given
 * After key rotations (`sigstack log rotate`), the log is sharded as Rekor's (log/rekor/shards.ts): appends go to
 * the active tree, reads reach every tree.
 * Errors are thrown as core/errors.ts classes; services/errors.ts writes Rekor's `{code, message}` body.
 */
export interface RekorRouterOptions extends RekorLogOptions {
  /** How proposed entries are validated and canonicalized; default inline. services/ passes a worker pool. */
  canonicalize?: Canonicalize;
  /** The search index of /api/v1/index/retrieve (the engine opened with `indexKeys: rekorIndexKeys`); default `log` if it has one. */
  index?: Pick<IndexedMerkleLog, 'searchIndex' | 'inSearchIndex'> | IndexedMerkleLog;
  /** Trees frozen by key rotations, oldest first (log/rekor/shards.ts); `log` is then the active tree. */
  inactiveShards?: FrozenShardOptions[];
}

const MAX_TILE_ENTRY = 0xffff;

type SearchIndex = Pick<IndexedMerkleLog, 'searchIndex' | 'inSearchIndex'>;
const hasSearchIndex = (l: unknown): l is SearchIndex => typeof (l as SearchIndex | undefined)?.inSearchIndex === 'function';

export function rekorRouter(opts: RekorRouterOptions): Router {
  const shards = new RekorShards(opts, opts.inactiveShards);
  const rekor = shards.active;
  const { log } = rekor;
  const canonicalize: Canonicalize = opts.canonicalize ?? (async (proposed) => ({ body: canonicalizeProposedEntry(proposed) }));
  const router = new Router();

  router.post('/api/v1/log/entries', async (ctx) => {
    const raw = ctx.request.rawBody;
    if (!raw || raw.length === 0) throw new BadRequestError('request body must be a JSON proposed entry');
    // the JSON text goes to the checker as it came: parsed once, on the worker (services/body.ts parses lazily)
    const { body: leaf, indexKeys } = await canonicalize(new ProposedEntryJson(raw));
    // A C2SP tlog-tiles entry bundle prefixes each entry with a uint16 length: a longer entry could never be
    // mirrored through the tiles, so it is refused here rather than made unreadable there.
    if (leaf.length > MAX_TILE_ENTRY) {
      throw new PayloadTooLargeError(`the canonical entry is ${leaf.length} bytes; entries are at most ${MAX_TILE_ENTRY} bytes so that every entry fits a tlog-tiles entry bundle`);
    }
    // Rekor checks only the active tree; a body already in a frozen tree is that entry, not a second one.
    const frozen = shards.inactive.length > 0 ? shards.frozenDuplicate(leafHash(leaf)) : undefined;
    const { entry, duplicate } = frozen ? { entry: frozen.entry, duplicate: true } : await log.append(leaf, null, indexKeys);
    const entryId = (frozen?.shard ?? rekor).entryId(entry);
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

  // logIndex is the global index over every tree, as Rekor's virtual index
  router.get('/api/v1/log/entries', (ctx) => {
    const logIndex = queryInt(ctx, 'logIndex', { min: 0 });
    const found = shards.byIndex(logIndex);
    if (!found) throw new NotFoundError(`no entry at log index ${logIndex} (log size ${shards.size()})`);
    ctx.body = shards.logEntry(found);
  });

  router.get('/api/v1/log/entries/:entryUUID', (ctx) => {
    const found = shards.byEntryId(ctx.params.entryUUID);
    if (!found) throw new NotFoundError(`no entry with UUID ${ctx.params.entryUUID.toLowerCase()}`);
    ctx.body = shards.logEntry(found);
  });

  router.post('/api/v1/log/entries/retrieve', async (ctx) => {
    if (ctx.request.body === undefined) throw new BadRequestError('request body must be a JSON search query');
    ctx.body = await searchLogQuery(shards, ctx.request.body, canonicalize);
  });

  const activeIndex = opts.index ?? (hasSearchIndex(log) ? log : undefined);
  const indexes = [...shards.inactive.map((s) => (hasSearchIndex(s.log) ? s.log : undefined)), activeIndex];
  router.post('/api/v1/index/retrieve', (ctx) => {
    if (!activeIndex) throw new NotFoundError('this log keeps no search index');
    const query = parseSearchIndex(ctx.request.body);
    const ids: string[] = [];
    shards.all().forEach((shard, i) => {
      const index = indexes[i];
      if (!index) return;
      const size = shard.size();
      for (const n of runIndexQuery(query, index)) {
        const entry = n < size ? shard.log.getEntry(n) : undefined;
        if (!entry) continue;
        if (ids.length >= MAX_INDEX_RESULTS) tooManyMatches(); // across the log's trees, as within one
        ids.push(shard.entryId(entry));
      }
    });
    ctx.body = ids;
  });

  // tlog-tiles: the active tree at TILES_PREFIX, each frozen tree at TILES_PREFIX/shards/<tree id>
  const tiled = (l: unknown): l is IndexedMerkleLog => typeof (l as IndexedMerkleLog | undefined)?.subtreeHash === 'function';
  if (tiled(opts.index)) addTileRoutes(router, rekor, opts.index);
  else if (tiled(log)) addTileRoutes(router, rekor, log);
  for (const shard of shards.inactive) if (tiled(shard.log)) addTileRoutes(router, shard, shard.log, shardTilesPrefix(shard.treeId));

  // The engine's history, wherever it is: services/ hands `log` wrapped for metrics and the engine as `index`
  // (looking at `log` alone, the Rekor API's signed tree heads were never recorded when served for real).
  const history = [opts.index, log].find((l): l is IndexedMerkleLog => typeof (l as IndexedMerkleLog | undefined)?.publishCheckpoint === 'function');
  // Every checkpoint signed for the active tree may be shown (entry responses carry one), so each goes into the
  // history; with the next batch of appends rather than in a commit of its own (log/pending-checkpoints.ts).
  if (history && !rekor.frozen) rekor.checkpoints.onSigned = (size, note) => history.publishCheckpointLater(size, note);
  router.get('/api/v1/log', (ctx) => {
    const size = log.size();
    const signedTreeHead = rekor.checkpoints.get(size);
    // every signed tree head a client is shown goes into the history, as the tiles checkpoint does
    history?.publishCheckpoint(size, signedTreeHead);
    ctx.body = {
      inactiveShards: shards.inactive.map((s) => ({
        rootHash: s.log.rootHash(s.size()).toString('hex'),
        signedTreeHead: s.checkpoint(s.size()),
        treeID: s.treeId,
        treeSize: s.size(),
      })),
      rootHash: log.rootHash(size).toString('hex'),
      signedTreeHead,
      treeID: rekor.treeId,
      treeSize: size,
    };
  });

  router.get('/api/v1/log/proof', (ctx) => {
    const shard = shards.byTreeId(queryString(ctx, 'treeID'));
    const size = shard.size();
    const firstSize = queryInt(ctx, 'firstSize', { min: 1, fallback: 1 });
    const lastSize = queryInt(ctx, 'lastSize', { min: 1 });
    if (firstSize > lastSize) throw new BadRequestError(`firstSize(${firstSize}) must be less than or equal to lastSize(${lastSize})`);
    // rekor 5366584c / #1290: a size the log has not reached has no proof; refuse it rather than invent one.
    if (lastSize > size) throw new BadRequestError(`lastSize(${lastSize}) is greater than the current tree size(${size})`);
    const hashes = firstSize === lastSize ? [] : shard.log.consistencyProof(firstSize, lastSize);
    ctx.body = { rootHash: shard.log.rootHash(lastSize).toString('hex'), hashes: hashes.map((h) => h.toString('hex')) };
  });

  const pems = new Map(shards.all().map((s) => [s, s.signer.publicKey.export({ type: 'spki', format: 'pem' }).toString()]));
  router.get('/api/v1/log/publicKey', (ctx) => {
    const shard = shards.byTreeId(queryString(ctx, 'treeID'));
    ctx.type = 'application/x-pem-file';
    ctx.body = pems.get(shard);
  });

  return router;
}
