import { generateSigner, type Signer } from '../../core/signer.ts';
import { openMerkleLog } from '../../log/merkle-log.ts';
import { rekorRouter } from '../../log/rekor/routes.ts';
import { createCanonicalizePool } from '../../log/kinds/canonicalize-pool.ts';
import type { MerkleLog } from '../../log/types.ts';
import { serveRouters } from '../helpers/http.ts';

export const TREE_ID = '1193050959916656506';
export const SIGNER_NAME = '127.0.0.1';
/** A fixed clock (ms): integrated times are then known exactly. */
export const NOW_MS = 1_717_171_717_999;

export interface RekorServer {
  url: string;
  log: MerkleLog;
  signer: Signer;
  close(): Promise<void>;
}

/** A Rekor face over a fresh in-memory engine, served on 127.0.0.1 behind the real error and body middleware. */
export async function startRekor(): Promise<RekorServer> {
  const log = openMerkleLog({ path: ':memory:', clock: () => NOW_MS });
  const signer = generateSigner();
  const server = await serveRouters(rekorRouter({ log, signer, treeId: TREE_ID, signerName: SIGNER_NAME }));
  return {
    url: server.url,
    log,
    signer,
    close: async () => {
      await server.close();
      await log.close();
    },
  };
}

/**
 * The same Rekor face twice: entries checked inline, and on a worker pool of one (as services/ serves it), for
 * tests that each refusal is the same on both paths. `logs` are the two engines, in that order.
 */
export async function startInlineAndPooledRekor(): Promise<{ urls: [string, string]; logs: [MerkleLog, MerkleLog]; close(): Promise<void> }> {
  const inline = await startRekor();
  const pool = createCanonicalizePool(1);
  const log = openMerkleLog({ path: ':memory:' });
  const pooled = await serveRouters(rekorRouter({ log, signer: generateSigner(), treeId: TREE_ID, signerName: SIGNER_NAME, canonicalize: pool.canonicalize }));
  return {
    urls: [inline.url, pooled.url],
    logs: [inline.log, log],
    close: async () => {
      await inline.close();
      await pooled.close();
      await pool.close();
      await log.close();
    },
  };
}

export async function postEntry(url: string, body: unknown): Promise<Response> {
  return fetch(`${url}/api/v1/log/entries`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}
