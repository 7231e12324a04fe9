/**
 * X.509 certificates as the verifier needs them, parsed with @peculiar/asn1-x509 (no hand-written DER).
 * Parsing is the most expensive step of verifying a bundle after the signatures, so a certificate is parsed
 * once and the verifier caches the result by its bytes (see cache.ts).
 */
import { createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { AsnParser, OctetString } from '@peculiar/asn1-schema';
import { RawCertificate, rawBytes } from './certificate-schema.ts';
import {
  AlgorithmIdentifier, AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsageFlags, SubjectKeyIdentifier,
  id_ce_authorityKeyIdentifier, id_ce_basicConstraints, id_ce_extKeyUsage, id_ce_keyUsage, id_ce_subjectKeyIdentifier,
} from '@peculiar/asn1-x509';

export interface ParsedCertificate {
  der: Buffer;
  asn: RawCertificate;
  /** The exact signed bytes of tbsCertificate. */
  tbsDer: Buffer;
  /** node:crypto digest for the signature algorithm (null for Ed25519). */
  signatureHash: string | null;
  signature: Buffer;
  issuerDer: Buffer;
  subjectDer: Buffer;
  /** Milliseconds since the epoch; the validity interval is closed (RFC 5280 4.1.2.5). */
  notBefore: number;
  notAfter: number;
  spkiDer: Buffer;
  /** Extensions by OID; a certificate with the same extension twice is refused (RFC 5280 4.2). */
  extensions: Map<string, { critical: boolean; value: Buffer }>;
}

/** Signature algorithm OID -> node:crypto digest name. Parameters must be absent (ECDSA, Ed25519) or NULL (RSA). */
const SIGNATURE_ALGORITHMS: Record<string, string | null> = {
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.3.101.112': null,
};

/** Parses a DER certificate; throws Error naming what is wrong. */
export function parseCertificate(der: Buffer): ParsedCertificate {
  let asn: RawCertificate;
  let algorithm: string;
  try {
    // Bounded so a hostile certificate cannot make the parser walk a huge tree.
    asn = AsnParser.parse(der, RawCertificate, { berOptions: { maxDepth: 32, maxNodes: 4000 } });
    algorithm = AsnParser.parse(rawBytes(asn.signatureAlgorithm), AlgorithmIdentifier).algorithm;
  } catch (e) {
    throw new Error(`not a DER X.509 certificate (${(e as Error).message})`);
  }
  const tbs = asn.tbsCertificate;
  if (tbs.version !== 2) throw new Error('not an X.509 v3 certificate');
  if (!(algorithm in SIGNATURE_ALGORITHMS)) throw new Error(`unsupported signature algorithm ${algorithm}`);
  if (!rawBytes(asn.signatureAlgorithm).equals(rawBytes(tbs.signature))) throw new Error('signatureAlgorithm differs from tbsCertificate.signature');
  const extensions = new Map<string, { critical: boolean; value: Buffer }>();
  for (const ext of tbs.extensions ?? []) {
    if (extensions.has(ext.extnID)) throw new Error(`extension ${ext.extnID} appears twice`);
    extensions.set(ext.extnID, { critical: ext.critical, value: Buffer.from(ext.extnValue.buffer) });
  }
  const notBefore = tbs.validity.notBefore.getTime().getTime();
  const notAfter = tbs.validity.notAfter.getTime().getTime();
  if (!Number.isFinite(notBefore) || !Number.isFinite(notAfter) || notAfter < notBefore) throw new Error('invalid validity period');
  return {
    der,
    asn,
    tbsDer: Buffer.from(asn.tbsCertificateRaw!),
    signatureHash: SIGNATURE_ALGORITHMS[algorithm]!,
    signature: Buffer.from(asn.signatureValue),
    issuerDer: rawBytes(tbs.issuer),
    subjectDer: rawBytes(tbs.subject),
    notBefore,
    notAfter,
    spkiDer: rawBytes(tbs.subjectPublicKeyInfo),
    extensions,
  };
}

export function publicKeyOf(cert: ParsedCertificate): KeyObject {
  return createPublicKey({ key: cert.spkiDer, format: 'der', type: 'spki' });
}

/** True when `issuerKey` signed `cert`. Never throws: a malformed signature is just not a valid one. */
export function signedBy(cert: ParsedCertificate, issuerKey: KeyObject): boolean {
  try {
    return cryptoVerify(cert.signatureHash, cert.tbsDer, issuerKey, cert.signature);
  } catch {
    return false;
  }
}

/** Validity at `timeMs`, both bounds inclusive. */
export function validAt(cert: Pick<ParsedCertificate, 'notBefore' | 'notAfter'>, timeMs: number): boolean {
  return cert.notBefore <= timeMs && timeMs <= cert.notAfter;
}

function extensionAs<T>(cert: ParsedCertificate, oid: string, type: new () => T): T | undefined {
  const ext = cert.extensions.get(oid);
  if (!ext) return undefined;
  try {
    return AsnParser.parse(ext.value, type);
  } catch {
    throw new Error(`extension ${oid} is malformed`);
  }
}

export function basicConstraints(cert: ParsedCertificate): { ca: boolean; pathLen?: number } {
  const bc = extensionAs(cert, id_ce_basicConstraints, BasicConstraints);
  return { ca: bc?.cA ?? false, pathLen: bc?.pathLenConstraint };
}

/** KeyUsage flags, or undefined when the extension is absent. */
export function keyUsage(cert: ParsedCertificate): number | undefined {
  const ku = extensionAs(cert, id_ce_keyUsage, KeyUsage);
  return ku === undefined ? undefined : ku.toNumber();
}

export function extendedKeyUsage(cert: ParsedCertificate): string[] {
  return [...(extensionAs(cert, id_ce_extKeyUsage, ExtendedKeyUsage) ?? [])];
}

export function subjectKeyId(cert: ParsedCertificate): Buffer | undefined {
  const skid = extensionAs(cert, id_ce_subjectKeyIdentifier, SubjectKeyIdentifier);
  return skid ? Buffer.from(skid.buffer) : undefined;
}

export function authorityKeyId(cert: ParsedCertificate): Buffer | undefined {
  const akid = extensionAs(cert, id_ce_authorityKeyIdentifier, AuthorityKeyIdentifier);
  return akid?.keyIdentifier ? Buffer.from(akid.keyIdentifier.buffer) : undefined;
}

/** The contents of an extension whose value is itself an OCTET STRING (the CT SCT list). */
export function octetStringExtension(cert: ParsedCertificate, oid: string): Buffer | undefined {
  const v = extensionAs(cert, oid, OctetString);
  return v ? Buffer.from(v.buffer) : undefined;
}

export { KeyUsageFlags };
