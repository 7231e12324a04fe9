import test from 'ava';
import fc from 'fast-check';
import { BadRequestError, UnavailableError } from '../../core/errors.ts';
import { parseIssuerConfig } from '../../ca/issuers.ts';
import { MAX_TOKEN_LENGTH, TokenVerifier, unverifiedIssuer } from '../../ca/token.ts';
import { startOidcIssuer, type OidcIssuer } from '../helpers/oidc.ts';

/** OIDC token verification against real issuers over HTTP, including the attacks of the advisories. */

let es: OidcIssuer;
let rs: OidcIssuer;
let meta: OidcIssuer;
let attacker: OidcIssuer;

test.before(async () => {
  [es, rs, meta, attacker] = await Promise.all([
    startOidcIssuer(),
    startOidcIssuer({ algorithm: 'RS256', host: 'localhost' }),
    startOidcIssuer({ path: '/tenants/acme' }),
    startOidcIssuer(),
  ]);
});
test.after.always(async () => {
  await Promise.all([es, rs, meta, attacker].map((i) => i?.close()));
});

function configFor(...issuers: OidcIssuer[]) {
  return parseIssuerConfig(JSON.stringify({
    OIDCIssuers: Object.fromEntries(issuers.map((i) => [i.issuer, { IssuerURL: i.issuer, ClientID: 'sigstore', Type: 'email' }])),
    MetaIssuers: { [meta.issuer.replace('/tenants/acme', '/tenants/*')]: { ClientID: 'sigstore', Type: 'email' } },
  }), 'test.json');
}

function verifier(clock?: () => number) {
  return new TokenVerifier(configFor(es, rs), clock ? { clock } : {});
}

const now = () => Math.floor(Date.now() / 1000);

async function rejects(t: any, promise: Promise<unknown>, cls: Function, message: RegExp) {
  const err = await t.throwsAsync(promise);
  t.true(err instanceof cls, `${err?.name}: ${err?.message}`);
  t.regex(err.message, message);
}

test('accepts ES256 and RS256 tokens from configured issuers and returns the claims', async (t) => {
  const v = verifier();
  const a = await v.verify(await es.mint({ email: 'a@example.com' }));
  t.is(a.issuer, es.issuer);
  t.is(a.claims.email, 'a@example.com');
  t.is(a.settings.type, 'email');
  const b = await v.verify(await rs.mint({ sub: 'bob', aud: ['other', 'sigstore'] }));
  t.is(b.claims.sub, 'bob');
});

test('expiry has no leeway, not-before five minutes (as go-oidc)', async (t) => {
  const v = verifier();
  await rejects(t, v.verify(await es.mint({ exp: now() - 2 })), BadRequestError, /expired/);
  await rejects(t, v.verify(await es.mint({ exp: undefined })), BadRequestError, /exp/);
  await rejects(t, v.verify(await es.mint({ nbf: now() + 400 })), BadRequestError, /nbf/);
  t.truthy(await v.verify(await es.mint({ nbf: now() + 200 })));
  // iat is not compared with the clock upstream either.
  t.truthy(await v.verify(await es.mint({ iat: now() + 3600 })));
});

test('the injected clock decides validity', async (t) => {
  const token = await es.mint();
  await rejects(t, verifier(() => Date.now() + 3600_000).verify(token), BadRequestError, /expired/);
  await rejects(t, verifier(() => Date.now() - 3600_000).verify(token), BadRequestError, /nbf/);
});

test('wrong audience, wrong signature, alg none and HS256 keyed with the public key are refused', async (t) => {
  const v = verifier();
  await rejects(t, v.verify(await es.mint({ aud: 'not-sigstore' })), BadRequestError, /aud/);
  await rejects(t, v.verify(await es.mint({}, { signWith: 'stranger' })), BadRequestError, /signature verification failed/);
  await rejects(t, v.verify(await es.mint({}, { signWith: 'none' })), BadRequestError, /invalid identity token/);
  await rejects(t, v.verify(await es.mint({}, { signWith: 'hs256-public-key' })), BadRequestError, /algorithm not allowed/);
  await rejects(t, v.verify(await rs.mint({}, { signWith: 'hs256-public-key' })), BadRequestError, /algorithm not allowed/);
  // An algorithm the issuer does not advertise is refused even with a valid signature (go-oidc).
  const own = await startOidcIssuer();
  own.patchDiscovery({ id_token_signing_alg_values_supported: ['RS256', 'HS256', 'none'] });
  try {
    await rejects(t, new TokenVerifier(configFor(own)).verify(await own.mint()), BadRequestError, /algorithm not allowed/);
    await rejects(t, new TokenVerifier(configFor(own)).verify(await own.mint({}, { signWith: 'hs256-public-key' })), BadRequestError, /algorithm not allowed/);
  } finally {
    await own.close();
  }
});

test('an unknown issuer is refused before any request is made to it', async (t) => {
  const before = attacker.requests.length;
  await rejects(t, verifier().verify(await attacker.mint()), BadRequestError, /unsupported issuer/);
  t.is(attacker.requests.length, before);
});

