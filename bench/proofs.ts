import { statSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { openMerkleLog } from '../log/merkle-log.ts';
import type { MerkleLog } from '../log/types.ts';
import { percentile, type Row } from './table.ts';

/**
 * Proof latency p50/p99 through the engine (what a GET of an entry or a consistency proof pays before HTTP),
 * on a log of 1,000 entries (the baseline) and on the largest log this run builds, each its own file.
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

export async function proofRows(dir: string, quick: boolean, log: (msg: string) => void): Promise<Row[]> {
  const large = quick ? 50_000 : 2_000_000;
  const samples = quick ? 2000 : 10_000;
  const small = await buildLog(join(dir, 'proof-1k.db'), 1000);
  const base = measure(small, samples);
  await small.close();
  const path = join(dir, 'proof-large.db');
  const t0 = performance.now();
  const big = await buildLog(path, large, (done) => {
    if (done % 262_144 < 4096) log(`  building the large log: ${done.toLocaleString('en-US')} / ${large.toLocaleString('en-US')}`);
  });
  const buildSeconds = (performance.now() - t0) / 1000;
  const times = measure(big, samples);
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
  rows.push({ name: `database size per entry, log of ${n} (${LEAF_NOTE})`, value: bytes / large, unit: 'bytes' });
  rows.push({ name: `bulk fill, engine, batches of 4,096 (log of ${n})`, value: large / buildSeconds, unit: 'appends/s' });
  return rows;
}

const LEAF_NOTE = '~310-byte leaves';
