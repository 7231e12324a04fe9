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

/**
 * What a terminal or a policy page would not show as written: controls (C0, DEL, C1), every format character (bidi
 * overrides, isolates and marks, zero-width space, BOM, tag characters, the interlinear annotation marks), line and
 * paragraph separators, and the other default-ignorable code points (soft hyphen, combining grapheme joiner, Hangul
 * fillers, variation selectors). ZWNJ and ZWJ (U+200C, U+200D) are letters' glue in several scripts and stay allowed.
 */
const UNPRINTABLE = /(?![\u200c\u200d])[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}]/u;

/**
 * A UTF8String identity (a username SAN) must read as written: no unpaired surrogate (encoded as U+FFFD, the
 * certificate would name someone else than the token) and nothing unprintable (UNPRINTABLE).
 */
export function requirePrintableUnicode(value: string, what: string): string {
  if (/\p{Cs}/u.test(value)) throw identityError(`${what} is not well-formed Unicode (an unpaired surrogate)`);
  const bad = UNPRINTABLE.exec(value);
  if (bad) throw identityError(`${what} contains the unprintable character U+${bad[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`);
  return value;
}

/** The WHATWG HTML "valid e-mail address" grammar, close to govalidator.IsEmail for real addresses. */
const EMAIL = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

export function isEmail(value: string): boolean {
  return value.length <= 254 && EMAIL.test(value);
}
