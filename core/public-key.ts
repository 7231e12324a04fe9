import { createPublicKey, type KeyObject } from 'node:crypto';
import * as asn1js from 'asn1js';
import { AsnConvert } from '@peculiar/asn1-schema';
import { ECParameters, id_ecPublicKey, id_secp256r1, id_secp384r1, id_secp521r1 } from '@peculiar/asn1-ecc';
import { RSAPublicKey, id_rsaEncryption } from '@peculiar/asn1-rsa';
import { AlgorithmIdentifier, SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import { encode, rawDer } from './raw-der.ts';
import { pemToDerList } from './pem.ts';

/**
 * Public keys from outside (a request, a bundle, a log, a file) are held to one form before node:crypto ever
 * sees them: an EC key on a named curve with an uncompressed point, an RSA key of 2048-4096 bits with a small
 * odd exponent, or an Ed25519 key. Why before: OpenSSL imports a key whose point is the point at infinity,
 * and node 20 then ABORTS the process (a failed C++ assertion, not an exception) when asked for the key's
 * details or its JWK. One request could take the whole stack down, so no KeyObject is made, and no question
 * asked of one, before its bytes are known to be one of these forms. The forms are also what Go's
 * x509.ParsePKIXPublicKey (upstream's parser) reads: it refuses compressed and hybrid points and explicit
 * curve parameters, and RSA exponents above 2^31-1, which OpenSSL accepts for moduli up to 3072 bits at a
 * cost of ~17 ms per verification (a reviewer's 240-signature DSSE entry took seconds of CPU).
 */

export type EcCurve = 'P-256' | 'P-384' | 'P-521';

export type PublicKeyForm =
  | { type: 'ec'; curve: EcCurve; /** 0x04 || x || y, a view into the SPKI */ point: Buffer }
  | { type: 'rsa'; bits: number }
  | { type: 'ed25519' };

/** The key is not in a form this project reads; the message says what it is and what is accepted. */
export class UnsupportedKeyError extends Error {
  /** True when the bytes are not a public key at all (as opposed to a key of a kind or form not accepted). */
  constructor(message: string, readonly malformed = false) {
    super(message);
  }
}

const CURVES: Record<EcCurve, { oid: string; coordinateBytes: number }> = {
  'P-256': { oid: id_secp256r1, coordinateBytes: 32 },
  'P-384': { oid: id_secp384r1, coordinateBytes: 48 },
  'P-521': { oid: id_secp521r1, coordinateBytes: 66 },
};

function ecAlgorithmDer(curveOid: string): Buffer {
  return Buffer.from(AsnConvert.serialize(new AlgorithmIdentifier({
    algorithm: id_ecPublicKey,
    parameters: AsnConvert.serialize(new ECParameters({ namedCurve: curveOid })),
  })));
}

/** A SubjectPublicKeyInfo of `algorithmDer` and `key`, encoded by asn1js. */
function spkiOf(algorithmDer: Buffer, key: Uint8Array): Buffer {
  return encode(new asn1js.Sequence({ value: [rawDer(algorithmDer), new asn1js.BitString({ valueHex: key })] }));
}

/** Everything before the key bytes, from asn1js's own encoding of a sample (computed once, not written by hand). */
function prefixOf(algorithmDer: Buffer, keyLength: number): Buffer {
  return Buffer.from(spkiOf(algorithmDer, Buffer.alloc(keyLength, 1)).subarray(0, -keyLength));
}

const EC_FORMS = (Object.keys(CURVES) as EcCurve[]).map((curve) => {
  const algorithmDer = ecAlgorithmDer(CURVES[curve].oid);
  const pointLength = 1 + 2 * CURVES[curve].coordinateBytes;
  return { curve, algorithmDer, pointLength, prefix: prefixOf(algorithmDer, pointLength) };
});

const ED25519_PREFIX = prefixOf(Buffer.from(AsnConvert.serialize(new AlgorithmIdentifier({ algorithm: '1.3.101.112' }))), 32);

/** The DER SubjectPublicKeyInfo of an EC key with this uncompressed point (0x04 || x || y). */
export function ecSpki(curve: EcCurve, point: Uint8Array): Buffer {
  return spkiOf(EC_FORMS.find((f) => f.curve === curve)!.algorithmDer, point);
}

/** The uncompressed point of an EC SubjectPublicKeyInfo in the one accepted form on `curve`; undefined otherwise. */
export function canonicalEcPoint(spki: Buffer, curve: EcCurve): Buffer | undefined {
  const form = EC_FORMS.find((f) => f.curve === curve)!;
  if (spki.length !== form.prefix.length + form.pointLength || !spki.subarray(0, form.prefix.length).equals(form.prefix)) return undefined;
  const point = spki.subarray(form.prefix.length);
  return point[0] === 4 ? point : undefined;
}

/** An EC key in the accepted form: its curve and its uncompressed point, a view into the SPKI. */
export type EcKeyForm = Extract<PublicKeyForm, { type: 'ec' }>;

/**
 * Every EC SubjectPublicKeyInfo in the accepted form (an accepted curve's prefix, then an uncompressed point) that
 * occurs anywhere in `der`, e.g. a certificate's bytes, in order. Candidates only: the same bytes can stand in a name
 * or an extension, so the caller must establish which, if any, is the key it is after (log/kinds/verifier-key.ts).
 */
export function* ecSpkiCandidates(der: Buffer): Generator<{ spki: Buffer; form: EcKeyForm }> {
  for (const f of EC_FORMS) {
    const length = f.prefix.length + f.pointLength;
    for (let at = der.indexOf(f.prefix); at >= 0 && at + length <= der.length; at = der.indexOf(f.prefix, at + 1)) {
      const spki = der.subarray(at, at + length);
      const point = canonicalEcPoint(spki, f.curve);
      if (point) yield { spki, form: { type: 'ec', curve: f.curve, point } };
    }
  }
}

const MAX_RSA_EXPONENT = 2 ** 31 - 1;

/** An rsaEncryption SubjectPublicKeyInfo (`info`, parsed from `spki`) in the accepted form, or UnsupportedKeyError. */
function rsaForm(spki: Buffer, info: SubjectPublicKeyInfo): PublicKeyForm {
  // RFC 3279 2.3.1: the parameters are NULL (asn1-schema reads NULL as null, absent as undefined); Go requires it
  if (info.algorithm.parameters !== null) throw new UnsupportedKeyError('an RSA public key without the NULL parameters RFC 3279 requires');
  let key: RSAPublicKey;
  try {
    key = AsnConvert.parse(info.subjectPublicKey, RSAPublicKey);
    // one encoding only (DER), as Go reads it: no trailing bytes (shortest integers are checked below)
    if (!Buffer.from(AsnConvert.serialize(info)).equals(spki) || !Buffer.from(AsnConvert.serialize(key)).equals(Buffer.from(info.subjectPublicKey))) throw new Error();
  } catch {
    throw new UnsupportedKeyError('an RSA public key that is not exactly one DER RSAPublicKey');
  }
  const modulus = Buffer.from(key.modulus);
  const exponent = Buffer.from(key.publicExponent);
  if (modulus[0]! >= 0x80 || exponent[0]! >= 0x80) throw new UnsupportedKeyError('an RSA public key with a negative modulus or exponent');
  for (const n of [modulus, exponent]) if (n.length > 1 && n[0] === 0 && n[1]! < 0x80) throw new UnsupportedKeyError('an RSA public key whose integers are not in their shortest form');
  const significant = modulus[0] === 0 ? modulus.subarray(1) : modulus;
  const bits = significant.length * 8 - Math.clz32(significant[0] ?? 0) + 24;
  if (bits < 2048 || bits > 4096) throw new UnsupportedKeyError(`an RSA key of ${bits} bits (2048 to 4096 are accepted)`);
  const e = exponent.length > 4 ? Infinity : exponent.readUIntBE(0, exponent.length);
  if (e < 3 || e > MAX_RSA_EXPONENT || e % 2 === 0) throw new UnsupportedKeyError('an RSA key whose public exponent is not an odd number from 3 to 2^31-1');
  return { type: 'rsa', bits };
}

const CURVE_NAMES: Record<string, string> = {
  [id_secp256r1]: 'P-256', [id_secp384r1]: 'P-384', [id_secp521r1]: 'P-521', '1.3.132.0.10': 'secp256k1', '1.3.132.0.33': 'P-224',
};

/** Why an id-ecPublicKey SubjectPublicKeyInfo is not in the accepted form, for the refusal's message. */
function ecProblem(info: SubjectPublicKeyInfo): string {
  let curve: string | undefined;
  try {
    curve = AsnConvert.parse(info.algorithm.parameters!, ECParameters).namedCurve;
  } catch {
    curve = undefined;
  }
  if (curve === undefined) return 'an EC key with explicit curve parameters (only named curves are accepted)';
  const name = CURVE_NAMES[curve] ?? curve;
  if (!(name in CURVES)) return `an EC key on curve ${name} (P-256, P-384 and P-521 are accepted)`;
  return `an ECDSA ${name} key whose point is not in the uncompressed form (04 || x || y), or with bytes around it`;
}

/**
 * The form of a DER SubjectPublicKeyInfo, from its bytes alone (no OpenSSL). Throws UnsupportedKeyError for
 * anything else: other algorithms, compressed or hybrid points, explicit curve parameters, trailing bytes.
 * Whether an EC point is on its curve is decided by the import (importPublicKey), which refuses one that is not.
 */
export function publicKeyForm(spki: Buffer): PublicKeyForm {
  for (const f of EC_FORMS) {
    const point = canonicalEcPoint(spki, f.curve);
    if (point) return { type: 'ec', curve: f.curve, point };
  }
  if (spki.length === ED25519_PREFIX.length + 32 && spki.subarray(0, ED25519_PREFIX.length).equals(ED25519_PREFIX)) return { type: 'ed25519' };
  let info: SubjectPublicKeyInfo;
  try {
    info = AsnConvert.parse(spki, SubjectPublicKeyInfo);
  } catch {
    throw new UnsupportedKeyError('a public key that cannot be parsed (not a DER public key)', true);
  }
  if (info.algorithm.algorithm === id_rsaEncryption) return rsaForm(spki, info);
  if (info.algorithm.algorithm === id_ecPublicKey) throw new UnsupportedKeyError(ecProblem(info));
  throw new UnsupportedKeyError('a key that is not a DER public key of an accepted form (ECDSA P-256, P-384 or P-521 on a named curve with an uncompressed point, RSA of 2048 to 4096 bits, or Ed25519)');
}

/**
 * A KeyObject for a DER SubjectPublicKeyInfo in an accepted form (`allowed`, default all), or UnsupportedKeyError.
 * An EC key is imported from its coordinates (OpenSSL's generic DER decoders cost twice as much), which refuses
 * a point off the curve.
 */
export function importPublicKey(spki: Buffer, allowed?: (form: PublicKeyForm) => boolean): { key: KeyObject; form: PublicKeyForm } {
  const form = publicKeyForm(spki);
  if (allowed && !allowed(form)) throw new UnsupportedKeyError(`${describe(form)} is not accepted here`);
  try {
    if (form.type === 'ec') {
      const n = (form.point.length - 1) / 2;
      const jwk = { kty: 'EC', crv: form.curve, x: form.point.subarray(1, 1 + n).toString('base64url'), y: form.point.subarray(1 + n).toString('base64url') };
      return { key: createPublicKey({ key: jwk, format: 'jwk' }), form };
    }
    return { key: createPublicKey({ key: spki, format: 'der', type: 'spki' }), form };
  } catch {
    throw new UnsupportedKeyError(form.type === 'ec' ? `an ECDSA ${form.curve} key whose point is not on the curve` : `a malformed ${describe(form)}`);
  }
}

export function describe(form: PublicKeyForm): string {
  return form.type === 'ec' ? `an ECDSA ${form.curve} key` : form.type === 'rsa' ? `an RSA key of ${form.bits} bits` : 'an Ed25519 key';
}

/** importPublicKey for a PEM text holding exactly one PUBLIC KEY block. */
export function importPublicKeyPem(pem: string, allowed?: (form: PublicKeyForm) => boolean): { key: KeyObject; form: PublicKeyForm } {
  const ders = pemToDerList(pem, 'PUBLIC KEY');
  if (ders.length !== 1) throw new UnsupportedKeyError(`${ders.length} PUBLIC KEY PEM blocks where one was expected`);
  return importPublicKey(ders[0]!, allowed);
}
