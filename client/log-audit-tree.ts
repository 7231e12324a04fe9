import { Frontier } from '../log/merkle/frontier.ts';
import { leafHash } from '../log/merkle/hash.ts';
import { verifyConsistency } from '../log/merkle/verify.ts';
import { encodeTileIndex } from '../log/rekor/tile-path.ts';
import { createHash } from 'node:crypto';
import { AuditFailure } from './log-audit-errors.ts';
import { readJson, type Read } from './log-audit-http.ts';
import { checkTile, UpperTiles, type TileCheck } from './log-audit-tiles.ts';

/**
 * One tree of `log audit`: every entry from the tiles, its root, the hash tiles of every level, and the consistency
 * with the saved checkpoint.
 */
const TILE = 256;

export interface TreeHead { size: number; rootHash: Buffer }

/** The root of the empty tree (RFC 6962 2.1): what a saved checkpoint of size 0 must hold. */
const EMPTY_ROOT = createHash('sha256').digest();
/** An entry bundle: per entry a 2-byte length and at most 65,535 bytes (C2SP tlog-tiles). */
const MAX_ENTRY = 2 + 0xffff;

export function progressLine(done: number, total: number, started: number): string {
  const seconds = (performance.now() - started) / 1000;
  const rate = done / Math.max(seconds, 1e-3);
  const eta = rate > 0 ? (total - done) / rate : 0;
  return `  ${done.toLocaleString('en-US')} / ${total.toLocaleString('en-US')} entries, ${Math.round(rate).toLocaleString('en-US')} entries/s, ETA ${eta.toFixed(0)} s`;
}

/**
 * Every entry of one tree against its checkpoint `head`, and `saved` (an earlier checkpoint of that tree) as its
 * prefix: each body is hashed and compared with the leaf hash the server's tree holds (hash tile), the root is
 * rebuilt from every leaf with an RFC 6962 frontier, every hash tile of level >= 1 (full as it fills, partial at the
 * end) must be the subtree hashes that frontier computed (log-audit-tiles.ts), and the saved root is recomputed
 * from the entries AND checked with the server's consistency proof.
 */
export async function auditTree(proofUrl: string, tiles: string, head: TreeHead, saved: TreeHead | undefined, read: Read, progress: (line: string) => void): Promise<void> {
  if (saved && saved.size > head.size) throw new AuditFailure(`the log shrank: saved checkpoint has ${saved.size} entries, the log now ${head.size}`);
  if (saved && saved.size === 0 && !saved.rootHash.equals(EMPTY_ROOT)) throw new AuditFailure('the saved checkpoint of 0 entries does not hold the root of the empty tree');
  const frontier = new Frontier(0, []);
  const upper = new UpperTiles();
  const checkUpper = async (c: TileCheck) => checkTile(c, await read(`${tiles}/${c.path}`, c.width * 32));
  const started = performance.now();
  let lastReport = started;
  for (let tile = 0; tile * TILE < head.size; tile++) {
    const width = Math.min(TILE, head.size - tile * TILE);
    const suffix = `${encodeTileIndex(tile)}${width < TILE ? `.p/${width}` : ''}`;
    const [leafHashes, entries] = await Promise.all([read(`${tiles}/tile/0/${suffix}`, width * 32), read(`${tiles}/tile/entries/${suffix}`, width * MAX_ENTRY)]);
    if (leafHashes.length !== width * 32) throw new AuditFailure(`hash tile ${tile} has ${leafHashes.length} bytes, expected ${width * 32}`);
    let offset = 0;
    const filled: TileCheck[] = [];
    for (let i = 0; i < width; i++) {
      const index = tile * TILE + i;
      if (offset + 2 > entries.length) throw new AuditFailure(`entry bundle ${tile} ends before entry ${index}`);
      const length = entries.readUInt16BE(offset);
      const body = entries.subarray(offset + 2, offset + 2 + length);
      offset += 2 + length;
      const hash = leafHash(body);
      if (!hash.equals(leafHashes.subarray(i * 32, i * 32 + 32))) {
        throw new AuditFailure(`entry ${index}: its body does not hash to the leaf the log's tree holds at index ${index}`);
      }
      filled.push(...upper.add(frontier.append(hash)));
      if (saved && frontier.size === saved.size && !frontier.root().equals(saved.rootHash)) {
        throw new AuditFailure(`the first ${saved.size} entries (up to index ${saved.size - 1}) no longer hash to the root of the saved checkpoint: history was rewritten`);
      }
    }
    if (offset !== entries.length) throw new AuditFailure(`entry bundle ${tile} has bytes after its ${width} entries`);
    for (const c of filled) await checkUpper(c); // one upper tile per 65,536 entries: read in line
    if (performance.now() - lastReport > 1000) {
      lastReport = performance.now();
      progress(progressLine(frontier.size, head.size, started));
    }
  }
  if (!frontier.root().equals(head.rootHash)) throw new AuditFailure(`the root of all ${head.size} entries is not the checkpoint's root`);
  for (const c of upper.partial()) await checkUpper(c);
  // Every tree extends the empty one: a saved size of 0 (its root checked above) needs no proof.
  if (saved && saved.size > 0 && saved.size < head.size) {
    const url = `${proofUrl}firstSize=${saved.size}&lastSize=${head.size}`;
    const proof = await readJson(read, url, (m) => new AuditFailure(`the log's consistency proof from ${saved.size} to ${head.size}: ${m}`), { known: true }) as { hashes?: unknown };
    const hashes = (Array.isArray(proof?.hashes) ? proof.hashes : []).map((h) => Buffer.from(String(h), 'hex'));
    if (!verifyConsistency(saved.size, head.size, hashes, saved.rootHash, head.rootHash)) {
      throw new AuditFailure(`the log's consistency proof from ${saved.size} to ${head.size} does not verify`);
    }
  }
  progress(progressLine(frontier.size, head.size, started));
}
