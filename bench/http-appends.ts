import { createHash, generateKeyPairSync, randomBytes, sign, verify, createPublicKey, X509Certificate } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { createRequire } from 'node:module';
import { generateSigner } from '../core/signer.ts';
import { verifyPrehashed } from '../log/kinds/prehashed-verify.ts';
import { setPayloadBytes } from '../log/rekor/set.ts';
import { startBenchServer } from './server-process.ts';
import { certificateFor, toPem } from '../test/rekor/fixtures.ts';
import type { Row } from './table.ts';

/**
 * Durable appends/s through HTTP: Rekor `POST /api/v1/log/entries` with valid hashedrekord proposals to a real
 * `sigstack serve` in its own process (bench/server-process.ts), over keep-alive connections (one per client).
 * Each proposal is keyless-shaped: its own key and certificate (as Fulcio issues one per signing), so no
 * per-key or per-certificate cache can help; the engine keeps the search index as services/log-service.ts opens it.
 * Baselines: the engine in process at the same concurrency (what parsing, the signature check, canonical JSON,
 * HTTP and the response cost on top of the store), and the pure-crypto ceiling of an append (cryptoCeiling).
 */
export function proposals(count: number): string[] {
  return Array.from({ length: count }, () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = Buffer.from(toPem('CERTIFICATE', certificateFor(publicKey, 'bench signer'))).toString('base64');
    const data = randomBytes(32);
    const digest = createHash('sha256').update(data).digest('hex');
    return JSON.stringify({
      apiVersion: '0.0.1', kind: 'hashedrekord',
      spec: { signature: { content: sign('sha256', data, privateKey).toString('base64'), publicKey: { content: pem } }, data: { hash: { algorithm: 'sha256', value: digest } } },
    });
  });
}

/** The part of autocannon's API used here (it ships no type declarations). */
interface AutocannonResult { '2xx': number; non2xx: number; errors: number; duration: number }
type Autocannon = (opts: Record<string, unknown>) => Promise<AutocannonResult>;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

/**
 * Appends/s at `clients` concurrent keep-alive connections, each POST a new proposal. The load generator is
 * autocannon (its own HTTP parser: about half the CPU per request of a fetch-style client), because on this
 * 2-core machine every microsecond the client spends is taken from the server. A warm-up of the same load
 * (other proposals) runs first, so the figure is the server's steady state, not its JIT warm-up.
 */
