import { BadRequestError } from '../../core/errors.ts';
import { contextConstructedDer, sequenceDer } from '../../core/raw-der.ts';
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
 * and the rest (including the order of the other extensions) unchanged, as DER. Every field and every kept
 * extension keeps its submitted bytes, which parseCertificateStrict proved to be the canonical DER encoding, so
 * this equals re-encoding the edited structure; asn1js writes only the headers whose lengths changed, around the
 * concatenated parts (core/raw-der.ts sequenceDer, as the CA and the verifier build the same TBS).
 */
export function precertTbsWithoutPoison(precert: ParsedCertificate): Buffer {
  const extensions = precert.asn.tbsCertificate.extensions ?? [];
  const kept = precert.extensionDers.filter((_, i) => extensions[i]!.extnID !== OID_CT_POISON);
  const fields: Uint8Array[] = [...precert.tbsFieldsWithoutExtensions];
  // Extensions is SIZE (1..MAX): when the poison was the only one, the field disappears (as Go's x509 does).
  if (kept.length > 0) fields.push(contextConstructedDer(3, [sequenceDer(kept)]));
  return sequenceDer(fields);
}
