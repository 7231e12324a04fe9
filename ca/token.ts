import { errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { SigstackError, BadRequestError } from '../core/errors.ts';
import { lookupIssuer, type IssuerConfig, type IssuerSettings } from './issuers.ts';
import { OidcKeyCache, type IssuerKeys, type OidcKeyCacheOptions } from './oidc-keys.ts';
import { hasLoneSurrogate } from '../core/unicode.ts';

/**
 * Verifies OIDC identity tokens as Fulcio does (go-oidc): signature against the issuer's JWKS with an
 * asymmetric algorithm the issuer advertises, `iss` exactly, `aud` containing the ClientID, `exp` in the
 * future with no leeway, `nbf` with five minutes of leeway, `iat` not compared with the clock.
 */

export interface VerifiedToken {
  /** The token's `iss`, verified. */
  issuer: string;
  /** The configuration that matched it (for a meta issuer, made concrete for this URL). */
  settings: IssuerSettings;
  /** All claims of the verified payload. */
  claims: JWTPayload & Record<string, unknown>;
}

export interface TokenVerifierOptions extends OidcKeyCacheOptions {
  /** Leeway for `nbf` in seconds: go-oidc allows 5 minutes. */
  notBeforeLeewaySeconds?: number;
  /** Leeway for `exp` in seconds: go-oidc allows none. */
  expiryLeewaySeconds?: number;
}

/**
 * Longest token accepted. Real ID tokens are 1-4 KiB; the cap comes before any split or decode so that a
 * huge token costs nothing (GHSA-f83f-xpx7-ffpw).
 */
export const MAX_TOKEN_LENGTH = 64 * 1024;

const BASE64URL = /^[A-Za-z0-9_-]+$/;

function invalid(reason: string): BadRequestError {
  return new BadRequestError(`invalid identity token: ${reason}`, 'INVALID_IDENTITY_TOKEN');
}

/**
 * Reads `iss` from an unverified token, only to choose which issuer to verify it against. Checks the size and
 * that there are exactly two dots before splitting, so that millions of dots cannot cost memory (Fulcio's
 * extractIssuerURL after GHSA-f83f-xpx7-ffpw).
 */
export function unverifiedIssuer(token: string): string {
  if (token.length === 0) throw invalid('empty token');
  if (token.length > MAX_TOKEN_LENGTH) throw invalid(`token is longer than ${MAX_TOKEN_LENGTH} characters`);
  const first = token.indexOf('.');
  const second = first < 0 ? -1 : token.indexOf('.', first + 1);
  if (second < 0 || token.indexOf('.', second + 1) >= 0) throw invalid('a JWT must have exactly three parts');
  const payload = token.slice(first + 1, second);
  if (!BASE64URL.test(token.slice(0, first)) || !BASE64URL.test(payload)) throw invalid('malformed JWT encoding');
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    throw invalid('malformed JWT payload');
  }
  if (typeof claims !== 'object' || claims === null || typeof (claims as { iss?: unknown }).iss !== 'string') {
    throw invalid('missing iss claim');
  }
  return (claims as { iss: string }).iss;
}

/** jwtVerify with each candidate key of a JWKSMultipleMatchingKeys error until one verifies. */
async function firstVerifying(token: string, candidates: joseErrors.JWKSMultipleMatchingKeys, options: Parameters<typeof jwtVerify>[2]): Promise<JWTPayload> {
  for await (const key of candidates as unknown as AsyncIterable<Parameters<typeof jwtVerify>[1]>) {
    try {
      return (await jwtVerify(token, key as never, options)).payload;
    } catch (err) {
      if (err instanceof joseErrors.JWSSignatureVerificationFailed) continue;
      throw err;
    }
  }
  throw new joseErrors.JWSSignatureVerificationFailed();
}

export class TokenVerifier {
  private readonly keys: OidcKeyCache;
  private readonly clock: () => number;
  private readonly nbfLeeway: number;
  private readonly expLeeway: number;

  constructor(private readonly config: IssuerConfig, opts: TokenVerifierOptions = {}) {
    this.keys = new OidcKeyCache(opts);
    this.clock = opts.clock ?? Date.now;
    this.nbfLeeway = opts.notBeforeLeewaySeconds ?? 300;
    this.expLeeway = opts.expiryLeewaySeconds ?? 0;
  }

