/**
 * C2SP tlog-tiles paths: `tile/<L>/<N>[.p/<W>]` and `tile/entries/<N>[.p/<W>]`, where N is written in
 * groups of three digits, every group but the last prefixed with `x` (1234067 -> x001/x234/067). Only the
 * canonical spelling is accepted, so one tile has one URL (and one cache entry).
 */
export const TILE_HEIGHT = 8;
export const TILE_WIDTH = 2 ** TILE_HEIGHT;

export interface TilePath {
  /** Tile level, or 'entries' for an entry bundle. */
  level: number | 'entries';
  index: number;
  /** Number of hashes (or entries): TILE_WIDTH for a full tile, 1..255 for a partial one. */
  width: number;
}

export function encodeTileIndex(n: number): string {
  const digits = String(n);
  const padded = digits.padStart(Math.ceil(digits.length / 3) * 3, '0');
  const groups = padded.match(/\d{3}/g)!;
  return groups.map((g, i) => (i < groups.length - 1 ? `x${g}` : g)).join('/');
}

export function tilePath(t: TilePath): string {
  return `tile/${t.level}/${encodeTileIndex(t.index)}${t.width < TILE_WIDTH ? `.p/${t.width}` : ''}`;
}

const PATH = /^(entries|[0-9]{1,2})\/((?:x[0-9]{3}\/){0,5}[0-9]{3})(?:\.p\/([0-9]{1,3}))?$/;

/** Parses what follows `tile/`; undefined for anything that is not a canonical tile path. */
export function parseTilePath(rest: string): TilePath | undefined {
  const m = PATH.exec(rest);
  if (!m) return undefined;
  const index = Number(m[2]!.replace(/x|\//g, ''));
  if (!Number.isSafeInteger(index) || encodeTileIndex(index) !== m[2]) return undefined;
  const level = m[1] === 'entries' ? 'entries' : Number(m[1]);
  if (level !== 'entries' && (String(level) !== m[1] || level > 6)) return undefined; // 8·6 = 48 levels > 2^53 leaves
  const width = m[3] === undefined ? TILE_WIDTH : Number(m[3]);
  if (m[3] !== undefined && (String(width) !== m[3] || width < 1 || width >= TILE_WIDTH)) return undefined;
  return { level, index, width };
}
