import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Agent, fetch as undiciFetch } from 'undici';
import { parseServeConfig } from '../../services/config.ts';
import { startStack } from '../../services/app.ts';
import { rateLimitMiddleware } from '../../services/rate-limit.ts';
import { hashedRekordProposal } from '../helpers/rekord.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'sigstack-edge-'));
const silent = pino({ level: 'silent' });

test('HTTPS when given a certificate and key: the public URL is https, the trust documents are served over TLS, plain HTTP is not', async (t) => {
  const dir = tmp();
  const cert = join(dir, 'tls.crt');
  const key = join(dir, 'tls.key');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert,
    '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  const stack = await startStack(parseServeConfig('all', { port: '0', dataDir: join(dir, 'data'), tlsCert: cert, tlsKey: key, devOidc: true }), silent);
  const dispatcher = new Agent({ connect: { ca: readFileSync(cert, 'utf8') } });
  try {
    t.regex(stack.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const res = await undiciFetch(`${stack.url}/sigstack/v1/trusted_root.json`, { dispatcher });
    t.is(res.status, 200);
    const root = await res.json() as { tlogs: { baseUrl: string }[] };
    t.is(root.tlogs[0]!.baseUrl, stack.url);
    const entry = await undiciFetch(`${stack.url}/api/v1/log/entries`, { dispatcher, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(hashedRekordProposal().proposal) });
    t.is(entry.status, 201);
    await t.throwsAsync(fetch(stack.url.replace('https:', 'http:') + '/healthz', { signal: AbortSignal.timeout(5000) }));
    await t.throwsAsync(undiciFetch(`${stack.url}/healthz`), undefined, 'an untrusted certificate is refused by default');
  } finally {
    await dispatcher.close();
    await stack.close();
  }
});

test('rate limits: a token bucket per client, 429 with Retry-After and the API error shape; health endpoints exempt', async (t) => {
  const stack = await startStack(parseServeConfig('all', { port: '0', dataDir: tmp(), rateLimit: '1', rateBurst: '3' }), silent);
  try {
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await fetch(`${stack.url}/api/v1/log`)).status);
    t.deepEqual(statuses, [200, 200, 200], 'a full bucket lets a burst through');
    let limited: Response | undefined;
    for (let i = 0; i < 30 && !limited; i++) {
      const r = await fetch(`${stack.url}/api/v1/log`);
      if (r.status === 429) limited = r;
      else await r.body?.cancel();
    }
    t.truthy(limited, 'a client over its rate is refused');
    t.regex(limited!.headers.get('retry-after') ?? '', /^\d+$/);
    t.deepEqual(await limited!.json(), { code: 429, message: 'too many requests from this address, slow down' });
    const v2 = await fetch(`${stack.url}/api/v2/configuration`);
    t.is(v2.status, 429);
    t.is(((await v2.json()) as { code: number }).code, 8, 'Fulcio v2 shape: gRPC ResourceExhausted');
    for (const p of ['/healthz', '/readyz', '/metrics']) t.is((await fetch(`${stack.url}${p}`)).status, 200, p);
    t.regex(await (await fetch(`${stack.url}/metrics`)).text(), /sigstack_rejections_total\{code="RATE_LIMITED",route="[^"]+"\} \d/);
  } finally {
    await stack.close();
  }
});

test('token bucket: exact refill with a clock, separate buckets per address, bounded memory', async (t) => {
  let now = 0;
  const mw = rateLimitMiddleware({ ratePerSecond: 2, burst: 2, maxClients: 2, now: () => now });
  const call = async (ip: string) => {
    try {
      await mw({ path: '/api/v1/log', request: { ip } } as never, async () => undefined);
      return 'ok';
    } catch (err) {
      return (err as { status: number }).status;
    }
  };
  t.deepEqual([await call('a'), await call('a'), await call('a')], ['ok', 'ok', 429]);
  t.is(await call('b'), 'ok', 'another client has its own bucket');
  now = 499;
  t.is(await call('a'), 429, 'one token takes 500 ms at 2/s');
  now = 500;
  t.is(await call('a'), 'ok');
  await call('c'); // a third address evicts the least recently seen ("b")
  t.deepEqual([await call('b'), await call('b')], ['ok', 'ok'], 'an evicted client starts again with a full bucket');
});

test('body limit is configurable: 413 over it, in the API error shape, before reading the whole body', async (t) => {
  const stack = await startStack(parseServeConfig('all', { port: '0', dataDir: tmp(), bodyLimit: '2048' }), silent);
  try {
    const big = await fetch(`${stack.url}/api/v1/log/entries`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ pad: 'x'.repeat(4096) }) });
    t.is(big.status, 413);
    t.is(((await big.json()) as { code: number }).code, 413);
    const ok = await fetch(`${stack.url}/api/v1/log/entries`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(hashedRekordProposal().proposal) });
    t.is(ok.status, 201);
    t.regex(await (await fetch(`${stack.url}/metrics`)).text(), /sigstack_rejections_total\{code="PAYLOAD_TOO_LARGE",route="\/api\/v1\/log\/entries"\} 1/);
  } finally {
    await stack.close();
  }
});