  /**
   * Verifies `token`. Throws BadRequestError (400, Fulcio v2 InvalidArgument) for anything wrong with the token or an issuer that is
   * not configured (decided before any network access), UnavailableError (503) when the issuer's keys cannot
   * be fetched.
   */
  async verify(token: unknown): Promise<VerifiedToken> {
    if (typeof token !== 'string') throw invalid('no identity token given');
    const iss = unverifiedIssuer(token);
    const settings = lookupIssuer(this.config, iss);
    if (!settings) throw new BadRequestError(`unsupported issuer: ${iss.slice(0, 200)}`, 'UNSUPPORTED_ISSUER');

    let keys = await this.keys.get(settings.issuerUrl, settings);
    let claims: JWTPayload;
    try {
      claims = await this.check(token, settings, keys);
    } catch (err) {
      if (!(err instanceof joseErrors.JWKSNoMatchingKey)) throw this.translate(err);
      // The issuer may have rotated its keys since we cached them: look once more (rate-limited).
      const fresh = await this.keys.refresh(settings.issuerUrl, settings);
      if (!fresh) throw this.translate(err);
      keys = fresh;
      try {
        claims = await this.check(token, settings, keys);
      } catch (err2) {
        throw this.translate(err2);
      }
    }
    return { issuer: iss, settings, claims: claims as VerifiedToken['claims'] };
  }

  private async check(token: string, settings: IssuerSettings, keys: IssuerKeys): Promise<JWTPayload> {
    const now = this.clock();
    const options = {
      algorithms: keys.algorithms,
      issuer: settings.issuerUrl,
      audience: settings.clientId,
      // jose applies one tolerance to both nbf and exp; exp gets its own, stricter check below.
      clockTolerance: this.nbfLeeway,
      currentDate: new Date(now),
    };
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keys.keys, options));
    } catch (err) {
      // A token without `kid` (or a JWKS repeating one) can match several keys, as during an issuer's key
      // rotation: try each, as go-oidc does, instead of refusing the token.
      if (!(err instanceof joseErrors.JWKSMultipleMatchingKeys)) throw err;
      payload = await firstVerifying(token, err, options);
    }
    if (typeof payload.exp !== 'number') throw invalid('missing exp claim');
    // go-oidc reads exp as an int64: 1e300 overflows to the past there. Here a value no clock reaches is refused.
    if (!Number.isSafeInteger(Math.floor(payload.exp))) throw invalid('exp claim is out of range');
    if (payload.exp * 1000 < now - this.expLeeway * 1000) throw invalid('token has expired');
    const bad = illFormedString(payload);
    if (bad !== undefined) throw invalid(`claim ${bad.slice(0, 200)} is not valid Unicode (it holds a lone surrogate)`);
    return payload;
  }

  private translate(err: unknown): Error {
    if (err instanceof SigstackError) return err;
    if (err instanceof joseErrors.JWTExpired) return invalid('token has expired');
    if (err instanceof joseErrors.JWTClaimValidationFailed) return invalid(`${err.claim} claim check failed (${err.reason})`);
    if (err instanceof joseErrors.JOSEAlgNotAllowed) return invalid('signature algorithm not allowed');
    if (err instanceof joseErrors.JWSSignatureVerificationFailed) return invalid('signature verification failed');
    if (err instanceof joseErrors.JWKSNoMatchingKey) return invalid('no key of the issuer matches the token');
    if (err instanceof joseErrors.JWKSMultipleMatchingKeys) return invalid('several keys of the issuer match the token');
    if (err instanceof joseErrors.JOSEError) return invalid(err.message);
    // Anything else from jose (e.g. a JWK it cannot import) is still a token we cannot accept.
    return invalid(err instanceof Error ? err.message : 'unverifiable token');
  }
}

/**
 * The path of the first claim name or string value holding a lone surrogate (JSON's `\\ud800` escape decodes to
 * one), else undefined. Such a string has no UTF-8 encoding: asn1js throws on it when it becomes a certificate
 * extension (a 500), and Buffer.from silently writes U+FFFD instead (a certificate saying what the token did
 * not). The token is refused whole, whichever claim it is. Iterative, so a deeply nested claim cannot overflow
 * the stack.
 */
export function illFormedString(value: unknown): string | undefined {
  const pending: [unknown, string][] = [[value, '']];
  while (pending.length > 0) {
    const [v, path] = pending.pop()!;
    if (typeof v === 'string') {
      if (hasLoneSurrogate(v)) return path;
    } else if (Array.isArray(v)) {
      v.forEach((item, i) => pending.push([item, `${path}[${i}]`]));
    } else if (typeof v === 'object' && v !== null) {
      for (const [k, item] of Object.entries(v)) {
        const at = path ? `${path}.${k}` : k;
        if (hasLoneSurrogate(k)) return JSON.stringify(at);
        pending.push([item, at]);
      }
    }
  }
  return undefined;
}
