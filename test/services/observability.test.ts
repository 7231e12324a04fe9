import test from 'ava';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createPrivateKey, randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { parseServeConfig } from '../../services/config.ts';
import { startStack, type RunningStack } from '../../services/app.ts';
import { signArtifact } from '../../client/sign.ts';
import { createVerifier } from '../../client/verify/index.ts';
import { startOidcIssuer, type OidcIssuer } from '../helpers/oidc.ts';

const EMAIL = 'ops@example.com';

/** The whole stack in process with its JSON log lines captured, trusting an in-test issuer of type email. */
async function stackWithLogs(oidc: OidcIssuer, extra: Record<string, string> = {}): Promise<{ stack: RunningStack; dataDir: string; lines: () => string; trustedRoot: unknown }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'sigstack-obs-'));
  const issuerFile = join(dataDir, 'fulcio-config.json');
  writeFileSync(issuerFile, JSON.stringify({ OIDCIssuers: { [oidc.issuer]: { IssuerURL: oidc.issuer, ClientID: 'sigstore', Type: 'email' } } }));
  let captured = '';
  const sink = new Writable({ write(chunk, _enc, cb) { captured += chunk.toString(); cb(); } });
  const logger = pino({ level: 'trace' }, sink);
  const stack = await startStack(parseServeConfig('all', { port: '0', dataDir, oidcConfig: issuerFile, ...extra }), logger);
  const trustedRoot = await (await fetch(`${stack.url}/sigstack/v1/trusted_root.json`)).json();
  return { stack, dataDir, lines: () => captured, trustedRoot };
}

const mint = (oidc: OidcIssuer) => oidc.mint({ email: EMAIL, email_verified: true, sub: EMAIL });

