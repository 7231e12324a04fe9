import { createHash, X509Certificate } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { BasicConstraints, Certificate, ExtendedKeyUsage, KeyUsage, KeyUsageFlags } from '@peculiar/asn1-x509';
import { BadRequestError } from '../../core/errors.ts';

/**
 * One submitted certificate, parsed twice: by OpenSSL (node:crypto, for fast native signature checks) and by
 * @peculiar/asn1-x509 (for the structure: extensions, the TBS to re-encode, the exact SPKI bytes).
 */
export interface ParsedCertificate {
  readonly der: Buffer;
  readonly asn: Certificate;
  readonly x509: X509Certificate;
  /** The DER SubjectPublicKeyInfo exactly as it appears in the certificate (issuer_key_hash input). */
  readonly spki: Buffer;
}

const OID_BASIC_CONSTRAINTS = '2.5.29.19';
const OID_KEY_USAGE = '2.5.29.15';
const OID_EXT_KEY_USAGE = '2.5.29.37';

/**
 * Parses `der` strictly. Re-serialising the parsed structure must give back the input byte for byte: this
 * refuses trailing bytes (which both parsers ignore), BER and non-minimal encodings, and it guarantees that the
 * precertificate TBS we re-encode after removing the poison is the same one a verifier re-encodes from the final
 * certificate after removing the SCT list.
 */
export function parseCertificateStrict(der: Buffer, what: string): ParsedCertificate {
  let asn: Certificate;
  let x509: X509Certificate;
  try {
    asn = AsnConvert.parse(der, Certificate);
    x509 = new X509Certificate(der);
  } catch {
    throw new BadRequestError(`${what} is not a DER X.509 certificate`);
  }
  let again: Buffer;
  try {
    again = Buffer.from(AsnConvert.serialize(asn));
  } catch {
    throw new BadRequestError(`${what} is not a DER X.509 certificate`);
  }
  if (!again.equals(der)) throw new BadRequestError(`${what} is not strictly DER encoded (or has trailing bytes)`);
  const spki = Buffer.from(AsnConvert.serialize(asn.tbsCertificate.subjectPublicKeyInfo));
  return { der, asn, x509, spki };
}

/**
 * Parsed issuer certificates by SHA-256 of their DER. The same intermediate and root arrive with every submission
 * and the ASN.1 parse dominates validation time; a parsed certificate is never mutated, so it can be shared.
 */
export class ParsedCertificateCache {
  readonly #byHash = new Map<string, ParsedCertificate>();
  constructor(private readonly capacity = 64) {}

  parse(der: Buffer, what: string): ParsedCertificate {
    const key = createHash('sha256').update(der).digest('hex');
    const hit = this.#byHash.get(key);
    if (hit) return hit;
    const parsed = parseCertificateStrict(der, what);
    this.#byHash.set(key, parsed);
    if (this.#byHash.size > this.capacity) this.#byHash.delete(this.#byHash.keys().next().value!);
    return parsed;
  }
}

/** The extensions of `cert` with OID `oid` (a certificate may not repeat one: RFC 5280 §4.2). */
export function extensionsWithOid(cert: ParsedCertificate, oid: string) {
  return (cert.asn.tbsCertificate.extensions ?? []).filter((e) => e.extnID === oid);
}

function singleExtensionValue(cert: ParsedCertificate, oid: string, what: string): Buffer | undefined {
  const found = extensionsWithOid(cert, oid);
  if (found.length > 1) throw new BadRequestError(`${what} repeats extension ${oid}`);
  return found[0] ? Buffer.from(found[0].extnValue.buffer) : undefined;
}

/** True when `cert` may issue certificates: basicConstraints cA, and keyCertSign if keyUsage is present. */
export function isCaCertificate(cert: ParsedCertificate, what: string): boolean {
  try {
    const bc = singleExtensionValue(cert, OID_BASIC_CONSTRAINTS, what);
    if (!bc || !AsnConvert.parse(bc, BasicConstraints).cA) return false;
    const ku = singleExtensionValue(cert, OID_KEY_USAGE, what);
    if (ku && (AsnConvert.parse(ku, KeyUsage).toNumber() & KeyUsageFlags.keyCertSign) === 0) return false;
    return true;
  } catch (e) {
    if (e instanceof BadRequestError) throw e;
    throw new BadRequestError(`${what} has a malformed basicConstraints or keyUsage extension`);
  }
}

/** The extended key usages of `cert` (empty when the extension is absent). */
export function extendedKeyUsages(cert: ParsedCertificate, what: string): string[] {
  const v = singleExtensionValue(cert, OID_EXT_KEY_USAGE, what);
  if (!v) return [];
  try {
    return [...AsnConvert.parse(v, ExtendedKeyUsage)];
  } catch {
    throw new BadRequestError(`${what} has a malformed extendedKeyUsage extension`);
  }
}

/** Verified (subject -> issuers) links. Parsed certificates are immutable, so a success stays true. */
const verifiedLinks = new WeakMap<ParsedCertificate, WeakSet<ParsedCertificate>>();

/**
 * True when `subject` carries a valid signature by `issuer`'s key (OpenSSL, native). Successes are remembered
 * per object pair, which pays off for cached issuers (intermediate -> root is checked on every submission).
 */
export function isSignedBy(subject: ParsedCertificate, issuer: ParsedCertificate): boolean {
  if (verifiedLinks.get(subject)?.has(issuer)) return true;
  let ok: boolean;
  try {
    ok = subject.x509.verify(issuer.x509.publicKey);
  } catch {
    ok = false;
  }
  if (ok) {
    const set = verifiedLinks.get(subject) ?? new WeakSet<ParsedCertificate>();
    set.add(issuer);
    verifiedLinks.set(subject, set);
  }
  return ok;
}
