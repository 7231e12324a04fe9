import Router from '@koa/router';
import { exportJWK, SignJWT, type JWK } from 'jose';
import { createHash } from 'node:crypto';
import { BadRequestError } from '../core/errors.ts';
import type { Signer } from '../core/signer.ts';
import '../core/koa-augment.ts';

/**
 * A development OIDC issuer for test harnesses and the quick start: anyone who can reach it gets a token for any
 * identity, so it is only on when asked for (or when no issuer file is given) and the server says so loudly.
 * Tokens are ES256, audience `sigstore`, 10 minutes.
 */
export const DEV_ISSUER_PATH = '/dev-oidc';

const RESERVED = new Set(['iss', 'iat', 'nbf', 'exp']);

export async function devIssuerRouter(opts: { issuerUrl: string; signer: Signer }): Promise<Router> {
  const jwk: JWK = { ...(await exportJWK(opts.signer.publicKey)), alg: 'ES256', use: 'sig' };
  jwk.kid = createHash('sha256').update(opts.signer.publicKeyDer).digest('hex').slice(0, 16);
  const router = new Router({ prefix: DEV_ISSUER_PATH });
  router.get('/.well-known/openid-configuration', (ctx) => {
    ctx.body = {
      issuer: opts.issuerUrl,
      jwks_uri: `${opts.issuerUrl}/jwks`,
      token_endpoint: `${opts.issuerUrl}/token`,
      response_types_supported: ['id_token'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['ES256'],
    };
  });
  router.get('/jwks', (ctx) => {
    ctx.body = { keys: [jwk] };
  });
  router.post('/token', async (ctx) => {
    const body = ctx.request.body ?? {};
    if (typeof body !== 'object' || Array.isArray(body) || body === null) throw new BadRequestError('token request must be a JSON object of claims');
    const claims: Record<string, unknown> = { ...(body as Record<string, unknown>) };
    for (const k of Object.keys(claims)) if (RESERVED.has(k)) throw new BadRequestError(`claim "${k}" is set by the issuer`);
    if (claims.email === undefined && claims.sub === undefined) claims.email = 'dev@sigstack.local';
    if (claims.email !== undefined && claims.email_verified === undefined) claims.email_verified = true;
    if (claims.sub === undefined) claims.sub = claims.email;
    if (claims.aud === undefined) claims.aud = 'sigstore';
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: jwk.kid, typ: 'JWT' })
      .setIssuer(opts.issuerUrl)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + 600)
      .sign(opts.signer.privateKey);
    ctx.body = { id_token: token, token_type: 'Bearer', expires_in: 600 };
  });
  return router;
}
