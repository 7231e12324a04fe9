/**
 * X.509 certificates as the verifier needs them. Parsing is the most expensive step of verifying a bundle
 * after the signatures, so a certificate is parsed once, by asn1js (der.ts), into the raw DER of the fields
 * whose bytes matter (signed TBS, names, key, extensions) and the few values that are read (version, algorithm,
 * validity); the verifier caches the result by its bytes (see cache.ts). Extension values are read on demand
 * (x509-extensions.ts). The full @peculiar/asn1-schema model stays available as `asn`, parsed on first use.
 */
import { verify as cryptoVerify, type KeyObject } from 'node:crypto';
import * as asn1js from 'asn1js';
import { AsnParser } from '@peculiar/asn1-schema';
import { RawCertificate } from './certificate-schema.ts';
import { as, bitStringBytes, derOf, explicit, isContext, octetString, oid, parseDer, primitiveContents, sequence, time, type Block } from './der.ts';
import { importPublicKey } from '../../core/public-key.ts';

export interface CertificateExtension {
  critical: boolean;
  /** extnValue's contents. */
  value: Buffer;
  /** The whole Extension element, DER (the precertificate TBS is rebuilt from these). */
  der: Buffer;
}

export interface ParsedCertificate {
  der: Buffer;
  /** The @peculiar/asn1-schema model of the certificate, parsed on first use (the verifier itself does not need it). */
  readonly asn: RawCertificate;
  /** The exact signed bytes of tbsCertificate. */
  tbsDer: Buffer;
  /** DER of every tbsCertificate field before the extensions, in order (version .. subjectUniqueID). */
  tbsFieldsDer: Buffer[];
  /** node:crypto digest for the signature algorithm (null for Ed25519). */
  signatureHash: string | null;
  signature: Buffer;
  issuerDer: Buffer;
  subjectDer: Buffer;
  /** Milliseconds since the epoch; the validity interval is closed (RFC 5280 4.1.2.5). */
  notBefore: number;
  notAfter: number;
  spkiDer: Buffer;
  /** Extensions by OID, in certificate order; a certificate with the same extension twice is refused (RFC 5280 4.2). */
  extensions: Map<string, CertificateExtension>;
}

/** Signature algorithm OID -> node:crypto digest name. */
const SIGNATURE_ALGORITHMS: Record<string, string | null> = {
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.3.101.112': null,
};

/** Extension ::= SEQUENCE { extnID OBJECT IDENTIFIER, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING } */
function readExtensions(block: Block): Map<string, CertificateExtension> {
  const extensions = new Map<string, CertificateExtension>();
  for (const ext of sequence(explicit(block, 3, 'extensions'), 'extensions')) {
    const [id, ...rest] = sequence(ext, 'extension');
    const extnId = oid(id, 'extension id');
    const critical = rest.length === 2 ? as(rest[0], asn1js.Boolean, `extension ${extnId} critical`).valueBlock.value : false;
    if (rest.length === 2 && !critical) throw new Error(`extension ${extnId}: critical FALSE written out (DER omits a DEFAULT value)`);
    if (rest.length !== 1 && rest.length !== 2) throw new Error(`extension ${extnId}: wrong number of fields`);
    const value = octetString(rest[rest.length - 1], `extension ${extnId} value`);
    if (extensions.has(extnId)) throw new Error(`extension ${extnId} appears twice`);
    extensions.set(extnId, { critical, value, der: derOf(ext) });
  }
  return extensions;
}

