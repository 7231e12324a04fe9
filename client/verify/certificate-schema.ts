/**
 * A lazy ASN.1 schema for X.509 certificates, on @peculiar/asn1-schema. It maps the fields the verifier reads
 * (version, validity, extensions) and keeps every other TBS field as the parser's block (raw DER), so
 * parsing does not build Name or key objects and the issuer, subject and key bytes need no re-encoding. The
 * asn1-x509 Certificate schema does all of that work; a leaf certificate costs several times less this way.
 * Re-serializing a RawTbsCertificate gives the original DER (the precertificate TBS for SCTs relies on it,
 * and test/client/verify-cert.test.ts checks it).
 */
import { AsnProp, AsnPropTypes, type IAsnConverter } from '@peculiar/asn1-schema';
import { Extensions, Validity } from '@peculiar/asn1-x509';

/** The parsed asn1js block of a field, kept as is: its DER is `valueBeforeDecodeView`. */
export interface RawField {
  valueBeforeDecodeView: Uint8Array;
}

/**
 * Keeps the parser's own block for a field and hands it back when serializing, so re-encoding a TBS does not
 * parse its raw fields a second time (asn1-schema's Any converter would).
 */
const keepBlock: IAsnConverter<RawField> = {
  fromASN: (block) => block as unknown as RawField,
  toASN: (field) => field as never,
};

export function rawBytes(field: RawField): Buffer {
  return Buffer.from(field.valueBeforeDecodeView.buffer, field.valueBeforeDecodeView.byteOffset, field.valueBeforeDecodeView.byteLength);
}

const EMPTY: RawField = { valueBeforeDecodeView: new Uint8Array(0) };

export class RawTbsCertificate {
  @AsnProp({ type: AsnPropTypes.Integer, context: 0, defaultValue: 0 }) version = 0;
  @AsnProp({ type: AsnPropTypes.Any, converter: keepBlock }) serialNumber: RawField = EMPTY;
  @AsnProp({ type: AsnPropTypes.Any, converter: keepBlock }) signature: RawField = EMPTY;
  @AsnProp({ type: AsnPropTypes.Any, converter: keepBlock }) issuer: RawField = EMPTY;
  @AsnProp({ type: Validity }) validity = new Validity();
  @AsnProp({ type: AsnPropTypes.Any, converter: keepBlock }) subject: RawField = EMPTY;
  @AsnProp({ type: AsnPropTypes.Any, converter: keepBlock }) subjectPublicKeyInfo: RawField = EMPTY;
  @AsnProp({ type: AsnPropTypes.BitString, context: 1, implicit: true, optional: true }) issuerUniqueID?: ArrayBuffer;
  @AsnProp({ type: AsnPropTypes.BitString, context: 2, implicit: true, optional: true }) subjectUniqueID?: ArrayBuffer;
  @AsnProp({ type: Extensions, context: 3, optional: true }) extensions?: Extensions;

  constructor(params: Partial<RawTbsCertificate> = {}) {
    Object.assign(this, params);
  }
}

export class RawCertificate {
  @AsnProp({ type: RawTbsCertificate, raw: true }) tbsCertificate = new RawTbsCertificate();
  /** Filled in by the parser (`raw: true`): the exact DER of tbsCertificate, the signed bytes. */
  tbsCertificateRaw?: ArrayBuffer;
  @AsnProp({ type: AsnPropTypes.Any, converter: keepBlock }) signatureAlgorithm: RawField = EMPTY;
  @AsnProp({ type: AsnPropTypes.BitString }) signatureValue: ArrayBuffer = new ArrayBuffer(0);
}
