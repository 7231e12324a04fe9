import { AsnConvert } from '@peculiar/asn1-schema';
import { Extensions, TBSCertificate } from '@peculiar/asn1-x509';
import { BadRequestError } from '../../core/errors.ts';
import { extensionsWithOid, type ParsedCertificate } from './certificate.ts';

/** RFC 6962 §3.1: the critical extension that makes a precertificate unusable as a certificate. */
export const OID_CT_POISON = '1.3.6.1.4.1.11129.2.4.3';
/** RFC 6962 §3.1: the EKU of a dedicated Precertificate Signing Certificate (we do not support them). */
export const OID_PRECERT_SIGNING_EKU = '1.3.6.1.4.1.11129.2.4.4';
const ASN1_NULL = Buffer.from([0x05, 0x00]);

/**
 * Whether `cert` is a precertificate. A poison extension that is present but not exactly as RFC 6962 defines it
 * (critical, ASN.1 NULL, once) is refused rather than ignored: a half-poisoned certificate is neither kind.
 */
export function hasValidPoison(cert: ParsedCertificate, what: string): boolean {
  const found = extensionsWithOid(cert, OID_CT_POISON);
  if (found.length === 0) return false;
  if (found.length > 1) throw new BadRequestError(`${what} repeats the CT poison extension`);
  const poison = found[0]!;
  if (!poison.critical) throw new BadRequestError(`${what} has a CT poison extension that is not critical`);
  if (!Buffer.from(poison.extnValue.buffer).equals(ASN1_NULL)) {
    throw new BadRequestError(`${what} has a CT poison extension whose value is not ASN.1 NULL`);
  }
  return true;
}

/**
 * RFC 6962 §3.2 `PreCert.tbs_certificate`: the precertificate's TBSCertificate with the poison extension removed
 * and the rest (including the order of the other extensions) unchanged, re-encoded as DER.
 */
export function precertTbsWithoutPoison(precert: ParsedCertificate): Buffer {
  // A shallow copy with a new extension list: `precert.asn` stays the faithful image of the submitted bytes.
  const original = precert.asn.tbsCertificate;
  const kept = (original.extensions ?? []).filter((e) => e.extnID !== OID_CT_POISON);
  // Extensions is SIZE (1..MAX): when the poison was the only one, the field disappears (as Go's x509 does).
  const tbs = new TBSCertificate({ ...original, extensions: kept.length > 0 ? new Extensions(kept) : undefined });
  return Buffer.from(AsnConvert.serialize(tbs));
}
