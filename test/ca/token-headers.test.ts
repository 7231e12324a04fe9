import test from 'ava';
import { createHmac, createPublicKey, generateKeyPairSync, sign, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jwtVerify, type JWK } from 'jose';
import { BadRequestError } from '../../core/errors.ts';
import { parseIssuerConfig } from '../../ca/issuers.ts';
import { TokenVerifier } from '../../ca/token.ts';
import { startOidcIssuer, type OidcIssuer } from '../helpers/oidc.ts';
import { serveCa, type ServedCa } from './fixtures.ts';

/**
 * The keys that verify a token come from its configured issuer only: `jku`, `x5u` and `jwk` headers are never
 * followed or trusted, a token of issuer A signed with issuer B's key fails, as do an unknown kid and a token
 * without an audience.
 */
test('jku/x5u/jwk headers, another issuer\'s key, an unknown kid, no audience: 400, and no request to the header URLs', async (t) => {
  const a = await startOidcIssuer();
  const b = await startOidcIssuer();
  t.teardown(async () => {
    await a.close();
    await b.close();
  });
  const config = parseIssuerConfig(JSON.stringify({
    OIDCIssuers: Object.fromEntries([a, b].map((i) => [i.issuer, { IssuerURL: i.issuer, ClientID: 'sigstore', Type: 'email' }])),
  }), 'f.json');
  const verifier = new TokenVerifier(config, { refreshCooldownMs: 60_000 });
  const claims = { email: 'a@example.com', email_verified: true };
  t.is((await verifier.verify(await a.mint(claims))).issuer, a.issuer);
  t.is((await verifier.verify(await b.mint(claims))).issuer, b.issuer);
  const bJwks = (await (await fetch(`${b.issuer}/jwks`)).json()) as { keys: Record<string, unknown>[] };
  const bRequestsBefore = b.requests.length;

  const refused = async (token: string, why: RegExp) => {
    const err = await t.throwsAsync(verifier.verify(token));
    t.true(err instanceof BadRequestError, String(err));
    t.regex(err!.message, why);
  };
  // a token claiming issuer A, signed by B's key (under B's kid), pointing at B's JWKS in every header
  const forged = (header: Record<string, unknown>) => b.mint({ ...claims, iss: a.issuer }, { header });
  await refused(await forged({}), /no key of the issuer matches|signature verification failed/);
  await refused(await forged({ jku: `${b.issuer}/jwks` }), /no key of the issuer matches|signature verification failed/);
  await refused(await forged({ x5u: `${b.issuer}/cert.pem` }), /no key of the issuer matches|signature verification failed/);
  await refused(await forged({ jwk: bJwks.keys[0] }), /no key of the issuer matches|signature verification failed|jwk/);
  t.is(b.requests.length, bRequestsBefore, 'the header URLs were never fetched');
  // an unknown kid (A's JWKS was just fetched, so no refresh is allowed), and no audience at all
  await refused(await a.mint(claims, { kid: 'not-a-key-of-a' }), /no key of the issuer matches/);
  await refused(await a.mint({ ...claims, aud: undefined }), /aud/);
});

