/**
 * A UTF-16 surrogate that is not half of a pair (what JSON's `\ud800` escape decodes to): such a string has no
 * UTF-8 form. With `u`, a pair is one code point, which this class does not match.
 */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

export function hasLoneSurrogate(s: string): boolean {
  return LONE_SURROGATE.test(s);
}
