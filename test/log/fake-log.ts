/**
 * A log server under the test's control, for `log audit` against a hostile or broken log: real keys and real
 * checkpoints (log/checkpoint.ts), tiles served from any list of entries, and a hook for everything else.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Signer } from '../../core/signer.ts';
import { signCheckpoint } from '../../log/checkpoint.ts';
import { Frontier } from '../../log/merkle/frontier.ts';
import { leafHash, nodeHash } from '../../log/merkle/hash.ts';

export interface FakeTree { bodies: Buffer[]; leaves: Buffer[]; root: Buffer; size: number }

export function fakeTree(n: number, tag = 'entry'): FakeTree {
  const bodies = Array.from({ length: n }, (_, i) => Buffer.from(`${tag} ${i}`));
  const leaves = bodies.map((b) => leafHash(b));
  const f = new Frontier(0, []);
  for (const l of leaves) f.append(l);
  return { bodies, leaves, root: f.root(), size: n };
}

/** A checkpoint of `tree` with Rekor's origin `<host> - <tree id>`, signed under `name` (default: the host). */
export function fakeNote(signer: Signer, origin: string, tree: FakeTree, name = origin.split(' - ')[0]!): string {
  return signCheckpoint({ origin, size: tree.size, rootHash: tree.root }, name, signer);
}

export function pemOf(signer: Signer): string {
  return signer.publicKey.export({ type: 'spki', format: 'pem' }).toString();
}

export interface ServeOptions {
  /** Rewrites a hash tile of level >= 1 before it is served: a log that lies only in the tiles mirrors prove from. */
  tamper?: (tile: { level: number; index: number; width: number }, honest: Buffer) => Buffer;
}

/**
 * Answers a tlog-tiles read of `tree` under `prefix` (checkpoint, hash tiles of every level, entry bundles); false if
 * not one, or a hash tile beyond the tree. Upper tiles are computed here from the leaves by plain RFC 6962
 * recursion, not with the auditor's Frontier, so an audit that agrees with them agrees with an independent tree.
 */
export function serveTiles(prefix: string, tree: FakeTree, note: string, url: string, res: ServerResponse, opts: ServeOptions = {}): boolean {
  if (!url.startsWith(`${prefix}/`)) return false;
  const rest = url.slice(prefix.length + 1);
  if (rest === 'checkpoint') {
    res.end(note);
    return true;
  }
  const m = /^tile\/(entries|\d)\/((?:x\d{3}\/)*\d{3})(?:\.p\/(\d+))?$/.exec(rest);
  if (!m) return false;
  const index = Number(m[2]!.replace(/x|\//g, ''));
  const from = index * 256;
  const width = m[3] ? Number(m[3]) : 256;
  if (m[1] === 'entries') {
    res.end(Buffer.concat(tree.bodies.slice(from, from + width).flatMap((b) => [Buffer.from([b.length >> 8, b.length & 0xff]), b])));
    return true;
  }
  const level = Number(m[1]);
  if (level === 0) {
    res.end(Buffer.concat(tree.leaves.slice(from, from + width)));
    return true;
  }
  const span = 256 ** level;
  if ((from + width) * span > tree.size) return false;
  const honest = Buffer.concat(Array.from({ length: width }, (_, i) => upperHash(tree, level, from + i)));
  res.end(opts.tamper ? opts.tamper({ level, index, width }, honest) : honest);
  return true;
}

/** Upper hashes already computed, per tree: an audit of 65,536 entries re-reads a tile of 65,536 leaves each run. */
const upperHashes = new WeakMap<FakeTree, Map<string, Buffer>>();

/** Hash `index` of tile level `level`: the MTH of leaves [index * 256^level, (index + 1) * 256^level). */
function upperHash(tree: FakeTree, level: number, index: number): Buffer {
  let known = upperHashes.get(tree);
  if (!known) upperHashes.set(tree, (known = new Map()));
  const key = `${level}/${index}`;
  let hash = known.get(key);
  if (!hash) known.set(key, (hash = perfectSubtree(tree.leaves, index * 256 ** level, 256 ** level)));
  return hash;
}

/** RFC 6962 MTH of the `size` leaves (a power of two) from `start`. */
function perfectSubtree(leaves: readonly Buffer[], start: number, size: number): Buffer {
  if (size === 1) return leaves[start]!;
  return nodeHash(perfectSubtree(leaves, start, size / 2), perfectSubtree(leaves, start + size / 2, size / 2));
}

export async function fakeLog(handler: (req: IncomingMessage, res: ServerResponse, url: string) => void): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => handler(req, res, req.url!));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}
