import * as asn1js from 'asn1js';
import { AsnConvert } from '@peculiar/asn1-schema';
import { ECParameters, id_ecPublicKey, id_secp256r1 } from '@peculiar/asn1-ecc';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import { encode, rawDer } from './raw-der.ts';

/**
 * The canonical form of a P-256 SubjectPublicKeyInfo (named curve, uncompressed point): what node:crypto exports
 * and what every Sigstore client sends. Recognising it by its fixed prefix lets the CA's issuing path and the
 * verifier skip an ASN.1 parse and OpenSSL's slow generic key decoders; any other form takes the generic path.
 */

/** AlgorithmIdentifier { id-ecPublicKey, namedCurve P-256 }, encoded once. */
const P256_ALGORITHM_DER = Buffer.from(AsnConvert.serialize(new AlgorithmIdentifier({
  algorithm: id_ecPublicKey,
  parameters: AsnConvert.serialize(new ECParameters({ namedCurve: id_secp256r1 })),
})));

/** The DER SubjectPublicKeyInfo of a P-256 key with this uncompressed point (0x04 || x || y), encoded by asn1js. */
export function p256Spki(point: Uint8Array): Buffer {
  return encode(new asn1js.Sequence({ value: [rawDer(P256_ALGORITHM_DER), new asn1js.BitString({ valueHex: point })] }));
}

/** Everything before the 65-byte point, from asn1js's own encoding of one key (computed once, not written by hand). */
const P256_SPKI_PREFIX = (() => {
  const sample = p256Spki(Buffer.concat([Buffer.of(4), Buffer.alloc(64, 1)]));
  return sample.subarray(0, sample.length - 65);
})();

/**
 * The uncompressed point (0x04 || x || y) of a canonical P-256 SubjectPublicKeyInfo, a view into `spki`;
 * undefined for any other form. Whether the point is on the curve is for the key import to decide.
 */
export function canonicalP256Point(spki: Buffer): Buffer | undefined {
  if (spki.length !== P256_SPKI_PREFIX.length + 65 || !spki.subarray(0, P256_SPKI_PREFIX.length).equals(P256_SPKI_PREFIX)) return undefined;
  const point = spki.subarray(P256_SPKI_PREFIX.length);
  return point[0] === 4 ? point : undefined;
}
