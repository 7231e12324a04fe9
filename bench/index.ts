/**
 * `npm run bench [-- --quick]`: one table, each figure beside its baseline from the same run (see bench/table.ts).
 * A benchmark, not a test: nothing in `npm test` depends on these timings. Full run under 10 minutes,
 * --quick about a minute. Progress goes to stderr, the table to stdout.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { appendRows } from './appends.ts';
import { httpAppendRows, signatureCheckRows } from './http-appends.ts';
import { proofRows } from './proofs.ts';
import { formatTable, type Row } from './table.ts';
import { verifyRows } from './verify.ts';

const quick = process.argv.includes('--quick');
/**
 * `--only ca` runs the CA rows alone, `--only appends` the append rows (engine, HTTP, their ceiling) alone: the
 * other parts take most of the run and have nothing to do with them.
 */
const onlyAt = process.argv.indexOf('--only');
const only = onlyAt >= 0 ? process.argv[onlyAt + 1] : undefined;
if (only !== undefined && only !== 'ca' && only !== 'appends') throw new Error(`--only takes "ca" or "appends", not ${JSON.stringify(only)}`);
const dir = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), 'sigstack-bench-'));
const began = performance.now();
const say = (msg: string) => process.stderr.write(`${msg}\n`);
const step = async <T>(name: string, fn: () => Promise<T> | T): Promise<T> => {
  say(`[${((performance.now() - began) / 1000).toFixed(0)}s] ${name}`);
  return fn();
};

async function caRows(): Promise<Row[]> {
  const file = new URL('./ca.ts', import.meta.url);
  if (!existsSync(file)) return [{ name: 'certificates/s from the CA: MISSING (bench/ca.ts not present)', value: NaN, unit: '' }];
  const mod = (await import(file.href)) as { runCaBench(o: { quick: boolean }): Promise<Row[]> };
  return mod.runCaBench({ quick });
}

const rows: Row[] = [];
try {
  if (only === 'ca') {
    rows.push(...await step('CA certificates/s', caRows));
  } else {
    const appends = await step('durable appends through the engine vs raw SQLite', () => appendRows(dir, quick));
    rows.push(...appends);
    const engineByClients = new Map(appends.map((r) => [Number(/(\d+) client/.exec(r.name)![1]), r.value]));
    rows.push(...await step('durable appends through Rekor HTTP POSTs', () => httpAppendRows(quick, engineByClients)));
    rows.push(...await step('hashedrekord signature check cost', () => signatureCheckRows(quick)));
    if (only !== 'appends') {
      rows.push(...await step('proof latency at 1,000 and at the largest size', () => proofRows(dir, quick, say)));
      rows.push(...await step('offline bundle verification', () => verifyRows(quick)));
      rows.push(...await step('CA certificates/s', caRows));
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
say(`[${((performance.now() - began) / 1000).toFixed(0)}s] done${quick ? ' (--quick: small sizes, a smoke run)' : ''}`);
console.log(`sigstack bench${quick ? ' --quick' : ''}, node ${process.version}, ${new Date().toISOString()}\n`);
console.log(formatTable(rows));
