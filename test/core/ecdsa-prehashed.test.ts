import test from 'ava';
import fc from 'fast-check';
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { p256 } from '@noble/curves/p256';
import { p384 } from '@noble/curves/p384';
import { p521 } from '@noble/curves/p521';
import { ecPublicPoint, verifyPrehashedEcdsa, type NistCurve } from '../../core/ecdsa-prehashed.ts';

const SETUPS = [
  { curve: 'prime256v1', hash: 'sha256', noble: p256 },
  { curve: 'secp384r1', hash: 'sha384', noble: p384 },
  { curve: 'secp521r1', hash: 'sha512', noble: p521 },
] as const;

for (const { curve, hash, noble } of SETUPS) {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: curve });
  const { point } = ecPublicPoint(publicKey)!;
  const negated = Buffer.from(noble.ProjectivePoint.fromHex(point).negate().toRawBytes(false));

  test(`${curve}: agrees with node:crypto signing and @noble/curves verification (property)`, (t) => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), fc.nat(512), (data, flip) => {
      const digest = createHash(hash).update(data).digest();
      const sig = sign(hash, data, privateKey);
      t.true(verifyPrehashedEcdsa(curve as NistCurve, point, digest, sig));
      // a signature under the negated key -Q must not pass for Q (no y-sign ambiguity)
      t.false(verifyPrehashedEcdsa(curve as NistCurve, negated, digest, sig));
      const bad = Buffer.from(digest);
      bad[flip % bad.length]! ^= 1 << (flip % 8);
      const expected = noble.verify(sig, bad, point, { prehash: false, lowS: false });
      t.is(verifyPrehashedEcdsa(curve as NistCurve, point, bad, sig), expected);
      t.false(expected);
    }), { numRuns: 40 });
  });

  test(`${curve}: high-S signatures verify (as Go and OpenSSL accept them); r = s = 0 and garbage do not`, (t) => {
    const data = Buffer.from('high s');
    const digest = createHash(hash).update(data).digest();
    const sig = noble.Signature.fromDER(sign(hash, data, privateKey));
    const flipped = new noble.Signature(sig.r, noble.CURVE.n - sig.s);
    t.true(verifyPrehashedEcdsa(curve as NistCurve, point, digest, flipped.toDERRawBytes()));
    t.false(verifyPrehashedEcdsa(curve as NistCurve, point, digest, Buffer.from('3006020100020100', 'hex')));
    t.false(verifyPrehashedEcdsa(curve as NistCurve, point, digest, Buffer.from('not a signature')));
    t.false(verifyPrehashedEcdsa(curve as NistCurve, Buffer.from([4, 1, 2, 3]), digest, sig.toDERRawBytes()));
  });
}
