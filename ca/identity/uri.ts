import { renderFulcioExtensions } from '../extensions.ts';
import type { VerifiedToken } from '../token.ts';
import { identityError, isEmail, requireAscii, stringClaim } from './claims.ts';
import type { Principal } from './index.ts';

/**
 * URI issuers: `sub` is a URI that must sit under the configured SubjectDomain (same scheme, same host),
 * so an issuer can only certify names in a domain it was shown to control. Mirrors pkg/identity/uri.
 */
export function uriPrincipal(token: VerifiedToken): Principal {
  const subject = stringClaim(token, 'sub', true);
  if (isEmail(subject)) throw identityError('uri subject should not be an email address');
  requireAscii(subject, 'uri subject');
  let subjectUrl: URL;
  try {
    subjectUrl = new URL(subject);
  } catch {
    throw identityError('uri subject is not a valid URI');
  }
  const domain = new URL(token.settings.subjectDomain!); // validated when the configuration was parsed
  if (subjectUrl.protocol !== domain.protocol) {
    throw identityError(`subject URI scheme (${subjectUrl.protocol}) must match expected domain URI scheme (${domain.protocol})`);
  }
  if (subjectUrl.hostname !== domain.hostname) {
    throw identityError(`subject hostname (${subjectUrl.hostname}) must match expected domain (${domain.hostname})`);
  }
  return {
    name: subject,
    san: { type: 'uri', value: subject },
    extensions: renderFulcioExtensions({ issuer: token.issuer, tokenSubject: subject }),
  };
}
