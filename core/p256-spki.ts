import { canonicalEcPoint, ecSpki } from './public-key.ts';

/**
 * The canonical form of a P-256 SubjectPublicKeyInfo (named curve, uncompressed point): what node:crypto exports
 * and what every Sigstore client sends. Recognising it by its fixed prefix lets the CA's issuing path and the
 * verifier skip an ASN.1 parse and OpenSSL's slow generic key decoders (core/public-key.ts holds every form).
 */

/** The DER SubjectPublicKeyInfo of a P-256 key with this uncompressed point (0x04 || x || y), encoded by asn1js. */
export function p256Spki(point: Uint8Array): Buffer {
  return ecSpki('P-256', point);
}

/**
 * The uncompressed point (0x04 || x || y) of a canonical P-256 SubjectPublicKeyInfo, a view into `spki`;
 * undefined for any other form. Whether the point is on the curve is for the key import to decide.
 */
export function canonicalP256Point(spki: Buffer): Buffer | undefined {
  return canonicalEcPoint(spki, 'P-256');
}
