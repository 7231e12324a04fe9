/**
 * A log server under the test's control, for `log audit` against a hostile or broken log: real keys and real
 * checkpoints (log/checkpoint.ts), tiles served from any list of entries, and a hook for everything else.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Signer } from '../../core/signer.ts';
import { signCheckpoint } from '../../log/checkpoint.ts';
import { Frontier } from '../../log/merkle/frontier.ts';
import { leafHash } from '../../log/merkle/hash.ts';

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

/** Answers a tlog-tiles read of `tree` under `prefix` (level-0 hash tiles and entry bundles); false if not one. */
export function serveTiles(prefix: string, tree: FakeTree, note: string, url: string, res: ServerResponse): boolean {
  if (!url.startsWith(`${prefix}/`)) return false;
  const rest = url.slice(prefix.length + 1);
  if (rest === 'checkpoint') {
    res.end(note);
    return true;
  }
  const m = /^tile\/(entries|0)\/((?:x\d{3}\/)*\d{3})(?:\.p\/(\d+))?$/.exec(rest);
  if (!m) return false;
  const from = Number(m[2]!.replace(/x|\//g, '')) * 256;
  const width = m[3] ? Number(m[3]) : 256;
  if (m[1] === '0') {
    res.end(Buffer.concat(tree.leaves.slice(from, from + width)));
    return true;
  }
  res.end(Buffer.concat(tree.bodies.slice(from, from + width).flatMap((b) => [Buffer.from([b.length >> 8, b.length & 0xff]), b])));
  return true;
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
