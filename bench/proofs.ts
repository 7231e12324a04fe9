import { statSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { openMerkleLog } from '../log/merkle-log.ts';
import type { MerkleLog } from '../log/types.ts';
import { percentile, type Row } from './table.ts';

/**
 * Proof latency p50/p99 through the engine (what a GET of an entry or a consistency proof pays before HTTP) and
 * as answered over the Rekor API, on a log of 1,000 entries (the baseline) and on the largest log this run
 * builds, each its own file.
 */
export async function buildLog(path: string, entries: number, progress?: (done: number) => void, pageSize?: number): Promise<MerkleLog> {
  const log = openMerkleLog({ path, pageSize });
  const pad = 'x'.repeat(300);
  for (let done = log.size(); done < entries;) {
    const batch = Math.min(4096, entries - done);
    await Promise.all(Array.from({ length: batch }, (_, i) => log.append(Buffer.from(`entry ${done + i} ${pad}`))));
    done += batch;
    progress?.(done);
  }
  return log;
}

function latencies(samples: number, op: () => void): number[] {
  const out: number[] = [];
  for (let i = 0; i < samples; i++) {
    const t = performance.now();
    op();
    out.push((performance.now() - t) * 1000);
  }
  return out;
}

interface ProofTimes { inclusion: number[]; consistency: number[] }

function measure(log: MerkleLog, samples: number): ProofTimes {
  const size = log.size();
  const rand = () => Math.floor(Math.random() * size);
  latencies(200, () => log.inclusionProof(rand(), size)); // warm the statement and page caches alike for both sizes
  return {
    inclusion: latencies(samples, () => log.inclusionProof(rand(), size)),
    consistency: latencies(samples, () => log.consistencyProof(1 + Math.floor(Math.random() * (size - 1)), size)),
  };
}

/**
 * The same proofs as a client sees them answered: through the Rekor API (a Koa app with the Rekor router, as
 * `serve` mounts it) on a loopback port, sequential requests on one keep-alive connection.
 * Inclusion: GET /api/v1/log/entries?logIndex=N (entry, SET, inclusion proof, checkpoint); consistency:
 * GET /api/v1/log/proof?firstSize=M&lastSize=size.
 */
export async function httpProofTimes(log: MerkleLog, samples: number): Promise<ProofTimes> {
  const { default: Koa } = await import('koa');
  const { createServer } = await import('node:http');
  const { rekorRouter } = await import('../log/rekor/routes.ts');
  const { errorMiddleware } = await import('../services/errors.ts');
  const { generateSigner } = await import('../core/signer.ts');
  const app = new Koa();
  app.use(errorMiddleware());
  app.use(rekorRouter({ log, signer: generateSigner(), treeId: '1', signerName: 'bench.local' }).routes());
  const server = createServer(app.callback());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const size = log.size();
  const rand = () => Math.floor(Math.random() * size);
  const get = async (path: string) => {
    const t = performance.now();
    const res = await fetch(url + path);
    if (res.status !== 200) throw new Error(`${path}: HTTP ${res.status}`);
    await res.arrayBuffer();
    return (performance.now() - t) * 1000;
  };
  try {
    for (let i = 0; i < 200; i++) await get(`/api/v1/log/entries?logIndex=${rand()}`);
    const times: ProofTimes = { inclusion: [], consistency: [] };
    for (let i = 0; i < samples; i++) {
      times.inclusion.push(await get(`/api/v1/log/entries?logIndex=${rand()}`));
      times.consistency.push(await get(`/api/v1/log/proof?firstSize=${1 + Math.floor(Math.random() * (size - 1))}&lastSize=${size}`));
    }
    return times;
  } finally {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
}

export async function proofRows(dir: string, quick: boolean, log: (msg: string) => void): Promise<Row[]> {
  const large = quick ? 50_000 : 2_000_000;
  const samples = quick ? 2000 : 10_000;
  const httpSamples = quick ? 300 : 2000;
  const small = await buildLog(join(dir, 'proof-1k.db'), 1000);
  const base = measure(small, samples);
  await httpProofTimes(small, httpSamples); // the first HTTP run in this process also warms Koa, fetch and the JIT
  const httpBase = await httpProofTimes(small, httpSamples);
  await small.close();
  const path = join(dir, 'proof-large.db');
  const t0 = performance.now();
  const big = await buildLog(path, large, (done) => {
    if (done % 262_144 < 4096) log(`  building the large log: ${done.toLocaleString('en-US')} / ${large.toLocaleString('en-US')}`);
  });
  const buildSeconds = (performance.now() - t0) / 1000;
  const times = measure(big, samples);
  const httpTimes = await httpProofTimes(big, httpSamples);
  await big.close();
  const bytes = statSync(path).size + (statSync(`${path}-wal`, { throwIfNoEntry: false })?.size ?? 0);
  const n = large.toLocaleString('en-US');
  const rows: Row[] = [];
  for (const kind of ['inclusion', 'consistency'] as const) {
    for (const p of [50, 99]) {
      rows.push({
        name: `${kind} proof p${p}, log of ${n}`, value: percentile(times[kind], p), unit: 'µs',
        baseline: percentile(base[kind], p), baselineName: 'log of 1,000',
      });
    }
  }
  // What the target is about: proofs as answered to a client, HTTP and JSON included.
  for (const [kind, route] of [['inclusion', 'GET entries?logIndex'], ['consistency', 'GET log/proof']] as const) {
    for (const p of [50, 99]) {
      rows.push({
        name: `${kind} proof answered over HTTP (${route}) p${p}, log of ${n}`, value: percentile(httpTimes[kind], p), unit: 'µs',
        baseline: percentile(httpBase[kind], p), baselineName: 'log of 1,000',
      });
    }
  }
  rows.push({ name: `database size per entry, log of ${n} (${LEAF_NOTE})`, value: bytes / large, unit: 'bytes' });
  rows.push({ name: `bulk fill, engine, batches of 4,096 (log of ${n})`, value: large / buildSeconds, unit: 'appends/s' });
  return rows;
}

const LEAF_NOTE = '~310-byte leaves';