/** The certificate's structure (RFC 5280 4.1), as far as asn1js's tree shows it; semantics are checked by the caller. */
function parse(input: Buffer) {
  const root = parseDer(input);
  const [tbs, algorithm, signature, ...extra] = sequence(root, 'certificate');
  if (signature === undefined || extra.length > 0) throw new Error('certificate: expected 3 fields');
  const fields = sequence(tbs, 'tbsCertificate');
  let i = 0;
  const version = isContext(fields[0], 0) ? as(explicit(fields[i++], 0, 'version'), asn1js.Integer, 'version').valueBlock.valueDec : 0;
  const [serial, innerAlgorithm, issuer, validity, subject, spki] = fields.slice(i, i + 6);
  i += 6;
  // RFC 5280 4.1.2.2: a positive integer of at most 20 octets.
  const serialBytes = primitiveContents(as(serial, asn1js.Integer, 'serialNumber'), 'serialNumber');
  if (serialBytes[0]! >= 0x80 || (serialBytes.length === 1 && serialBytes[0] === 0)) throw new Error('serialNumber: not positive');
  if (serialBytes.length > 21 || (serialBytes.length === 21 && serialBytes[0] !== 0)) throw new Error('serialNumber: longer than 20 octets');
  sequence(innerAlgorithm, 'signature');
  sequence(issuer, 'issuer');
  sequence(subject, 'subject');
  sequence(spki, 'subjectPublicKeyInfo'); // its form is judged by the key import (core/public-key.ts)
  const [notBefore, notAfter, ...more] = sequence(validity, 'validity');
  if (more.length > 0) throw new Error('validity: expected 2 fields');
  for (const tag of [1, 2]) if (isContext(fields[i], tag) && !fields[i]!.idBlock.isConstructed) i++; // issuer/subjectUniqueID
  const tbsFieldsDer = fields.slice(0, i).map(derOf);
  const extensions = i < fields.length ? readExtensions(fields[i++]!) : new Map<string, CertificateExtension>();
  if (i !== fields.length) throw new Error('tbsCertificate: unexpected field');
  const algorithmId = sequence(algorithm, 'signatureAlgorithm');
  if (algorithmId.length < 1 || algorithmId.length > 2) throw new Error('signatureAlgorithm: expected 1 or 2 fields');
  return {
    der: derOf(root),
    tbsDer: derOf(tbs),
    tbsFieldsDer,
    version,
    algorithm: oid(algorithmId[0], 'signatureAlgorithm'),
    sameAlgorithm: derOf(algorithm).equals(derOf(innerAlgorithm!)),
    signature: bitStringBytes(signature, 'signatureValue'),
    issuerDer: derOf(issuer!),
    subjectDer: derOf(subject!),
    notBefore: time(notBefore, 'notBefore'),
    notAfter: time(notAfter, 'notAfter'),
    spkiDer: derOf(spki!),
    extensions,
  };
}

/** Parses a DER certificate; throws Error naming what is wrong. */
export function parseCertificate(input: Buffer): ParsedCertificate {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(input);
  } catch (e) {
    throw new Error(`not a DER X.509 certificate (${(e as Error).message})`);
  }
  const { version, algorithm, sameAlgorithm, ...cert } = parsed;
  if (version !== 2) throw new Error('not an X.509 v3 certificate');
  if (!(algorithm in SIGNATURE_ALGORITHMS)) throw new Error(`unsupported signature algorithm ${algorithm}`);
  if (!sameAlgorithm) throw new Error('signatureAlgorithm differs from tbsCertificate.signature');
  if (cert.notAfter < cert.notBefore) throw new Error('invalid validity period');
  let asn: RawCertificate | undefined;
  return {
    ...cert,
    signatureHash: SIGNATURE_ALGORITHMS[algorithm]!,
    get asn() {
      asn ??= AsnParser.parse(cert.der, RawCertificate);
      return asn;
    },
  };
}

/**
 * The certificate's key, only in a form core/public-key.ts accepts (node aborts on some others, such as a point at
 * infinity, when asked about them): EC keys are imported from their coordinates, which refuses a point off the
 * curve and costs half of OpenSSL's generic DER decoders (~60 vs ~110 µs per unseen certificate).
 */
export function publicKeyOf(cert: Pick<ParsedCertificate, 'spkiDer'>): KeyObject {
  return importPublicKey(cert.spkiDer).key;
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

export {
  authorityKeyId, basicConstraints, extendedKeyUsage, keyUsage, KeyUsageFlags, octetStringExtension, subjectKeyId,
} from './x509-extensions.ts';
