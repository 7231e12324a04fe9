import { renderFulcioExtensions } from '../extensions.ts';
import type { VerifiedToken } from '../token.ts';
import { identityError, isEmail, requireAscii, stringClaim } from './claims.ts';
import type { Principal } from './index.ts';

/**
 * Email issuers (Google, Dex, Keycloak...): the certificate names the verified email address. Mirrors
 * Fulcio's pkg/identity/email and oauthflow.EmailFromIDToken.
 */

/**
 * `email_verified` as Fulcio reads it (fulcio#1744): JSON true/false, or the strings "true"/"True"/"false"/"False"
 * that some IdPs send. Absent means false; anything else is an error rather than a guess.
 */
export function parseEmailVerified(value: unknown): boolean {
  if (value === undefined) return false;
  if (value === true || value === 'true' || value === 'True') return true;
  if (value === false || value === 'false' || value === 'False') return false;
  throw identityError('invalid value for email_verified');
}

/** Follows a `$.a.b` path (validated when the config was parsed) through the claims; must end on a string. */
function claimAtPath(claims: Record<string, unknown>, path: string): string {
  let node: unknown = claims;
  for (const member of path.slice(2).split('.')) {
    if (typeof node !== 'object' || node === null || Array.isArray(node) || !Object.hasOwn(node, member)) {
      throw identityError(`issuer claim ${path} not found in ID token`);
    }
    node = (node as Record<string, unknown>)[member];
  }
  if (typeof node !== 'string' || node === '') throw identityError(`issuer claim ${path} must be a non-empty string`);
  return node;
}

export function emailPrincipal(token: VerifiedToken): Principal {
  const email = stringClaim(token, 'email', true);
  const verified = parseEmailVerified(token.claims.email_verified);
  if (!token.settings.skipEmailVerification && !verified) throw identityError('email_verified claim was false');
  if (!isEmail(email)) throw identityError('email address is not valid');
  requireAscii(email, 'email address');
  // A federating issuer (Dex) names the upstream IdP in a claim; that is the issuer worth certifying.
  const issuer = token.settings.issuerClaim ? claimAtPath(token.claims, token.settings.issuerClaim) : token.issuer;
  return {
    name: email,
    san: { type: 'email', value: email },
    extensions: renderFulcioExtensions({ issuer, tokenSubject: stringClaim(token, 'sub') }),
  };
}
