import { renderFulcioExtensions } from '../extensions.ts';
import type { VerifiedToken } from '../token.ts';
import { identityError, isEmail, requireAscii, stringClaim } from './claims.ts';
import type { Principal } from './index.ts';

/**
 * URI issuers: `sub` is a URI that must sit under the configured SubjectDomain (same scheme, same host),
 * so an issuer can only certify names in a domain it was shown to control. Mirrors pkg/identity/uri.
 */
/** The characters RFC 3986 allows in a URI (unreserved, reserved, percent). */
const RFC3986 = /^[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=%]+$/;

export function uriPrincipal(token: VerifiedToken): Principal {
  const subject = stringClaim(token, 'sub', true);
  if (isEmail(subject)) throw identityError('uri subject should not be an email address');
  requireAscii(subject, 'uri subject');
  // Read as Go's url.Parse (upstream's) reads it, not as WHATWG: a backslash, userinfo, no `//` authority or a
  // host written in another form would name one host here and another in other parsers (Python's urlsplit
  // reads `http://a\\@b/` as host b), so the certificate must spell the host exactly as SubjectDomain does.
  if (!RFC3986.test(subject)) throw identityError('uri subject holds characters a URI may not (RFC 3986)');
  const authority = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)/.exec(subject)?.[1];
  if (authority === undefined) throw identityError('uri subject has no //host authority');
  if (authority.includes('@') || authority.includes('%')) throw identityError('uri subject authority must be a plain host (no user info, no percent-encoding)');
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
  const writtenHost = authority.replace(/:\d*$/, '').toLowerCase();
  if (writtenHost !== domain.hostname) throw identityError(`subject host must be written as ${domain.hostname}, not ${writtenHost.slice(0, 100)}`);
  return {
    name: subject,
    san: { type: 'uri', value: subject },
    extensions: renderFulcioExtensions({ issuer: token.issuer, tokenSubject: subject }),
  };
}
