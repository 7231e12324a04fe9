import test from 'ava';
import { BadRequestError } from '../../core/errors.ts';
import { parseIssuerConfig } from '../../ca/issuers.ts';
import { TokenVerifier } from '../../ca/token.ts';
import { startOidcIssuer } from '../helpers/oidc.ts';

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
