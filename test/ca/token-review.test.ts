/**
 * The CA's token path under a review that played an attacker with unsigned tokens and forged issuers: nothing an
 * unauthenticated token names may grow the CA's memory or its outbound connections, and an honest issuer's
 * token is not refused for publishing several keys.
 */
import test from 'ava';
import { generateKeyPairSync } from 'node:crypto';
import { exportJWK, SignJWT, type JSONWebKeySet } from 'jose';
import { UnavailableError } from '../../core/errors.ts';
import { parseIssuerConfig } from '../../ca/issuers.ts';
import { OidcKeyCache } from '../../ca/oidc-keys.ts';
import { TokenVerifier } from '../../ca/token.ts';

async function twoKeyJwks() {
  const pairs = [generateKeyPairSync('ec', { namedCurve: 'P-256' }), generateKeyPairSync('ec', { namedCurve: 'P-256' })];
  const jwks: JSONWebKeySet = { keys: await Promise.all(pairs.map(async (p) => ({ ...(await exportJWK(p.publicKey)), alg: 'ES256', use: 'sig' }))) };
  return { pairs, jwks };
}

test('a static JWKS is cached once, whatever issuer URL a meta-issuer token names', async (t) => {
  const { jwks } = await twoKeyJwks();
  const cache = new OidcKeyCache();
  const first = await cache.get('https://oidc.example.com/t/a', { jwks });
  for (let i = 0; i < 500; i++) t.is(await cache.get(`https://oidc.example.com/t/${'a'.repeat(1000)}${i}`, { jwks }), first);
});

test('an issuer that fails is asked once per 30 s, and at most 32 issuers are fetched at once', async (t) => {
  let now = 0;
  let calls = 0;
  const failing = new OidcKeyCache({ clock: () => now, fetch: async () => {
    calls++;
    throw new TypeError('fetch failed');
  } });
  for (let i = 0; i < 3; i++) await t.throwsAsync(failing.get('https://down.example.com'), { instanceOf: UnavailableError });
  t.is(calls, 1, 'the failure is remembered');
  now += 30_001;
  await t.throwsAsync(failing.get('https://down.example.com'), { instanceOf: UnavailableError });
  t.is(calls, 2, 'and asked again after 30 s');

  let opened = 0;
  const hanging = new OidcKeyCache({ fetch: () => {
    opened++;
    return new Promise(() => {});
  } });
  const pending = Array.from({ length: 40 }, (_, i) => hanging.get(`https://h${i}.example.com`));
  for (const p of pending) p.catch(() => {});
  await new Promise((r) => setImmediate(r));
  t.is(opened, 32);
  await t.throwsAsync(pending[39]!, { instanceOf: UnavailableError, message: /too many OIDC issuers/ });
});

test('a token without kid verifies when the issuer publishes several keys (each is tried); exp beyond any clock is refused', async (t) => {
  const { pairs, jwks } = await twoKeyJwks();
  const issuer = 'https://static.example.com';
  const config = parseIssuerConfig(JSON.stringify({ OIDCIssuers: { [issuer]: { IssuerURL: issuer, ClientID: 'sigstore', Type: 'email', JWKSFile: 'k.json' } } }), 'f.json', { readFile: () => JSON.stringify(jwks) });
  const verifier = new TokenVerifier(config);
  const mint = (key: typeof pairs[0]['privateKey'], exp: number) => new SignJWT({ email: 'a@example.com', email_verified: true })
    .setProtectedHeader({ alg: 'ES256' }).setIssuer(issuer).setAudience('sigstore').setSubject('a').setIssuedAt().setExpirationTime(exp).sign(key);
  const inAMinute = Math.floor(Date.now() / 1000) + 60;
  for (const p of pairs) t.is((await verifier.verify(await mint(p.privateKey, inAMinute))).claims.email, 'a@example.com');
  const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  await t.throwsAsync(verifier.verify(await mint(stranger.privateKey, inAMinute)), { message: /signature verification failed/ });
  await t.throwsAsync(verifier.verify(await mint(pairs[0]!.privateKey, 1e300)), { message: /exp claim is out of range/ });
});

test('an issuer that stalls its JWKS mid-body is given up within the deadline, and its fetch slot is freed', async (t) => {
  const { createServer } = await import('node:http');
  const server = createServer((req, res) => {
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    if (req.url === '/.well-known/openid-configuration') return void res.end(JSON.stringify({ issuer: base, jwks_uri: `${base}/jwks` }));
    res.writeHead(200, { 'content-type': 'application/json' }).write('{"keys":[');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const issuer = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  try {
    const cache = new OidcKeyCache({ timeoutMs: 300 });
    const started = Date.now();
    await t.throwsAsync(cache.get(issuer), { instanceOf: UnavailableError });
    t.true(Date.now() - started < 3000, `gave up after ${Date.now() - started} ms`);
    t.is((cache as unknown as { inFlight: Map<string, unknown> }).inFlight.size, 0);
  } finally {
    server.closeAllConnections();
    server.close();
  }
});

test('an issuer file or JWKS file with a duplicate key is refused, as YAML already refuses one', (t) => {
  const entry = (id: string) => `{"IssuerURL":"https://a.example.com","ClientID":"${id}","Type":"email"}`;
  t.throws(() => parseIssuerConfig(`{"OIDCIssuers":{"https://a.example.com":${entry('one')},"https://a.example.com":${entry('two')}}}`, 'f.json'), { message: /f\.json: not valid JSON or YAML: an object has the same member name twice/ });
  t.notThrows(() => parseIssuerConfig(`{"OIDCIssuers":{"https://a.example.com":${entry('one')}}}`, 'f.json'));
  const jwksFile = `{"OIDCIssuers":{"https://a.example.com":{"IssuerURL":"https://a.example.com","ClientID":"x","Type":"email","JWKSFile":"k.json"}}}`;
  t.throws(() => parseIssuerConfig(jwksFile, 'f.json', { readFile: () => '{"keys":[],"keys":[{"kty":"EC"}]}' }), { message: /same member name twice/ });
});
