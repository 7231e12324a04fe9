import { renderFulcioExtensions } from '../extensions.ts';
import type { VerifiedToken } from '../token.ts';
import { identityError, isEmail, requirePrintableUnicode, stringClaim } from './claims.ts';
import type { Principal } from './index.ts';

/**
 * Username issuers: `sub` is a bare user name, certified as the OtherName SAN `sub!SubjectDomain`
 * (1.3.6.1.4.1.57264.1.7) so that it cannot be mistaken for a mailbox. Mirrors pkg/identity/username.
 */
export function usernamePrincipal(token: VerifiedToken): Principal {
  const username = requirePrintableUnicode(stringClaim(token, 'sub', true), 'username');
  if (username.includes('!')) throw identityError('username cannot contain ! character');
  if (isEmail(username)) throw identityError('username subject should not be an email address');
  return {
    name: username,
    san: { type: 'otherName', value: `${username}!${token.settings.subjectDomain}` },
    extensions: renderFulcioExtensions({ issuer: token.issuer, tokenSubject: username }),
  };
}
