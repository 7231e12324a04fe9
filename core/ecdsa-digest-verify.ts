import { createECDH, type ECDH } from 'node:crypto';
import type { p256 } from '@noble/curves/nist';

/**
 * ECDSA verification over a bare digest with node:crypto doing the two scalar multiplications.
 * node:crypto's verify always hashes its input, so it cannot check a hashedrekord signature directly; but
 * its ECDH exposes native fixed-base (public key of a scalar) and variable-base (shared secret = x of a
 * scalar times a point) multiplications. With e the digest, w = s^-1, u1 = e·w, u2 = r·w (mod n), the
 * signature is valid iff x(u1·G + u2·Q) ≡ r (mod n), and u1·G + u2·Q = u2·(t·G + Q) with t = u1/u2 = e/r:
 *   one native t·G, one affine point addition, one native u2·(T), x read from the ECDH secret.
 * Scalars: r^-1 and s^-1 come from ONE inversion of r·s (t = e·s·(rs)^-1, u2 = r²·(rs)^-1), and the addition
 * is done in affine coordinates with one field inversion: each BigInt inversion costs about as much as the
 * native fixed-base multiplication, so the count of inversions is what the JavaScript part costs.
 * Public data only, so constant time does not matter. noble parses the DER signature (strictly) and the key.
 * In core/ because two layers need it: the log (hashedrekord gives it only the digest) and the offline verifier
 * (`sigstack verify` streams the file through SHA-256 and checks the signature over that digest); client/verify
 * may not import log/kinds.
 */
type Curve = typeof p256;

/**
 * One ECDH object per curve, re-keyed for every multiplication: constructing one costs as much as a tenth of a
 * verification. Safe to share: a verification runs synchronously from setPrivateKey to the read of its result.
 */
const ecdhByCurve = new Map<string, ECDH>();
function ecdhFor(curve: string): ECDH {
  let e = ecdhByCurve.get(curve);
  if (!e) ecdhByCurve.set(curve, (e = createECDH(curve)));
  return e;
}

function mod(a: bigint, n: bigint): bigint {
  const r = a % n;
  return r < 0n ? r + n : r;
}

/** Modular inverse by extended Euclid (plain variables: no array per step); n is prime and a != 0 mod n. */
function invert(a: bigint, n: bigint): bigint {
  let r0 = mod(a, n), r1 = n, s0 = 1n, s1 = 0n;
  while (r1 !== 0n) {
    const q = r0 / r1;
    const r2 = r0 - q * r1;
    r0 = r1; r1 = r2;
    const s2 = s0 - q * s1;
    s0 = s1; s1 = s2;
  }
  return mod(s0, n);
}

function toBytes(k: bigint, length: number): Buffer {
  return Buffer.from(k.toString(16).padStart(length * 2, '0'), 'hex');
}

function toBigInt(b: Uint8Array): bigint {
  return b.length === 0 ? 0n : BigInt(`0x${Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')}`);
}

/** Uncompressed SEC1 encoding of the affine point (x, y). */
function encodePoint(x: bigint, y: bigint, fieldBytes: number): Buffer {
  return Buffer.concat([Buffer.of(4), toBytes(x, fieldBytes), toBytes(y, fieldBytes)]);
}

/**
 * true iff `der` is a valid ECDSA signature by the uncompressed point `publicKey` over `digest` on `curve`
 * (OpenSSL name `opensslCurve`). High-S accepted (as Go and OpenSSL); r, s outside [1, n-1] refused.
 * The digest is at most the order's size for every pair this log allows, so it is used whole (no truncation).
 */
export function verifyEcdsaDigest(curve: Curve, opensslCurve: string, publicKey: Uint8Array, digest: Uint8Array, der: Uint8Array): boolean {
  const { n, p, a } = curve.Point.CURVE();
  const scalarBytes = curve.lengths.secretKey ?? Math.ceil(n.toString(2).length / 8);
  const fieldBytes = Math.ceil(p.toString(2).length / 8);
  let r: bigint, s: bigint, qx: bigint, qy: bigint;
  try {
    ({ r, s } = curve.Signature.fromDER(der));
    const Q = curve.Point.fromHex(publicKey); // on the curve, not infinity (prime order: nothing else to check)
    Q.assertValidity();
    ({ x: qx, y: qy } = Q.toAffine());
  } catch {
    return false;
  }
  if (r <= 0n || r >= n || s <= 0n || s >= n) return false;
  if (digest.length * 8 > n.toString(2).length) return false; // never with the allowed pairs; refuse rather than truncate
  const e = mod(toBigInt(digest), n);
  const rsInv = invert(r * s, n); // r, s in [1, n-1] and n prime: r·s != 0 mod n
  const t = mod(e * s * rsInv, n); // u1/u2 = (e/s)/(r/s) = e/r
  const u2 = mod(r * r * rsInv, n); // r/s, != 0
  try {
    let T: Buffer;
    if (t === 0n) T = encodePoint(qx, qy, fieldBytes);
    else {
      const ecdh = ecdhFor(opensslCurve);
      ecdh.setPrivateKey(toBytes(t, scalarBytes));
      const tG = ecdh.getPublicKey();
      const x1 = toBigInt(tG.subarray(1, 1 + fieldBytes));
      const y1 = toBigInt(tG.subarray(1 + fieldBytes));
      let lambda: bigint;
      if (x1 === qx) {
        if (y1 !== qy || y1 === 0n) return false; // t·G = -Q: the sum is the point at infinity
        lambda = mod((3n * x1 * x1 + a) * invert(2n * y1, p), p); // t·G = Q: doubling
      } else {
        lambda = mod((qy - y1) * invert(qx - x1, p), p);
      }
      const x3 = mod(lambda * lambda - x1 - qx, p);
      const y3 = mod(lambda * (x1 - x3) - y1, p);
      T = encodePoint(x3, y3, fieldBytes);
    }
    const ecdh = ecdhFor(opensslCurve);
    ecdh.setPrivateKey(toBytes(u2, scalarBytes));
    // u2 != 0 and the group has prime order, so u2·T is not the point at infinity; the secret is its x.
    // OpenSSL checks that T is on the curve before multiplying.
    const x = toBigInt(ecdh.computeSecret(T));
    return mod(x, n) === r;
  } catch {
    return false;
  }
}
