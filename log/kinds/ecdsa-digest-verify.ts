import { createECDH } from 'node:crypto';
import type { p256 } from '@noble/curves/nist';

/**
 * ECDSA verification over a bare digest with node:crypto doing the two scalar multiplications.
 * node:crypto's verify always hashes its input, so it cannot check a hashedrekord signature directly; but
 * its ECDH exposes native fixed-base (public key of a scalar) and variable-base (shared secret = x of a
 * scalar times a point) multiplications. With e the digest, w = s^-1, u1 = e·w, u2 = r·w (mod n), the
 * signature is valid iff x(u1·G + u2·Q) ≡ r (mod n), and u1·G + u2·Q = u2·(t·G + Q) with t = u1/u2:
 *   one native t·G, one point addition (noble, cheap), one native u2·(T), x read from the ECDH secret.
 * About ten times faster than noble's verify. Public data only, so constant time does not matter.
 * noble still parses the DER signature (strictly) and the key, and does the addition.
 */
type Curve = typeof p256;
type Point = InstanceType<Curve['Point']>;

function mod(a: bigint, n: bigint): bigint {
  const r = a % n;
  return r < 0n ? r + n : r;
}

/** Modular inverse by extended Euclid; n is prime and a != 0 mod n. */
function invert(a: bigint, n: bigint): bigint {
  let [r0, r1] = [mod(a, n), n];
  let [s0, s1] = [1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  return mod(s0, n);
}

function toBytes(k: bigint, length: number): Buffer {
  return Buffer.from(k.toString(16).padStart(length * 2, '0'), 'hex');
}

function toBigInt(b: Uint8Array): bigint {
  return b.length === 0 ? 0n : BigInt(`0x${Buffer.from(b).toString('hex')}`);
}

/**
 * true iff `der` is a valid ECDSA signature by the uncompressed point `publicKey` over `digest` on `curve`
 * (OpenSSL name `opensslCurve`). High-S accepted (as Go and OpenSSL); r, s outside [1, n-1] refused.
 * The digest is at most the order's size for every pair this log allows, so it is used whole (no truncation).
 */
export function verifyEcdsaDigest(curve: Curve, opensslCurve: string, publicKey: Uint8Array, digest: Uint8Array, der: Uint8Array): boolean {
  const n = curve.CURVE.n;
  const scalarBytes = curve.lengths.secretKey ?? Math.ceil(n.toString(2).length / 8);
  let r: bigint, s: bigint, Q: Point;
  try {
    ({ r, s } = curve.Signature.fromDER(der));
    Q = curve.Point.fromHex(publicKey);
    Q.assertValidity();
  } catch {
    return false;
  }
  if (r <= 0n || r >= n || s <= 0n || s >= n) return false;
  if (digest.length * 8 > n.toString(2).length) return false; // never with the allowed pairs; refuse rather than truncate
  const e = mod(toBigInt(digest), n);
  const w = invert(s, n);
  const u1 = mod(e * w, n);
  const u2 = mod(r * w, n); // != 0: r, w in [1, n-1] and n prime
  const t = mod(u1 * invert(u2, n), n);
  let T: Point;
  try {
    if (t === 0n) T = Q;
    else {
      const ecdh = createECDH(opensslCurve);
      ecdh.setPrivateKey(toBytes(t, scalarBytes));
      T = curve.Point.fromHex(ecdh.getPublicKey()).add(Q);
    }
    if (T.equals(curve.Point.ZERO)) return false;
    const ecdh = createECDH(opensslCurve);
    ecdh.setPrivateKey(toBytes(u2, scalarBytes));
    // u2 != 0 and the group has prime order, so u2·T is not the point at infinity; the secret is its x.
    const x = toBigInt(ecdh.computeSecret(Buffer.from(T.toBytes(false))));
    return mod(x, n) === r;
  } catch {
    return false;
  }
}
