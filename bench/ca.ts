/**
 * CA throughput: certificates issued per second by a real server (`sigstack serve` in its own process,
 * `POST /api/v2/signingCert` over HTTP, the whole stack on one port: token check with a cached JWKS, proof of
 * possession, precertificate, SCT from the CT log, final certificate; issuance on the server's worker threads)
 * under 50 concurrent autocannon clients, with p50/p99 latency, after a few seconds of the same load to warm it up. Baselines, measured in the same
 * run after the load: how many P-256 signatures node:crypto makes per second on one core (the old row, kept so the
 * table stays comparable), and the per-certificate crypto ceiling: a certificate needs three signatures
 * (precertificate, SCT, certificate) and two verifications (the OIDC token's signature, the proof of possession),
 * so one core can issue at most 1 / (3 / signs-per-s + 2 / verifies-per-s) certificates per second.
 * `npx tsx bench/ca.ts [--quick]` (or `npm run bench -- --only ca`) runs it alone.
 */
import 'reflect-metadata';
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBenchServer } from './server-process.ts';
import { startOidcIssuer } from '../test/helpers/oidc.ts';
import { TEST_EMAIL } from '../test/helpers/stack.ts';
import type { Row } from './table.ts';

export type { Row };

const CLIENTS = 50;

/** The part of autocannon's API used here (it ships no type declarations). */
interface AutocannonResult {
  '2xx': number;
  non2xx: number;
  errors: number;
  duration: number;
  latency: { p50: number; p99: number };
}
type Autocannon = (opts: Record<string, unknown>) => Promise<AutocannonResult>;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

/** P-256 signatures per second with node:crypto, on the calling thread. */
export function signRate(ms: number): number {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const data = Buffer.alloc(300, 7);
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < ms) {
    for (let i = 0; i < 50; i++) sign('sha256', data, privateKey);
    n += 50;
  }
  return n / ((performance.now() - start) / 1000);
}

/** P-256 verifications per second with node:crypto (DER signatures, as the proof of possession), on the calling thread. */
export function verifyRate(ms: number): number {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const data = Buffer.alloc(300, 7);
  const signature = sign('sha256', data, privateKey);
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < ms) {
    for (let i = 0; i < 50; i++) verify('sha256', data, publicKey, signature);
    n += 50;
  }
  return n / ((performance.now() - start) / 1000);
}

/** Certificates per second one core could issue if it did nothing but their crypto: 3 signatures, 2 verifications. */
export function cryptoCeiling(signsPerSecond: number, verifiesPerSecond: number): number {
  return 1 / (3 / signsPerSecond + 2 / verifiesPerSecond);
}

/** A real server with one email issuer, and one signing request for it (the same token and proof every time). */
export interface CaBenchTarget {
  /** POST /api/v2/signingCert of the server. */
  url: string;
  pid: number;
  body: string;
  close(): Promise<void>;
}

export async function startCaBenchTarget(): Promise<CaBenchTarget> {
  // The server runs in its own process, as `npm start` runs it; autocannon stays here, so the load generator
  // does not share the server's event loop (on this 2-core machine it gets the other core).
  const oidc = await startOidcIssuer();
  const dataDir = mkdtempSync(join(tmpdir(), 'sigstack-bench-ca-'));
  const oidcConfig = join(dataDir, 'fulcio-config.json');
  writeFileSync(oidcConfig, JSON.stringify({ OIDCIssuers: { [oidc.issuer]: { IssuerURL: oidc.issuer, ClientID: 'sigstore', Type: 'email' } } }));
  const server = await startBenchServer(['--oidc-config', oidcConfig], dataDir);
  const close = async () => {
    await server.close();
    await oidc.close();
  };
  try {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    // One token and one proof for every request: the CA still verifies both and issues a new certificate each time.
    const token = await oidc.mint({ email: TEST_EMAIL, email_verified: true, sub: TEST_EMAIL });
    const body = JSON.stringify({
      credentials: { oidcIdentityToken: token },
      publicKeyRequest: {
        publicKey: { algorithm: 'ECDSA', content: publicKey.export({ type: 'spki', format: 'pem' }) },
        proofOfPossession: sign('sha256', Buffer.from(TEST_EMAIL), privateKey).toString('base64'),
      },
    });
    return { url: `${server.url}/api/v2/signingCert`, pid: server.pid, body, close };
  } catch (err) {
    await close();
    throw err;
  }
}

export async function runCaBench({ quick }: { quick: boolean }): Promise<Row[]> {
  const target = await startCaBenchTarget();
  const { url, body } = target;
  try {
    const first = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    if (first.status !== 200) throw new Error(`the CA refused the bench request: ${first.status} ${await first.text()}`);
    // warm-up: the server's JIT and its workers reach their steady state before the clock starts
    await autocannon({ url, method: 'POST', headers: { 'content-type': 'application/json' }, body, connections: CLIENTS, duration: quick ? 1 : 5 });
    const result = await autocannon({
      url, method: 'POST', headers: { 'content-type': 'application/json' }, body,
      connections: CLIENTS, duration: quick ? 4 : 20,
    });
    const issued = result['2xx'];
    if (result.non2xx > 0 || result.errors > 0) throw new Error(`${result.non2xx} non-2xx answers and ${result.errors} errors during the CA bench`);
    const perSecond = issued / (result.duration || 1);
    // each crypto rate measured twice after the load, the faster kept (the host's speed drifts)
    const baseline = Math.max(signRate(quick ? 500 : 2000), signRate(quick ? 500 : 2000));
    const verifies = Math.max(verifyRate(quick ? 500 : 2000), verifyRate(quick ? 500 : 2000));
    const ceiling = cryptoCeiling(baseline, verifies);
    return [
      { name: `CA certificates/s, ${CLIENTS} clients, cached JWKS (autocannon, real server)`, value: perSecond, unit: 'ops/s', baseline, baselineName: 'node:crypto P-256 signs/s, 1 core' },
      { name: `CA certificates/s, ${CLIENTS} clients, vs the per-certificate crypto ceiling`, value: perSecond, unit: 'ops/s', baseline: ceiling, baselineName: `3 signs + 2 verifies per certificate, 1 core; ${Math.round(verifies).toLocaleString('en-US')} verifies/s` },
      { name: `POST /api/v2/signingCert latency p50, ${CLIENTS} clients`, value: result.latency.p50, unit: 'ms' },
      { name: `POST /api/v2/signingCert latency p99, ${CLIENTS} clients`, value: result.latency.p99, unit: 'ms' },
    ];
  } finally {
    await target.close();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const rows = await runCaBench({ quick: process.argv.includes('--quick') });
  const { formatTable } = await import('./table.ts');
  console.log(formatTable(rows));
}
