/**
 * client/verify remembers small extension values it has read by their exact bytes (cache.ts memoizeByBytes):
 * a remembered read must give what a fresh read gives for every input, refusals included, and what it hands
 * out must not be changeable by one caller for the next.
 */
import test from 'ava';
import fc from 'fast-check';
import { memoizeByBytes } from '../../client/verify/cache.ts';
import { parseCertificate, extendedKeyUsage, basicConstraints } from '../../client/verify/x509.ts';
import { generateSigner } from '../../core/signer.ts';
import { TestPki } from './pki-fixture.ts';

/** A reader that refuses some inputs, like an extension reader refusing a malformed value. */
function sumOrRefuse(value: Buffer): { sum: number } {
  if (value.length > 0 && value[0] === 0xff) throw new Error('refused');
  return { sum: value.reduce((a, b) => a + b, 0) };
}

test('a remembered read gives what a fresh read gives, refusals included, for any sequence of inputs', (t) => {
  // fc.assert throws, naming the counterexample, when one sequence of inputs makes the two reads disagree
  t.notThrows(() => fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 160 }), { minLength: 1, maxLength: 40 }), (inputs) => {
    const memo = memoizeByBytes(sumOrRefuse, 4, 128);
    for (const bytes of [...inputs, ...inputs]) {
      const value = Buffer.from(bytes);
      let fresh: unknown;
      let remembered: unknown;
      try { fresh = sumOrRefuse(value); } catch (e) { fresh = (e as Error).message; }
      try { remembered = memo(value); } catch (e) { remembered = (e as Error).message; }
      if (JSON.stringify(fresh) !== JSON.stringify(remembered)) return false;
    }
    return true;
  })));
});

test('a refusal is not remembered: the same bytes are read again', (t) => {
  let reads = 0;
  const memo = memoizeByBytes((v: Buffer) => { reads++; if (v[0] === 1) throw new Error('bad'); return [v[0]]; });
  t.throws(() => memo(Buffer.from([1])));
  t.throws(() => memo(Buffer.from([1])));
  t.is(reads, 2);
  t.deepEqual(memo(Buffer.from([2])), [2]);
  t.deepEqual(memo(Buffer.from([2])), [2]);
  t.is(reads, 3);
});

test('what a certificate read hands out is frozen: one caller cannot change what the next certificate gets', (t) => {
  const pki = new TestPki();
  const first = parseCertificate(pki.leaf(generateSigner()));
  const second = parseCertificate(pki.leaf(generateSigner()));
  const eku = extendedKeyUsage(first);
  t.throws(() => (eku as string[]).push('2.5.29.37.0'));
  t.deepEqual(extendedKeyUsage(second), eku);
  t.true(Object.isFrozen(basicConstraints(parseCertificate(pki.rootDer))));
});
