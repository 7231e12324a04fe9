import { createHash, constants, publicDecrypt, timingSafeEqual, type KeyObject } from 'node:crypto';
import { AsnConvert, AsnProp, OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import { p256, p384, p521 } from '@noble/curves/nist';
import { ed25519 } from '@noble/curves/ed25519';
import { eddsa } from '@noble/curves/abstract/edwards';
import { BadRequestError } from '../../core/errors.ts';
import { verifyEcdsaDigest } from '../../core/ecdsa-digest-verify.ts';
import type { PublicKeyForm } from '../../core/public-key.ts';

/**
 * Verifies a signature given only the message DIGEST (hashedrekord never sees the artifact).
 * node:crypto always hashes its input (`crypto.verify(null, digest, ecKey, sig)` hashes the digest again and
 * fails, see test/rekor/hashedrekord.test.ts), so:
 *  - ECDSA: node:crypto ECDH does the scalar multiplications, @noble/curves the parsing and one addition;
 *  - RSA PKCS#1 v1.5 recovers the DigestInfo with an RSA public operation (node:crypto) and compares it
 *    byte for byte with the one expected for this digest;
 *  - Ed25519 is Ed25519ph (RFC 8032 §5.1) over the SHA-512 digest, as Rekor's hashedrekord verifier.
 * The key/hash pairs allowed are Rekor's default `--client-signing-algorithms`: ECDSA P-256/SHA-256,
 * P-384/SHA-384, P-521/SHA-512, RSA 2048/3072/4096 PKCS#1 v1.5 with SHA-256, Ed25519(ph) with SHA-512.
 * RSA-PSS is not in that list (Rekor v1 verifies RSA as PKCS#1 v1.5 only), so it is refused.
 */

export type DigestAlgorithm = 'sha256' | 'sha384' | 'sha512';

export const DIGEST_SIZE: Record<DigestAlgorithm, number> = { sha256: 32, sha384: 48, sha512: 64 };

const DIGEST_OID: Record<DigestAlgorithm, string> = {
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
};

/** By JWK curve name: exporting the key as a JWK (needed for its point anyway) names its curve for free. */
const EC_CURVES = {
  'P-256': { curve: p256, openssl: 'prime256v1', hash: 'sha256' },
  'P-384': { curve: p384, openssl: 'secp384r1', hash: 'sha384' },
  'P-521': { curve: p521, openssl: 'secp521r1', hash: 'sha512' },
} as const;

const RSA_BITS = [2048, 3072, 4096];

/** RFC 8017 §9.2 DigestInfo, built with asn1-schema rather than a hand-written prefix table. */
class DigestInfo {
  @AsnProp({ type: AlgorithmIdentifier }) digestAlgorithm = new AlgorithmIdentifier();
  @AsnProp({ type: OctetString }) digest = new OctetString();
}

function expectedDigestInfo(alg: DigestAlgorithm, digest: Buffer): Buffer {
  const info = new DigestInfo();
  // Explicit NULL parameters: the encoding Go's rsa.VerifyPKCS1v15 and OpenSSL produce and require.
  info.digestAlgorithm = new AlgorithmIdentifier({ algorithm: DIGEST_OID[alg], parameters: null });
  info.digest = new OctetString(digest);
  return Buffer.from(AsnConvert.serialize(info));
}

/** Ed25519ph whose "prehash" is the identity: the caller already holds SHA-512(message). */
const ed25519phOverDigest = eddsa(ed25519.Point, (m: Uint8Array | string) => new Uint8Array(createHash('sha512').update(m).digest()), {
  // dom2(phflag = 1, empty context), RFC 8032 §5.1
  domain: (data: Uint8Array, ctx: Uint8Array, phflag: boolean) =>
    Buffer.concat([Buffer.from('SigEd25519 no Ed25519 collisions'), Buffer.from([phflag ? 1 : 0, ctx.length]), ctx, data]),
  prehash: (digest: Uint8Array | string) => {
    // noble has already turned the message into bytes (ensureBytes) before it calls prehash
    if (typeof digest === 'string') throw new TypeError('digest must be bytes');
    return digest;
  },
});

function refuse(what: string, alg: DigestAlgorithm): never {
  throw new BadRequestError(`entry algorithm ${what}/${alg} is not allowed`, 'ALGORITHM_NOT_ALLOWED');
}

/**
 * true when `signature` is a valid signature by `key` over the message whose `alg` digest is `digest`.
 * Throws BadRequestError when the key type or key/hash pair is not allowed; never throws on bad signatures.
 */
export function verifyPrehashed(key: KeyObject, alg: DigestAlgorithm, digest: Buffer, signature: Buffer, form?: PublicKeyForm): boolean {
  const type = key.asymmetricKeyType;
  if (form?.type === 'ec') {
    // The curve and point as read from the key's bytes (core/public-key.ts): the same answer as the JWK below.
    const ec = EC_CURVES[form.curve];
    if (ec.hash !== alg) refuse(`ecdsa public key: ${form.curve}`, alg);
    return verifyEcdsaDigest(ec.curve, ec.openssl, form.point, digest, signature);
  }
  if (type === 'ec') {
    // The JWK export gives the curve and the point in one call; reading asymmetricKeyDetails as well costs
    // another ~25 µs per fresh key (OpenSSL 3 parameter queries). Curves JWK cannot name throw here.
    let jwk: JsonWebKey | undefined;
    try {
      jwk = key.export({ format: 'jwk' });
    } catch {
      jwk = undefined;
    }
    const ec = jwk?.crv !== undefined && Object.hasOwn(EC_CURVES, jwk.crv) ? EC_CURVES[jwk.crv as keyof typeof EC_CURVES] : undefined;
    if (!ec || !jwk?.x || !jwk.y) refuse(`ecdsa public key on curve ${key.asymmetricKeyDetails?.namedCurve ?? 'unknown'}`, alg);
    if (ec.hash !== alg) refuse(`ecdsa public key: ${jwk.crv}`, alg);
    const point = Buffer.concat([Buffer.of(4), Buffer.from(jwk.x, 'base64url'), Buffer.from(jwk.y, 'base64url')]);
    // High-S accepted: Go's ecdsa.VerifyASN1 (Rekor) and OpenSSL signers produce and accept it. noble's DER
    // parser is strict and r or s outside [1, n-1] is refused (CVE-2022-21449). The scalar multiplications
    // run in node:crypto (see core/ecdsa-digest-verify.ts): ten times faster than noble's verify.
    return verifyEcdsaDigest(ec.curve, ec.openssl, point, digest, signature);
  }
  if (type === 'rsa') {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (!RSA_BITS.includes(bits) || alg !== 'sha256') refuse(`rsa public key: ${bits} bits`, alg);
    // A PKCS#1 v1.5 signature is exactly modulus-sized; shorter inputs would be left-padded by OpenSSL.
    if (signature.length !== bits / 8) return false;
    let recovered: Buffer;
    try {
      recovered = publicDecrypt({ key, padding: constants.RSA_PKCS1_PADDING }, signature);
    } catch {
      return false;
    }
    const expected = expectedDigestInfo(alg, digest);
    return recovered.length === expected.length && timingSafeEqual(recovered, expected);
  }
  if (type === 'ed25519') {
    if (alg !== 'sha512') refuse('ed25519 public key', alg);
    if (signature.length !== 64) return false;
    const raw = Buffer.from(key.export({ format: 'jwk' }).x!, 'base64url');
    try {
      // zip215 off: RFC 8032 strict rules, as Go's crypto/ed25519.
      return ed25519phOverDigest.verify(signature, digest, raw, { zip215: false });
    } catch {
      return false;
    }
  }
  refuse(`public key of type ${type ?? 'unknown'}`, alg);
}
