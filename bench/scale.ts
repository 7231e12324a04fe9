/**
 * Scale check of one existing log file (not part of `npm run bench`: building 10M entries takes ~10-15 min).
 *   npx tsx bench/scale.ts <log.db> [samples=5000]
 * In a fresh process: opens the log as the server does, answers `samples` random inclusion and consistency
 * proofs, and prints p50/p99 latency, the resident memory after that, and the database bytes per entry.
 * Run it on a 1,000-entry log and on the large one: memory and latency ratios are the scale targets.
 * PAGE_SIZE=65536 creates the log with that SQLite page size. COLD=1 first drops the file from the OS page cache
 * (dd iflag=nocache, this file only): the case of a log much larger than the machine's memory.
 * HTTP=1 also measures the proofs as a client sees them answered, through the Rekor API on a loopback port
 * (GET /api/v1/log/entries?logIndex=N: entry, SET and inclusion proof; GET /api/v1/log/proof: consistency).
 * Build the large log with test/fixtures/log-engine/bench-engine.ts (BENCH_DB=<file> BENCH_SKIP_RATE=1).
 */
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { openMerkleLog } from '../log/merkle-log.ts';
import { buildLog, httpProofTimes } from './proofs.ts';
import { percentile } from './table.ts';

const path = process.argv[2];
if (!path) throw new Error('usage: bench/scale.ts <log.db> [samples] (BUILD=N to create or top up the log to N entries first)');
const samples = Number(process.argv[3] ?? 5000);
const pageSize = process.env.PAGE_SIZE ? Number(process.env.PAGE_SIZE) : undefined;
if (process.env.BUILD) await (await buildLog(path, Number(process.env.BUILD), undefined, pageSize)).close();
if (process.env.COLD) {
  for (const f of [path, `${path}-wal`]) spawnSync('dd', [`if=${f}`, 'iflag=nocache', 'count=0'], { stdio: 'ignore' });
}
const log = openMerkleLog({ path });
const size = log.size();
const time = (op: () => void) => {
  const t = performance.now();
  op();
  return (performance.now() - t) * 1000;
};
const rand = () => Math.floor(Math.random() * size);
if (!process.env.COLD) for (let i = 0; i < 500; i++) log.inclusionProof(rand(), size);
const inclusion = Array.from({ length: samples }, () => time(() => log.inclusionProof(rand(), size)));
const consistency = Array.from({ length: samples }, () => time(() => log.consistencyProof(1 + Math.floor(Math.random() * (size - 1)), size)));
const http = process.env.HTTP ? await httpLatencies(Math.min(samples, 5000)) : undefined;
const bytes = statSync(path).size + (statSync(`${path}-wal`, { throwIfNoEntry: false })?.size ?? 0);
const rss = process.memoryUsage().rss / 2 ** 20;
console.log(JSON.stringify({
  size,
  inclusionP50us: +percentile(inclusion, 50).toFixed(1), inclusionP99us: +percentile(inclusion, 99).toFixed(1),
  consistencyP50us: +percentile(consistency, 50).toFixed(1), consistencyP99us: +percentile(consistency, 99).toFixed(1),
  ...http,
  cold: !!process.env.COLD, rssMiB: +rss.toFixed(0), bytesPerEntry: +(bytes / size).toFixed(0),
}));
await log.close();

async function httpLatencies(n: number): Promise<Record<string, number>> {
  const { inclusion: inc, consistency: con } = await httpProofTimes(log, n);
  return {
    httpInclusionP50us: +percentile(inc, 50).toFixed(0), httpInclusionP99us: +percentile(inc, 99).toFixed(0),
    httpConsistencyP50us: +percentile(con, 50).toFixed(0), httpConsistencyP99us: +percentile(con, 99).toFixed(0),
  };
}
