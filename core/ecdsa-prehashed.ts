import { createECDH, type KeyObject } from 'node:crypto';
import { p256 } from '@noble/curves/p256';
import { p384 } from '@noble/curves/p384';
import { p521 } from '@noble/curves/p521';

/**
 * ECDSA verification over a digest the caller already has (Rekor's hashedrekord gives only the digest).
 * node:crypto cannot do it (it always hashes the input), and @noble/curves alone is ~13x slower on this path,
 * so the two scalar multiplications are done natively through node:crypto's ECDH and only cheap steps
 * (one point addition, two modular inverses) run in JavaScript:
 *
 *   X = u1*G + u2*Q = u2*(t*G + Q)  with  t = u1/u2 (mod n)
 *
 * t*G is a native fixed-base multiplication (ECDH public key of t), u2*(...) is a native variable-base one
 * (ECDH shared secret = x of the product), and x(X) is exactly what ECDSA compares with r. Exactness is the
 * point: no y-sign ambiguity, so a signature under -Q never passes for Q (see the property tests).
 */
const CURVES = {
  'prime256v1': { noble: p256, bits: 256 },
  'secp384r1': { noble: p384, bits: 384 },
  'secp521r1': { noble: p521, bits: 521 },
} as const;
export type NistCurve = keyof typeof CURVES;

function toBigInt(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt(`0x${Buffer.from(bytes).toString('hex')}`);
}

function toBytes(k: bigint, len: number): Buffer {
  return Buffer.from(k.toString(16).padStart(len * 2, '0'), 'hex');
}

/** Modular inverse by the extended Euclidean algorithm (a != 0 mod m, m prime). */
function invert(a: bigint, m: bigint): bigint {
  let [r0, r1] = [((a % m) + m) % m, m];
  let [s0, s1] = [1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  return ((s0 % m) + m) % m;
}

/**
 * Verifies a DER ECDSA signature over `digest` with an uncompressed/compressed public point of `curve`.
 * Returns false for any malformed input (never throws on attacker data).
 */
export function verifyPrehashedEcdsa(curve: NistCurve, publicPoint: Uint8Array, digest: Uint8Array, derSignature: Uint8Array): boolean {
  const { noble, bits } = CURVES[curve];
  const n = noble.CURVE.n;
  const scalarLen = Math.ceil(bits / 8);
  let r: bigint;
  let s: bigint;
  let Q: InstanceType<typeof noble.ProjectivePoint>;
  try {
    ({ r, s } = noble.Signature.fromDER(derSignature));
    Q = noble.ProjectivePoint.fromHex(publicPoint);
    Q.assertValidity();
  } catch {
    return false;
  }
  if (r <= 0n || r >= n || s <= 0n || s >= n) return false; // CVE-2022-21449: r = s = 0 never verifies
  // FIPS 186-4: a digest longer than the group order keeps only its leftmost bits
  let e = toBigInt(digest);
  const excess = digest.length * 8 - bits;
  if (excess > 0) e >>= BigInt(excess);
  const w = invert(s, n);
  const u1 = (e * w) % n;
  const u2 = (r * w) % n; // never 0: r and w are non-zero mod the prime n
  const t = (u1 * invert(u2, n)) % n;
  let T = Q;
  if (t !== 0n) {
    const fixed = createECDH(curve);
    fixed.setPrivateKey(toBytes(t, scalarLen));
    T = noble.ProjectivePoint.fromHex(fixed.getPublicKey()).add(Q);
  }
  if (T.equals(noble.ProjectivePoint.ZERO)) return false; // X is the point at infinity
  const variable = createECDH(curve);
  variable.setPrivateKey(toBytes(u2, scalarLen));
  const x = toBigInt(variable.computeSecret(Buffer.from(T.toRawBytes(false))));
  return x % n === r;
}

/** The curve name and raw public point of an EC KeyObject, or undefined for other key types. */
export function ecPublicPoint(key: KeyObject): { curve: NistCurve; point: Buffer } | undefined {
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (key.asymmetricKeyType !== 'ec' || !curve || !(curve in CURVES)) return undefined;
  const jwk = key.export({ format: 'jwk' });
  return { curve: curve as NistCurve, point: Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]) };
}
