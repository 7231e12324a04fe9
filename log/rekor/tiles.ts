import type Router from '@koa/router';
import { NotFoundError, SigstackError } from '../../core/errors.ts';
import type { IndexedMerkleLog } from '../merkle-log.ts';
import type { RekorLog } from './entries.ts';
import { parseTilePath, TILE_HEIGHT, TILE_WIDTH } from './tile-path.ts';
import { queryInt } from './query.ts';

/**
 * The C2SP tlog-tiles read API over the same SQLite store, under TILES_PREFIX:
 *   GET <prefix>/checkpoint                  the signed checkpoint of the current tree (recorded as published)
 *   GET <prefix>/tile/<L>/<N>[.p/<W>]        W hashes of tree level 8L, from node N·256 (full tiles: immutable)
 *   GET <prefix>/tile/entries/<N>[.p/<W>]    entries N·256.. as big-endian uint16 length + canonical body
 *   GET <prefix>/checkpoints?from=S&limit=K  history of published checkpoints (sigstack extension, JSON)
 * Under a prefix rather than the server root because the one port also serves Fulcio, Rekor and CT APIs: a
 * tile client takes a base URL, and `/checkpoint` at the root would be ambiguous beside them.
 * Consistency proofs between any two sizes: GET /api/v1/log/proof?firstSize=&lastSize= (Rekor API).
 * A tree frozen by a key rotation is served read-only under shardTilesPrefix(treeId), with the checkpoint signed
 * at rotation (nothing is recorded in its database).
 */
export const TILES_PREFIX = '/api/v1/tiles';

/** Where the tiles of a frozen tree are served (sigstack extension; Rekor v1 has no tiles at all). */
export function shardTilesPrefix(treeId: string): string {
  return `${TILES_PREFIX}/shards/${treeId}`;
}
const MAX_HISTORY = 1000;
const IMMUTABLE = 'public, max-age=31536000, immutable';

export function addTileRoutes(router: Router, rekor: RekorLog, log: IndexedMerkleLog, prefix = TILES_PREFIX): void {
  router.get(`${prefix}/checkpoint`, (ctx) => {
    const size = rekor.size();
    const note = rekor.checkpoint(size);
    if (!rekor.frozen) log.publishCheckpoint(size, note);
    ctx.type = 'text/plain; charset=utf-8';
    ctx.set('Cache-Control', 'no-cache');
    ctx.body = note;
  });

  router.get(`${prefix}/checkpoints`, (ctx) => {
    const from = queryInt(ctx, 'from', { min: 0, fallback: 0 });
    const limit = Math.min(MAX_HISTORY, queryInt(ctx, 'limit', { min: 1, fallback: MAX_HISTORY }));
    ctx.body = log.publishedCheckpoints(from, limit).map((c) => ({ size: c.size, checkpoint: c.note, publishedAt: new Date(c.publishedMs).toISOString() }));
  });

  router.get(`${prefix}/tile/*rest`, (ctx) => {
    const rest = String(ctx.params.rest ?? '');
    const tile = parseTilePath(rest);
    if (!tile) throw new NotFoundError(`not a tile path: ${rest.slice(0, 64)}`);
    const size = rekor.size();
    const first = tile.index * TILE_WIDTH;
    if (tile.level === 'entries') {
      if (first + tile.width > size) throw new NotFoundError(`entry tile ${rest} is beyond the log size ${size}`);
      const entries = log.getEntries(first, first + tile.width - 1, tile.width);
      const parts: Buffer[] = [];
      for (const e of entries) {
        if (e.leaf.length > 0xffff) throw new SigstackError(500, 'ENTRY_TOO_LARGE_FOR_TILE', `entry ${e.index} is over 65535 bytes: read it with GET /api/v1/log/entries?logIndex=${e.index}`);
        const len = Buffer.alloc(2);
        len.writeUInt16BE(e.leaf.length);
        parts.push(len, e.leaf);
      }
      ctx.body = Buffer.concat(parts);
    } else {
      const level = tile.level * TILE_HEIGHT;
      if ((first + tile.width) * 2 ** level > size) throw new NotFoundError(`tile ${rest} is beyond the log size ${size}`);
      ctx.body = Buffer.concat(Array.from({ length: tile.width }, (_, i) => log.subtreeHash(level, first + i)));
    }
    ctx.type = 'application/octet-stream';
    // a full tile never changes; a partial one is a prefix of a later tile, also never changes once served
    ctx.set('Cache-Control', IMMUTABLE);
  });
}
