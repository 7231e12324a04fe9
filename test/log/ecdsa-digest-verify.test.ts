import test from 'ava';
import fc from 'fast-check';
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { p256, p384, p521 } from '@noble/curves/nist';
import { verifyEcdsaDigest } from '../../core/ecdsa-digest-verify.ts';

const CURVES = [
  { curve: p256, name: 'prime256v1', node: 'P-256', hash: 'sha256' },
  { curve: p384, name: 'secp384r1', node: 'P-384', hash: 'sha384' },
  { curve: p521, name: 'secp521r1', node: 'P-521', hash: 'sha512' },
] as const;

function keyPair(nodeCurve: string) {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: nodeCurve });
  const jwk = publicKey.export({ format: 'jwk' });
  return { privateKey, point: Buffer.concat([Buffer.of(4), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]) };
}

for (const c of CURVES) {
  const { privateKey, point } = keyPair(c.node);
  const noble = (sig: Uint8Array, digest: Uint8Array, pub: Uint8Array) => {
    try {
      return c.curve.verify(sig, digest, pub, { prehash: false, lowS: false, format: 'der' });
    } catch {
      return false;
    }
  };

  test(`${c.node}: agrees with @noble/curves on valid, altered-digest, altered-signature and wrong-key checks`, (t) => {
    const other = keyPair(c.node).point;
    fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), fc.nat(), (message, flip) => {
      const digest = createHash(c.hash).update(message).digest();
      const sig = sign(c.hash, message, privateKey);
      t.true(verifyEcdsaDigest(c.curve, c.name, point, digest, sig));
      const badDigest = Buffer.from(digest);
      badDigest[flip % badDigest.length]! ^= 1 << (flip % 8);
      const badSig = Buffer.from(sig);
      badSig[sig.length - 1 - (flip % 8)]! ^= 1;
      for (const [pub, d, s] of [[point, badDigest, sig], [point, digest, badSig], [other, digest, sig]] as const) {
        t.is(verifyEcdsaDigest(c.curve, c.name, pub, d, s), noble(s, d, pub));
        t.false(verifyEcdsaDigest(c.curve, c.name, pub, d, s));
      }
    }), { numRuns: c.node === 'P-256' ? 20 : 5 });
  });

  test(`${c.node}: high-S accepted (as Go and OpenSSL), negated key and r = s = 0 (CVE-2022-21449) refused`, (t) => {
    const message = Buffer.from('high s');
    const digest = createHash(c.hash).update(message).digest();
    const parsed = c.curve.Signature.fromDER(sign(c.hash, message, privateKey));
    const flipped = new c.curve.Signature(parsed.r, c.curve.CURVE.n - parsed.s).toBytes('der');
    t.true(verifyEcdsaDigest(c.curve, c.name, point, digest, flipped));
    const negated = c.curve.Point.fromHex(point).negate().toBytes(false);
    t.false(verifyEcdsaDigest(c.curve, c.name, negated, digest, parsed.toBytes('der')));
    t.false(verifyEcdsaDigest(c.curve, c.name, point, digest, Buffer.from([0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00])));
    t.false(verifyEcdsaDigest(c.curve, c.name, point, digest, Buffer.alloc(0)));
    t.false(verifyEcdsaDigest(c.curve, c.name, Buffer.from([4, 1, 2, 3]), digest, parsed.toBytes('der')));
  });
}
