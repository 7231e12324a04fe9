/**
 * The hash tiles of level >= 1 that `log audit` checks. Mirrors and witnesses build proofs from them, so a log
 * serving wrong ones must fail the audit even when its entries, level-0 tiles and root are right. Hash i of tile
 * level L is the RFC 6962 hash of leaves [i * 256^L, (i + 1) * 256^L): tree level 8L, which Frontier.append hands
 * over when the leaf that completes it arrives, so the auditor computes every tile from the entries alone.
 * Pure: this says which tile to fetch and what bytes it must be; log-audit-tree.ts reads it.
 */
import type { SubtreeHash } from '../log/merkle/frontier.ts';
import { encodeTileIndex, TILE_HEIGHT, TILE_WIDTH, tilePath } from '../log/rekor/tile-path.ts';
import { AuditFailure } from './log-audit-errors.ts';

const HASH = 32;

export interface TileCheck {
  level: number;
  index: number;
  /** Number of hashes: 256 for a full tile, 1..255 for a partial one. */
  width: number;
  /** Relative to the tiles base URL: `tile/<L>/<N>[.p/<W>]`. */
  path: string;
  /** What the tile must be, byte for byte: `width` hashes of 32 bytes. */
  expected: Buffer;
}

/** One tile level's tile being filled: its index and the hashes computed for it so far. */
interface Pending { tile: number; hashes: Buffer[] }

export class UpperTiles {
  /**
   * Per tile level, only the tile not yet full: at most 255 hashes between calls (8 KiB), so memory stays flat
   * however large the log (a 10M-entry log has 39,062 level-1 hashes; this holds at most 255 of them).
   */
  readonly #pending = new Map<number, Pending>();

  /** Takes what Frontier.append returned for one leaf (a frontier fed from size 0); returns the tiles it filled. */
  add(created: readonly SubtreeHash[]): TileCheck[] {
    const full: TileCheck[] = [];
    for (const s of created) {
      if (s.level % TILE_HEIGHT !== 0) continue;
      const level = s.level / TILE_HEIGHT;
      let p = this.#pending.get(level);
      if (!p) this.#pending.set(level, (p = { tile: 0, hashes: [] }));
      // A frontier completes each level's subtrees left to right; anything else is a caller's bug, and checking a
      // hash against the wrong tile position would report an honest log as bad.
      if (s.index !== p.tile * TILE_WIDTH + p.hashes.length) throw new Error(`subtree (level ${s.level}, index ${s.index}) out of order`);
      p.hashes.push(s.hash);
      if (p.hashes.length === TILE_WIDTH) {
        full.push(tileCheck(level, p.tile, p.hashes));
        this.#pending.set(level, { tile: p.tile + 1, hashes: [] });
      }
    }
    return full;
  }

  /** The partial tiles of the tree fed so far: one per level whose hash count is not a multiple of 256. */
  partial(): TileCheck[] {
    return [...this.#pending].filter(([, p]) => p.hashes.length > 0).sort(([a], [b]) => a - b).map(([level, p]) => tileCheck(level, p.tile, p.hashes));
  }

  /** Hashes held, all levels together (the memory bound, for tests). */
  get pendingHashes(): number {
    let n = 0;
    for (const p of this.#pending.values()) n += p.hashes.length;
    return n;
  }
}

function tileCheck(level: number, index: number, hashes: readonly Buffer[]): TileCheck {
  const width = hashes.length;
  return { level, index, width, path: tilePath({ level, index, width }), expected: Buffer.concat(hashes) };
}

/** Throws an AuditFailure naming the tile and its first wrong hash unless `got` is exactly the expected tile. */
export function checkTile(c: TileCheck, got: Buffer): void {
  if (got.equals(c.expected)) return;
  const name = `hash tile ${c.level}/${encodeTileIndex(c.index)} (level ${c.level}, width ${c.width})`;
  if (got.length !== c.expected.length) throw new AuditFailure(`${name} has ${got.length} bytes, expected ${c.expected.length}`);
  let i = 0;
  while (got.subarray(i * HASH, (i + 1) * HASH).equals(c.expected.subarray(i * HASH, (i + 1) * HASH))) i++;
  const span = TILE_WIDTH ** c.level;
  const first = (c.index * TILE_WIDTH + i) * span;
  throw new AuditFailure(`${name}: hash ${i} (the subtree of entries ${first}-${first + span - 1}) is not the one the entries give`);
}