test('GHSA-59jp-pj84-45mr: a meta issuer pattern is anchored, so an attacker URL embedding it is never fetched', async (t) => {
  const v = verifier();
  // The real tenant matches the wildcard and verifies.
  const ok = await v.verify(await meta.mint({ email: 'x@example.com' }));
  t.is(ok.issuer, meta.issuer);
  t.is(ok.settings.issuerUrl, meta.issuer);
  const before = attacker.requests.length;
  for (const iss of [
    `${attacker.issuer}/?${meta.issuer}`,
    `${attacker.issuer}/#${meta.issuer}`,
    `${meta.issuer}/../../..${new URL(attacker.issuer).pathname}`,
    `${meta.issuer}.${new URL(attacker.issuer).host}`,
    `${meta.issuer.replace('acme', 'a/b')}`,
  ]) {
    await rejects(t, v.verify(await attacker.mint({ iss })), BadRequestError, /unsupported issuer/);
  }
  t.is(attacker.requests.length, before);
});

test('GHSA-f5mr-q85p-6hh6: a discovery document redirecting to another host is refused without contacting it', async (t) => {
  const victim = await startOidcIssuer();
  try {
    victim.redirectDiscoveryTo(`${attacker.issuer}/.well-known/openid-configuration`);
    const before = attacker.requests.length;
    await rejects(t, new TokenVerifier(configFor(victim)).verify(await victim.mint()), UnavailableError, /redirect .* refused/);
    t.is(attacker.requests.length, before);
    // A redirect within the same origin is followed, as Go's client does.
    victim.redirectDiscoveryTo(`${victim.issuer}/.well-known/openid-configuration?moved=1`);
    await rejects(t, new TokenVerifier(configFor(victim)).verify(await victim.mint()), UnavailableError, /answered 404/);
  } finally {
    await victim.close();
  }
});

test('an unreachable issuer or a discovery document naming another issuer is 503', async (t) => {
  const gone = await startOidcIssuer();
  const token = await gone.mint();
  const config = configFor(gone);
  await gone.close();
  await rejects(t, new TokenVerifier(config, { timeoutMs: 2000 }).verify(token), UnavailableError, /unreachable/);

  const liar = await startOidcIssuer();
  try {
    liar.patchDiscovery({ issuer: attacker.issuer });
    await rejects(t, new TokenVerifier(configFor(liar)).verify(await liar.mint()), UnavailableError, /different issuer/);
  } finally {
    await liar.close();
  }
});

test('discovery and JWKS are cached; a rotated key is picked up once, unknown kids are rate-limited', async (t) => {
  const idp = await startOidcIssuer();
  let clock = Date.now();
  try {
    const v = new TokenVerifier(configFor(idp), { clock: () => clock });
    await v.verify(await idp.mint());
    await v.verify(await idp.mint());
    t.is(idp.requests.filter((r) => r.includes('jwks')).length, 1);
    await idp.rotateKey();
    clock += 60_000; // past the refresh cooldown
    await v.verify(await idp.mint());
    t.is(idp.requests.filter((r) => r.includes('jwks')).length, 2);
    // Made-up kids right after a refresh do not cause more fetches.
    for (let i = 0; i < 5; i++) {
      await rejects(t, v.verify(await idp.mint({}, { kid: `bogus-${i}` })), BadRequestError, /no key/);
    }
    t.is(idp.requests.filter((r) => r.includes('jwks')).length, 2);
  } finally {
    await idp.close();
  }
});

test('GHSA-f83f-xpx7-ffpw: 10 MB of dots is refused by its length, many dots by counting them, never by splitting', async (t) => {
  await rejects(t, verifier().verify('.'.repeat(10 * 1024 * 1024)), BadRequestError, /longer than/);
  // Just under the cap: 32767 dots are counted (the third dot stops the scan) and refused.
  t.throws(() => unverifiedIssuer('a.'.repeat(MAX_TOKEN_LENGTH / 2 - 1) + 'a'), { message: /exactly three parts/ });
});

test('unverifiedIssuer refuses anything but three base64url parts with a string iss (property)', (t) => {
  fc.assert(fc.property(fc.string({ maxLength: 200 }), (s) => {
    try {
      const iss = unverifiedIssuer(s);
      // Only accepted when it really is three base64url parts whose middle one decodes to an object with iss.
      const parts = s.split('.');
      return parts.length === 3 && typeof iss === 'string' && JSON.parse(Buffer.from(parts[1]!, 'base64url').toString()).iss === iss;
    } catch (err) {
      return err instanceof BadRequestError;
    }
  }));
  const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  t.is(unverifiedIssuer(`${enc({ alg: 'ES256' })}.${enc({ iss: 'https://x' })}.sig`), 'https://x');
  t.throws(() => unverifiedIssuer(`${enc({})}.${enc({ iss: 5 })}.sig`), { message: /missing iss/ });
  t.throws(() => unverifiedIssuer(`${enc({})}.${enc({ iss: 'a' })}.sig.x`), { message: /exactly three/ });
});

test('CVE-2022-21449: an ES256 JWT whose signature is all zeros (r = s = 0) is refused', async (t) => {
  const good = await es.mint();
  const [h, p] = good.split('.');
  const zero = Buffer.alloc(64).toString('base64url');
  await rejects(t, verifier().verify(`${h}.${p}.${zero}`), BadRequestError, /signature verification failed/);
});

test('libjwt/fast-jwt class: a JWKS key without alg still never verifies an HS256 token', async (t) => {
  const idp = await startOidcIssuer({ algorithm: 'RS256' });
  try {
    idp.patchDiscovery({ id_token_signing_alg_values_supported: undefined });
    const v = new TokenVerifier(configFor(idp));
    t.truthy(await v.verify(await idp.mint())); // RS256 is go-oidc's default when discovery names none
    await rejects(t, v.verify(await idp.mint({}, { signWith: 'hs256-public-key' })), BadRequestError, /algorithm not allowed/);
  } finally {
    await idp.close();
  }
});
