import { createHash, generateKeyPairSync, randomBytes, sign, verify, createPublicKey } from 'node:crypto';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Agent, request } from 'undici';
import { generateSigner } from '../core/signer.ts';
import { openMerkleLog } from '../log/merkle-log.ts';
import { createCanonicalizePool } from '../log/kinds/canonicalize-pool.ts';
import { rekorRouter } from '../log/rekor/routes.ts';
import { verifyPrehashed } from '../log/kinds/prehashed-verify.ts';
import { serveRouters } from '../test/helpers/http.ts';
import type { Row } from './table.ts';

/**
 * Durable appends/s through HTTP: Rekor `POST /api/v1/log/entries` with valid hashedrekord proposals, served
 * in this process behind the real body and error middleware, signature checks on the worker pool as served, over keep-alive connections (one per client).
 * Baseline: the engine in process at the same concurrency, so the ratio is what parsing, the signature
 * check, canonical JSON, HTTP and the response (inclusion proof, SET signature) cost on top of the store.
 */
function proposals(count: number): string[] {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = Buffer.from(publicKey.export({ type: 'spki', format: 'pem' }) as string).toString('base64');
  return Array.from({ length: count }, () => {
    const data = randomBytes(32);
    const digest = createHash('sha256').update(data).digest('hex');
    return JSON.stringify({
      apiVersion: '0.0.1', kind: 'hashedrekord',
      spec: { signature: { content: sign('sha256', data, privateKey).toString('base64'), publicKey: { content: pem } }, data: { hash: { algorithm: 'sha256', value: digest } } },
    });
  });
}

export async function httpRate(path: string, clients: number, total: number): Promise<number> {
  const log = openMerkleLog({ path });
  const pool = createCanonicalizePool(); // as services/log-service.ts serves it
  const server = await serveRouters(rekorRouter({ log, signer: generateSigner(), treeId: '1', signerName: 'bench', canonicalize: pool.canonicalize }));
  const agent = new Agent({ connections: clients, pipelining: 1 });
  const bodies = proposals(total);
  // start the workers (each loads tsx and the kinds) before the clock starts
  await Promise.all(Array.from({ length: 8 }, (_, i) => pool.canonicalize(JSON.parse(bodies[i % total]!))));
  let next = 0;
  let failures = 0;
  const start = performance.now();
  await Promise.all(Array.from({ length: clients }, async () => {
    while (next < total) {
      const res = await request(`${server.url}/api/v1/log/entries`, {
        method: 'POST', dispatcher: agent, headers: { 'content-type': 'application/json' }, body: bodies[next++]!,
      });
      await res.body.dump();
      if (res.statusCode !== 201) failures++;
    }
  }));
  const seconds = (performance.now() - start) / 1000;
  await agent.close();
  await server.close();
  await pool.close();
  await log.close();
  if (failures > 0) throw new Error(`${failures} of ${total} POSTs were not 201`);
  return total / seconds;
}

/** What one hashedrekord signature check costs: the prehashed check the log runs vs node:crypto hashing the message. */
export function signatureCheckRows(quick: boolean): Row[] {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const key = createPublicKey(publicKey.export({ type: 'spki', format: 'pem' }));
  const n = quick ? 200 : 1000;
  const data = Array.from({ length: n }, () => randomBytes(32));
  const sigs = data.map((d) => sign('sha256', d, privateKey));
  const digests = data.map((d) => createHash('sha256').update(d).digest());
  let t = performance.now();
  for (let i = 0; i < n; i++) if (!verifyPrehashed(key, 'sha256', digests[i]!, sigs[i]!)) throw new Error('prehashed check failed');
  const prehashed = n / ((performance.now() - t) / 1000);
  t = performance.now();
  for (let i = 0; i < n; i++) if (!verify('sha256', data[i]!, key, sigs[i]!)) throw new Error('node:crypto check failed');
  const native = n / ((performance.now() - t) / 1000);
  return [{ name: 'hashedrekord ECDSA P-256 check over a digest (node:crypto ECDH + noble)', value: prehashed, unit: 'checks/s', baseline: native, baselineName: 'node:crypto verify over the message' }];
}

export async function httpAppendRows(dir: string, quick: boolean, engine: Map<number, number>): Promise<Row[]> {
  const rows: Row[] = [];
  for (const clients of [1, 16, 128]) {
    const total = clients === 1 ? (quick ? 100 : 500) : quick ? 800 : 4000;
    const rate = await httpRate(join(dir, `http-${clients}.db`), clients, total);
    rows.push({
      name: `durable appends, Rekor HTTP POST hashedrekord, ${clients} client${clients > 1 ? 's' : ''}`,
      value: rate, unit: 'appends/s', baseline: engine.get(clients), baselineName: `engine in process, ${clients} client${clients > 1 ? 's' : ''}`,
    });
  }
  return rows;
}
