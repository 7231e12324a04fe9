import { BadRequestError } from '../../core/errors.ts';
import type { VerifiedToken } from '../token.ts';

/** Claim readers and checks shared by the principal rules. */

/** The identity a token carries is unusable: same status as a bad token, since the client can only get a better one. */
export function identityError(message: string): BadRequestError {
  return new BadRequestError(`invalid identity token: ${message}`, 'INVALID_IDENTITY');
}

/** A string claim; Fulcio decodes claims into Go strings, so any other JSON type is an error. */
export function stringClaim(token: VerifiedToken, name: string, required: true): string;
export function stringClaim(token: VerifiedToken, name: string, required?: false): string | undefined;
export function stringClaim(token: VerifiedToken, name: string, required = false): string | undefined {
  const v = token.claims[name];
  if (v === undefined || v === '') {
    if (required) throw identityError(`missing ${name} claim in ID token`);
    return undefined;
  }
  if (typeof v !== 'string') throw identityError(`${name} claim must be a string`);
  return v;
}

/** SAN values are IA5String (ASCII); Go's x509 refuses others when it builds the certificate. */
export function requireAscii(value: string, what: string): string {
  if (!/^[\x20-\x7e]*$/.test(value)) throw identityError(`${what} must be printable ASCII`);
  return value;
}

/** The WHATWG HTML "valid e-mail address" grammar, close to govalidator.IsEmail for real addresses. */
const EMAIL = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

export function isEmail(value: string): boolean {
  return value.length <= 254 && EMAIL.test(value);
}