/** An HS256 JWS built by hand, so that any byte string (even an empty one) can be the HMAC key. */
function hs256(payload: Record<string, unknown>, secret: Buffer, kid: string | undefined): string {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const input = `${b64({ alg: 'HS256', typ: 'JWT', ...(kid ? { kid } : {}) })}.${b64(payload)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

async function signingCert(ca: ServedCa, token: string, email: string) {
  const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const res = await fetch(`${ca.url}/api/v2/signingCert`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      credentials: { oidcIdentityToken: token },
      publicKeyRequest: {
        publicKey: { algorithm: 'ECDSA', content: keys.publicKey.export({ type: 'spki', format: 'pem' }) },
        proofOfPossession: sign('sha256', Buffer.from(email), keys.privateKey).toString('base64'),
      },
    }),
  });
  const text = await res.text();
  return { status: res.status, text, json: JSON.parse(text) as Record<string, any>, keys };
}

/**
 * GHSA-q843-6q5f-w55g (libjwt) and the fast-jwt algorithm-confusion advisories: an RSA JWK that does not name
 * its `alg`, from an issuer whose discovery even advertises HS256, must never verify an HS256 token whose HMAC key
 * is some encoding of that public key (or empty). Checked end to end through POST /api/v2/signingCert, for keys
 * fetched over HTTP (discovery + jwks_uri) and for a JWKSFile issuer; an RS256 token of the same key is the control.
 */
test('RSA JWK without alg, HS256 advertised: HS256 tokens keyed with the public key are 400 and get no certificate; RS256 still does', async (t) => {
  const served = await startOidcIssuer({ algorithm: 'RS256', omitJwkAlg: true });
  const filed = await startOidcIssuer({ algorithm: 'RS256', omitJwkAlg: true });
  const dir = mkdtempSync(join(tmpdir(), 'sigstack-jwk-no-alg-'));
  let ca: ServedCa | undefined;
  t.teardown(async () => {
    await ca?.close();
    await served.close();
    await filed.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const confused = { id_token_signing_alg_values_supported: ['RS256', 'HS256'] };
  served.patchDiscovery(confused);
  filed.patchDiscovery(confused);
  const discovery = await (await fetch(`${served.issuer}/.well-known/openid-configuration`)).json() as Record<string, unknown>;
  t.deepEqual(discovery.id_token_signing_alg_values_supported, ['RS256', 'HS256']);
  const jwkOf = async (i: OidcIssuer): Promise<JWK> => {
    const { keys } = await (await fetch(`${i.issuer}/jwks`)).json() as { keys: JWK[] };
    t.is(keys.length, 1);
    t.is(keys[0]!.kty, 'RSA');
    t.false('alg' in keys[0]!, 'the served JWK has no alg');
    return keys[0]!;
  };
  const servedJwk = await jwkOf(served);
  const filedJwk = await jwkOf(filed);
  const jwksFile = join(dir, 'filed.jwks.json');
  writeFileSync(jwksFile, JSON.stringify({ keys: [filedJwk] }));
  const email = 'alice@example.com';
  ca = await serveCa({
    OIDCIssuers: {
      [served.issuer]: { IssuerURL: served.issuer, ClientID: 'sigstore', Type: 'email' },
      [filed.issuer]: { IssuerURL: filed.issuer, ClientID: 'sigstore', Type: 'email', JWKSFile: jwksFile },
    },
  });
  const filedRequests = filed.requests.length;

  for (const [idp, jwk] of [[served, servedJwk], [filed, filedJwk]] as const) {
    const pub = createPublicKey({ key: { ...jwk }, format: 'jwk' });
    const spkiPem = pub.export({ type: 'spki', format: 'pem' }) as string;
    const secrets: [string, Buffer][] = [
      ['SPKI PEM', Buffer.from(spkiPem)],
      ['SPKI PEM without the final newline', Buffer.from(spkiPem.trimEnd())],
      ['PKCS#1 PEM', Buffer.from(pub.export({ type: 'pkcs1', format: 'pem' }) as string)],
      ['SPKI DER', pub.export({ type: 'spki', format: 'der' })],
      ['JSON.stringify(jwk)', Buffer.from(JSON.stringify(jwk))],
      ['raw modulus bytes', Buffer.from(jwk.n!, 'base64url')],
      ['empty key', Buffer.alloc(0)],
    ];
    const now = Math.floor(Date.now() / 1000);
    const payload = { iss: idp.issuer, aud: 'sigstore', sub: 'alice-id', email, email_verified: true, iat: now, nbf: now, exp: now + 300 };
    for (const [name, secret] of secrets) {
      for (const kid of [jwk.kid, undefined]) {
        const what = `${idp === served ? 'served JWKS' : 'JWKSFile'}, ${name}, ${kid ? 'with' : 'without'} kid`;
        const token = hs256(payload, secret, kid);
        // The forgery is well made: a verifier that took this key as an HMAC secret would accept it.
        if (secret.length > 0) await t.notThrowsAsync(jwtVerify(token, secret, { algorithms: ['HS256'] }), what);
        const logged = ca.ctLog.received.length;
        const res = await signingCert(ca, token, email);
        t.is(res.status, 400, what);
        t.is(res.json.code, 3, what);
        t.is(res.json.message, 'invalid identity token: signature algorithm not allowed', what);
        t.false(res.text.includes('BEGIN CERTIFICATE'), what);
        t.is(ca.ctLog.received.length, logged, `${what}: nothing reached the CT log`);
      }
    }
    // Control: the same key, used as intended (RS256, the JWK's kid), gets a certificate for the request's key.
    const ok = await signingCert(ca, await idp.mint({ sub: 'alice-id', email, email_verified: true }), email);
    t.is(ok.status, 200, ok.text);
    const leaf = new X509Certificate(ok.json.signedCertificateEmbeddedSct.chain.certificates[0]);
    t.true(leaf.publicKey.equals(ok.keys.publicKey));
  }
  t.true(served.requests.includes('GET /.well-known/openid-configuration'), 'the CA read the discovery that advertises HS256');
  t.deepEqual(filed.requests.slice(filedRequests), [], 'the JWKSFile issuer is never contacted');
});
