/**
 * The verifier's base64 reader (client/verify/strict-json.ts) decides by the round trip alone and asks the
 * alphabet pattern only to word its refusal. Checked against the definition it replaced (length a multiple of
 * four, standard alphabet with at most two '=' at the end, and a decoding that re-encodes to the same text) over
 * strings built from the characters that can fool Buffer.from: base64url's '-' and '_', whitespace, '=' in the
 * middle, NUL and non-ASCII.
 */
import test from 'ava';
import fc from 'fast-check';
import { base64, ShapeError } from '../../client/verify/strict-json.ts';

function acceptedByDefinition(s: string): boolean {
  return s.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(s) && Buffer.from(s, 'base64').toString('base64') === s && s.length > 0;
}

function outcome(s: string): string {
  try {
    return `ok ${base64(s, 'x').toString('hex')}`;
  } catch (e) {
    if (!(e instanceof ShapeError)) throw e;
    return `refused ${e.message}`;
  }
}

const tricky = fc.constantFrom(...'ABCDEFabcdef0189+/=-_ \n\t\u0000é€'.split(''));
const candidates = fc.oneof(
  fc.array(tricky, { maxLength: 24 }).map((cs) => cs.join('')),
  // canonical text with one character changed, inserted or removed
  fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 18 }), fc.nat(), tricky, fc.constantFrom('replace', 'insert', 'delete'))
    .map(([bytes, at, c, op]) => {
      const s = Buffer.from(bytes).toString('base64');
      const i = at % (s.length + 1);
      if (op === 'insert') return s.slice(0, i) + c + s.slice(i);
      if (op === 'delete') return s.slice(0, i) + s.slice(i + 1);
      return s.slice(0, i) + c + s.slice(i + 1);
    }),
);

test('accepts exactly canonical standard base64, and decodes it', (t) => {
  fc.assert(fc.property(candidates, (s) => {
    const result = outcome(s);
    if (acceptedByDefinition(s)) t.is(result, `ok ${Buffer.from(s, 'base64').toString('hex')}`);
    else t.true(result.startsWith('refused '), `${JSON.stringify(s)} was accepted`);
  }), { numRuns: 2000 });
});

test('says whether the text is not base64 at all or a non-canonical spelling', (t) => {
  t.is(outcome('QUJD'), `ok ${Buffer.from('ABC').toString('hex')}`);
  t.is(outcome('QR=='), 'refused x: not canonical base64'); // the padding bits are not zero
  t.is(outcome('QUJ-'), 'refused x: not standard base64'); // base64url
  t.is(outcome('QU JD'), 'refused x: not standard base64');
  t.is(outcome('QUJ'), 'refused x: not standard base64'); // unpadded
  t.is(outcome('QQ==QUJD'), 'refused x: not standard base64'); // padding in the middle
  t.is(outcome(''), 'refused x: empty');
});