/** One sample of a metric with exactly these labels, from Prometheus text. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const m = /^[^{ ]+(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const got = Object.fromEntries([...(m[1] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v) && Object.keys(got).length === Object.keys(labels).length) return Number(m[2]);
  }
  return undefined;
}

test('health, readiness and metrics: certificates by issuer and type, rejections by code, latencies by route pattern, log size', async (t) => {
  const oidc = await startOidcIssuer();
  const { stack } = await stackWithLogs(oidc);
  const other = await stackWithLogs(oidc); // a second stack in the same process keeps its own numbers
  try {
    t.is((await fetch(`${stack.url}/healthz`)).status, 200);
    const ready = await fetch(`${stack.url}/readyz`);
    t.is(ready.status, 200);
    const readyBody = await ready.json() as { checks: Record<string, { ok: boolean; detail: string }> };
    t.deepEqual(Object.keys(readyBody.checks).sort(), ['caKeys', 'database', 'logKeys']);
    t.regex(readyBody.checks.logKeys!.detail, /rekor and ct keys sign and verify/);
    t.regex(readyBody.checks.caKeys!.detail, /issuing key signs and verifies/);

    for (const a of ['one', 'two']) {
      await signArtifact({ artifact: Buffer.from(a), identityToken: await mint(oidc), fulcioUrl: stack.url, rekorUrl: stack.url });
    }
    // a refused token, a refused body, and random paths that must not become labels
    const bad = await fetch(`${stack.url}/api/v2/signingCert`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ credentials: { oidcIdentityToken: 'not.a.token' }, publicKeyRequest: { publicKey: { algorithm: 'ECDSA', content: 'x' }, proofOfPossession: 'x' } }) });
    t.true(bad.status >= 400 && bad.status < 500);
    const nonsense = randomBytes(8).toString('hex');
    t.is((await fetch(`${stack.url}/api/v1/log/entries/${nonsense}`)).status >= 400, true);
    t.is((await fetch(`${stack.url}/no/such/${nonsense}`)).status, 404);
    for (const method of ['PROPFIND', 'MKCOL', 'SEARCH']) await (await fetch(`${stack.url}/healthz`, { method })).body?.cancel();
    t.is((await fetch(`${stack.url}/api/v1/log/proof?firstSize=1&lastSize=2`)).status, 200);

    const res = await fetch(`${stack.url}/metrics`);
    t.is(res.status, 200);
    t.regex(res.headers.get('content-type') ?? '', /text\/plain/);
    const text = await res.text();
    t.is(sample(text, 'sigstack_certificates_issued_total', { issuer: oidc.issuer, type: 'email' }), 2);
    t.is(sample(text, 'sigstack_log_size', { log: 'rekor' }), 2);
    t.is(sample(text, 'sigstack_log_size', { log: 'ct' }), 2);
    t.is(sample(text, 'sigstack_log_append_duration_seconds_count', { log: 'rekor' }), 2);
    t.is(sample(text, 'sigstack_log_append_duration_seconds_count', { log: 'ct' }), 2);
    t.true((sample(text, 'sigstack_log_proof_duration_seconds_count', { log: 'rekor', kind: 'inclusion' }) ?? 0) >= 2);
    t.is(sample(text, 'sigstack_log_proof_duration_seconds_count', { log: 'rekor', kind: 'consistency' }), 1);
    t.is(sample(text, 'sigstack_http_request_duration_seconds_count', { method: 'POST', route: '/api/v2/signingCert', status: '200' }), 2);
    t.is(sample(text, 'sigstack_http_request_duration_seconds_count', { method: 'POST', route: '/api/v1/log/entries', status: '201' }), 2);
    t.is(sample(text, 'sigstack_rejections_total', { code: 'NOT_FOUND', route: '/api/v1/log/entries/:entryUUID' }) ??
      sample(text, 'sigstack_rejections_total', { code: 'BAD_REQUEST', route: '/api/v1/log/entries/:entryUUID' }), 1);
    t.true([...text.matchAll(/sigstack_rejections_total\{code="(\w+)",route="\/api\/v2\/signingCert"\} 1/g)].length === 1, 'the refused token is counted by its code');
    t.is(sample(text, 'sigstack_rejections_total', { code: '404', route: 'unmatched' }), 1);
    t.false(text.includes(nonsense), 'a raw path never becomes a label (unbounded cardinality)');
    t.false(/PROPFIND|MKCOL|SEARCH/.test(text), 'nor a custom method');
    const otherMethods = [...text.matchAll(/^sigstack_http_request_duration_seconds_count\{method="OTHER",[^}]*\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
    t.is(otherMethods, 3, 'custom methods are counted as OTHER');

    const otherText = await (await fetch(`${other.stack.url}/metrics`)).text();
    t.is(sample(otherText, 'sigstack_certificates_issued_total', { issuer: oidc.issuer, type: 'email' }), undefined);
    t.is(sample(otherText, 'sigstack_log_size', { log: 'rekor' }), 0);
  } finally {
    await stack.close();
    await other.stack.close();
    await oidc.close();
  }
});

test('readiness of `serve ca` follows its log: 503 naming the check while the log is unreachable, 200 once it is', async (t) => {
  const oidc = await startOidcIssuer();
  const log = await stackWithLogs(oidc);
  const dead = await startStack(parseServeConfig('ca', { port: '0', dataDir: mkdtempSync(join(tmpdir(), 'sigstack-ca-')), logUrl: 'http://127.0.0.1:9' }), pino({ level: 'silent' }));
  const alive = await startStack(parseServeConfig('ca', { port: '0', dataDir: mkdtempSync(join(tmpdir(), 'sigstack-ca-')), logUrl: log.stack.url }), pino({ level: 'silent' }));
  try {
    t.is((await fetch(`${dead.url}/healthz`)).status, 200, 'alive even when its log is not');
    const r = await fetch(`${dead.url}/readyz`);
    t.is(r.status, 503);
    const body = await r.json() as { checks: Record<string, { ok: boolean; detail: string }> };
    t.false(body.checks.log!.ok);
    t.regex(body.checks.log!.detail, /127\.0\.0\.1:9/);
    t.true(body.checks.caKeys!.ok);
    t.is((await fetch(`${alive.url}/readyz`)).status, 200);
  } finally {
    await Promise.all([dead.close(), alive.close(), log.stack.close()]);
    await oidc.close();
  }
});

test('logs: JSON lines with a request id, and never the token or a private key, over a whole sign + verify run', async (t) => {
  const oidc = await startOidcIssuer();
  const { stack, dataDir, lines, trustedRoot } = await stackWithLogs(oidc);
  const tokens: string[] = [];
  try {
    const token = await mint(oidc);
    tokens.push(token);
    const bundle = await signArtifact({ artifact: Buffer.from('logged run'), identityToken: token, fulcioUrl: stack.url, rekorUrl: stack.url });
    const result = createVerifier(trustedRoot).verify({ artifact: Buffer.from('logged run'), bundle, policy: { identity: EMAIL, issuer: oidc.issuer } });
    t.is(result.identity, EMAIL);
    // failures are where secrets leak: a token for an unknown audience, a garbage Authorization header, a bad body
    const wrong = await oidc.mint({ email: EMAIL, email_verified: true, sub: EMAIL, aud: 'someone-else' });
    tokens.push(wrong);
    await signArtifact({ artifact: Buffer.from('x'), identityToken: wrong, fulcioUrl: stack.url, rekorUrl: stack.url }).catch(() => undefined);
    const res = await fetch(`${stack.url}/api/v1/signingCert`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'x-request-id': 'trace-me-42' }, body: '{"publicKey":' });
    t.is(res.headers.get('x-request-id'), 'trace-me-42');
    const forged = await fetch(`${stack.url}/healthz`, { headers: { 'x-request-id': 'x" "forged":"1' } });
    t.regex(forged.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/, 'a request id with odd characters is replaced');
  } finally {
    await stack.close();
    await oidc.close();
  }
  const text = lines();
  const records = text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const requests = records.filter((r) => r.msg === 'request');
  t.true(requests.length >= 6);
  for (const r of requests) t.regex(String(r.reqId), /^[\w.:-]+$/, 'every request line has its id');
  t.true(requests.some((r) => r.reqId === 'trace-me-42' && r.status === 400));
  for (const r of records.filter((x) => x.level !== undefined && Number(x.level) >= 50)) t.truthy(r.reqId, 'errors carry the request id');

  for (const token of tokens) {
    for (const part of [token, ...token.split('.')]) t.false(text.includes(part), 'a token (or one of its parts) is in the logs');
  }
  const keyFiles = readdirSync(join(dataDir, 'keys')).filter((f) => f.endsWith('.key.pem'));
  t.true(keyFiles.length >= 4);
  for (const f of keyFiles) {
    const pem = readFileSync(join(dataDir, 'keys', f), 'utf8');
    const body = pem.replace(/-----[^-]+-----|\s+/g, '');
    const d = createPrivateKey(pem).export({ format: 'jwk' }).d!;
    const raw = Buffer.from(d, 'base64url');
    for (const secret of [body, body.slice(0, 40), d, raw.toString('hex'), raw.toString('base64')]) {
      t.false(text.includes(secret), `private key ${f} is in the logs`);
    }
  }
});