export async function httpRate(clients: number, total: number): Promise<number> {
  const server = await startBenchServer();
  const warmup = Math.min(2000, total);
  const bodies = proposals(total + warmup);
  let next = 0;
  const run = async (amount: number) => {
    const result = await autocannon({
      url: `${server.url}/api/v1/log/entries`, method: 'POST', headers: { 'content-type': 'application/json' },
      connections: clients, amount, requests: [{ setupRequest: (req: Record<string, unknown>) => ({ ...req, body: bodies[next++] }) }],
      // autocannon ends a run only on its sampling tick (1 s by default): with `amount`, the wall time of the run
      // would be rounded up to whole seconds (up to 1/6 of a 6 s run). A 10 ms tick makes it exact.
      sampleInt: 10,
    });
    if (result.non2xx > 0 || result.errors > 0) throw new Error(`${result.non2xx} POSTs were not 201 and ${result.errors} failed`);
    return result;
  };
  try {
    await run(warmup);
    const start = performance.now();
    const result = await run(total);
    return result['2xx'] / ((performance.now() - start) / 1000);
  } finally {
    await server.close();
  }
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

/**
 * The pure-crypto ceiling of a hashedrekord append: the entry's signature check over its digest (what the log
 * runs: log/kinds/prehashed-verify.ts, key from a certificate) plus the SET signature (node:crypto, a payload of
 * the real size), one after the other on one core. The checkpoint signature is once per tree size (per batch),
 * so it is left out. The pool runs checks on min(4, cores) workers while the main thread signs, so the ceiling
 * on this machine's cores is that many times the one-core rate (an upper bound: the cores also serve HTTP).
 */
export function cryptoCeiling(quick: boolean): { oneCore: number; cores: number; coreCount: number; verifyUs: number; signUs: number } {
  const n = quick ? 300 : 1500;
  const signers = Array.from({ length: 50 }, () => generateKeyPairSync('ec', { namedCurve: 'P-256' }));
  const keys = signers.map((k) => new X509Certificate(certificateFor(k.publicKey)).publicKey);
  const data = Array.from({ length: n }, () => randomBytes(32));
  const sigs = data.map((d, i) => sign('sha256', d, signers[i % 50]!.privateKey));
  const digests = data.map((d) => createHash('sha256').update(d).digest());
  const logKey = generateSigner();
  const payloads = data.map((d, i) => setPayloadBytes({ body: Buffer.alloc(1100, d[0]).toString('base64'), integratedTime: 1_800_000_000 + i, logID: logKey.keyId.toString('hex'), logIndex: 1_000_000 + i }));
  const verifyAll = () => { for (let i = 0; i < n; i++) if (!verifyPrehashed(keys[i % 50]!, 'sha256', digests[i]!, sigs[i]!)) throw new Error('check failed'); };
  const signAll = () => { for (let i = 0; i < n; i++) logKey.sign(payloads[i]!); };
  verifyAll(); signAll(); // warm
  // alternate slices so that load from other work falls on both alike; best of three each
  let verifyUs = Infinity, signUs = Infinity;
  for (let r = 0; r < 3; r++) {
    let t = performance.now(); verifyAll(); verifyUs = Math.min(verifyUs, ((performance.now() - t) * 1000) / n);
    t = performance.now(); signAll(); signUs = Math.min(signUs, ((performance.now() - t) * 1000) / n);
  }
  const oneCore = 1e6 / (verifyUs + signUs);
  const coreCount = Math.min(4, availableParallelism());
  return { oneCore, cores: oneCore * coreCount, coreCount, verifyUs, signUs };
}

export async function httpAppendRows(quick: boolean, engine: Map<number, number>): Promise<Row[]> {
  const rows: Row[] = [];
  const rates: [number, number][] = [];
  // The ceiling is measured before and after each HTTP run and the fastest kept: on a host whose speed drifts
  // (other tenants), one measurement taken at a quiet moment would flatter or harm every ratio alike.
  let ceiling = cryptoCeiling(quick);
  for (const clients of [1, 16, 128]) {
    // Long enough for a steady state: about five seconds at 128 clients on this machine.
    const total = clients === 1 ? (quick ? 100 : 1000) : quick ? 800 : 10000;
    const rate = await httpRate(clients, total);
    rates.push([clients, rate]);
    rows.push({
      name: `durable appends, Rekor HTTP POST hashedrekord, ${clients} client${clients > 1 ? 's' : ''}`,
      value: rate, unit: 'appends/s', baseline: engine.get(clients), baselineName: `engine in process, ${clients} client${clients > 1 ? 's' : ''}`,
    });
    const again = cryptoCeiling(quick);
    if (again.oneCore > ceiling.oneCore) ceiling = again;
  }
  const ceilingRows: Row[] = rates.map(([clients, rate]) => ({
    name: `durable appends, Rekor HTTP POST hashedrekord, ${clients} client${clients > 1 ? 's' : ''}, against the pure-crypto ceiling`,
    value: rate, unit: 'appends/s', baseline: ceiling.cores, baselineName: `verify + SET sign, ${ceiling.coreCount} cores`,
  }));
  const end = ceilingRows.at(-1)!;
  return [
    ...rows,
    { name: `pure-crypto ceiling per append, 1 core, fastest of 4 measurements (verify ${ceiling.verifyUs.toFixed(0)} µs + SET sign ${ceiling.signUs.toFixed(0)} µs)`, value: ceiling.oneCore, unit: 'appends/s' },
    ...ceilingRows,
    { ...end, name: `${end.name.replace(', against the pure-crypto ceiling', '')}, against the 1-core crypto ceiling`, baseline: ceiling.oneCore, baselineName: 'verify + SET sign, 1 core' },
  ];
}
