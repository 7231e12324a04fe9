import { Frontier } from '../log/merkle/frontier.ts';
import { leafHash } from '../log/merkle/hash.ts';
import { verifyConsistency } from '../log/merkle/verify.ts';
import { AuditFailure, AuditUnavailable } from './log-audit-errors.ts';

/** One tree of `log audit`: every entry from the tiles, its root, and the consistency with the saved checkpoint. */
const TILE = 256;

export interface TreeHead { size: number; rootHash: Buffer }

type Get = (url: string) => Promise<Response>;

export function progressLine(done: number, total: number, started: number): string {
  const seconds = (performance.now() - started) / 1000;
  const rate = done / Math.max(seconds, 1e-3);
  const eta = rate > 0 ? (total - done) / rate : 0;
  return `  ${done.toLocaleString('en-US')} / ${total.toLocaleString('en-US')} entries, ${Math.round(rate).toLocaleString('en-US')} entries/s, ETA ${eta.toFixed(0)} s`;
}

/**
 * Every entry of one tree against its checkpoint `head`, and `saved` (an earlier checkpoint of that tree) as its
 * prefix: each body is hashed and compared with the leaf hash the server's tree holds (hash tile), the root is
 * rebuilt from every leaf with an RFC 6962 frontier, and the saved root is recomputed from the entries AND checked
 * with the server's consistency proof.
 */
export async function auditTree(proofUrl: string, tiles: string, head: TreeHead, saved: TreeHead | undefined, get: Get, progress: (line: string) => void): Promise<void> {
  if (saved && saved.size > head.size) throw new AuditFailure(`the log shrank: saved checkpoint has ${saved.size} entries, the log now ${head.size}`);
  const frontier = new Frontier(0, []);
  const started = performance.now();
  let lastReport = started;
  for (let tile = 0; tile * TILE < head.size; tile++) {
    const width = Math.min(TILE, head.size - tile * TILE);
    const suffix = `${encodeIndex(tile)}${width < TILE ? `.p/${width}` : ''}`;
    const [leafHashes, entries] = await Promise.all([bytes(`${tiles}/tile/0/${suffix}`, get), bytes(`${tiles}/tile/entries/${suffix}`, get)]);
    if (leafHashes.length !== width * 32) throw new AuditFailure(`hash tile ${tile} has ${leafHashes.length} bytes, expected ${width * 32}`);
    let offset = 0;
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
      frontier.append(hash);
      if (saved && frontier.size === saved.size && !frontier.root().equals(saved.rootHash)) {
        throw new AuditFailure(`the first ${saved.size} entries (up to index ${saved.size - 1}) no longer hash to the root of the saved checkpoint: history was rewritten`);
      }
    }
    if (offset !== entries.length) throw new AuditFailure(`entry bundle ${tile} has bytes after its ${width} entries`);
    if (performance.now() - lastReport > 1000) {
      lastReport = performance.now();
      progress(progressLine(frontier.size, head.size, started));
    }
  }
  if (!frontier.root().equals(head.rootHash)) throw new AuditFailure(`the root of all ${head.size} entries is not the checkpoint's root`);
  if (saved && saved.size < head.size) {
    const url = `${proofUrl}firstSize=${saved.size}&lastSize=${head.size}`;
    let proof: { hashes?: unknown };
    try {
      proof = await (await get(url)).json() as { hashes?: unknown };
    } catch (e) {
      if (!(e instanceof SyntaxError)) throw e;
      throw new AuditFailure(`the log's consistency proof from ${saved.size} to ${head.size} (${url}) is not JSON`);
    }
    const hashes = (Array.isArray(proof?.hashes) ? proof.hashes : []).map((h) => Buffer.from(String(h), 'hex'));
    if (!verifyConsistency(saved.size, head.size, hashes, saved.rootHash, head.rootHash)) {
      throw new AuditFailure(`the log's consistency proof from ${saved.size} to ${head.size} does not verify`);
    }
  }
  progress(progressLine(frontier.size, head.size, started));
}

async function bytes(url: string, get: Get): Promise<Buffer> {
  const res = await get(url);
  try {
    return Buffer.from(await res.arrayBuffer());
  } catch (e) {
    throw new AuditUnavailable(`${url}: the answer was cut (${(e as Error).message})`);
  }
}

function encodeIndex(n: number): string {
  const digits = String(n).padStart(Math.ceil(String(n).length / 3) * 3, '0').match(/\d{3}/g)!;
  return digits.map((g, i) => (i < digits.length - 1 ? `x${g}` : g)).join('/');
}
