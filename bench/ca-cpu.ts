/**
 * Where a certificate's CPU goes: the real server (`sigstack serve` in its own process, as bench/ca.ts runs it)
 * under 50 autocannon clients, its CPU by thread read from /proc/<pid>/task/<tid>/stat before and after the run,
 * per certificate issued, next to the certificate's own crypto (3 signatures + 2 verifications) measured right
 * after. Noise-resistant where certificates/s is not: on a shared host both sides slow down together.
 * `npx tsx bench/ca-cpu.ts [seconds]` (Linux only; a diagnostic, not part of `npm run bench`).
 */
import 'reflect-metadata';
import { createRequire } from 'node:module';
import { readdirSync, readFileSync } from 'node:fs';
import { cryptoCeiling, signRate, startCaBenchTarget, verifyRate } from './ca.ts';

interface AutocannonResult { '2xx': number; non2xx: number; duration: number }
const autocannon = createRequire(import.meta.url)('autocannon') as (o: Record<string, unknown>) => Promise<AutocannonResult>;
const CLK_TCK_US = 1e6 / 100; // Linux USER_HZ

/** CPU µs used so far by each thread of `pid`: the main thread as "main", the others by name and id. */
function cpuByThread(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    out.set(tid === String(pid) ? 'main' : `${name}:${tid}`, (Number(fields[11]) + Number(fields[12])) * CLK_TCK_US);
  }
  return out;
}

const seconds = Number(process.argv[2] ?? 10);
const target = await startCaBenchTarget();
try {
  const load = { url: target.url, method: 'POST', headers: { 'content-type': 'application/json' }, body: target.body, connections: 50 };
  await autocannon({ ...load, duration: 4 }); // warm-up
  const before = cpuByThread(target.pid);
  const client0 = process.cpuUsage();
  const result = await autocannon({ ...load, duration: seconds });
  const after = cpuByThread(target.pid);
  const client = process.cpuUsage(client0);
  if (result.non2xx > 0) throw new Error(`${result.non2xx} non-2xx answers`);
  const n = result['2xx'];
  const threads = [...after].map(([k, v]) => [k, (v - (before.get(k) ?? 0)) / n] as const).filter(([, v]) => v >= 1).sort((a, b) => b[1] - a[1]);
  const server_ = threads.reduce((sum, [, v]) => sum + v, 0);
  const clientUs = (client.user + client.system) / n;
  // the rates bench/ca.ts measures for its ceiling, as µs per operation
  const signs = signRate(1000);
  const verifies = verifyRate(1000);
  const signUs = 1e6 / signs;
  const verifyUs = 1e6 / verifies;
  const crypto = 1e6 / cryptoCeiling(signs, verifies);
  console.log(`${(n / result.duration).toFixed(0)} certificates/s, 50 clients, ${seconds} s`);
  console.log(`server CPU ${server_.toFixed(0)} µs per certificate: ${threads.map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ')}`);
  console.log(`load generator ${clientUs.toFixed(0)} µs per certificate`);
  console.log(`crypto per certificate ${crypto.toFixed(0)} µs (sign ${signUs.toFixed(1)}, verify ${verifyUs.toFixed(1)}); server CPU = ${(server_ / crypto).toFixed(2)}x crypto, server + client = ${((server_ + clientUs) / crypto).toFixed(2)}x (half the 1-core ceiling on 2 cores needs <= 4x)`);
} finally {
  await target.close();
}
