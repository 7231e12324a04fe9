import { renderFulcioExtensions } from '../extensions.ts';
import type { VerifiedToken } from '../token.ts';
import { identityError, requireAscii, stringClaim } from './claims.ts';
import { goJoinPath } from './go-join-path.ts';
import type { Principal } from './index.ts';

/**
 * Chainguard identities (`https://issuer.enforce.dev`): SAN = the issuer URL joined with `sub`, issuer and subject
 * extensions. Mirrors Fulcio's pkg/identity/chainguard (which also decodes `act` as a map of strings).
 */
export function chainguardIdentityPrincipal(token: VerifiedToken): Principal {
  const subject = stringClaim(token, 'sub', true);
  const act = token.claims.act;
  if (act !== undefined && act !== null && (typeof act !== 'object' || Array.isArray(act) || !Object.values(act).every((v) => typeof v === 'string'))) {
    throw identityError('act claim must be an object of strings');
  }
  const base = new URL(token.issuer);
  return {
    name: subject,
    san: { type: 'uri', value: requireAscii(goJoinPath(base.origin, base.pathname, subject), 'identity URI') },
    extensions: renderFulcioExtensions({ issuer: token.issuer, tokenSubject: subject }),
  };
}
