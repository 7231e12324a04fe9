import { randomBytes, X509Certificate } from 'node:crypto';
import * as asn1js from 'asn1js';
import { AsnConvert } from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier, Certificate, KeyUsageFlags, Name, SubjectKeyIdentifier, SubjectPublicKeyInfo, TBSCertificate, Validity, Version,
} from '@peculiar/asn1-x509';
import { contextConstructedDer, encode, sequenceDer } from '../core/raw-der.ts';
import type { Signer } from '../core/signer.ts';
import {
  authorityKeyIdExtension, codeSigningEkuExtension, ctPoisonExtension, extensionDer, keyIdentifier, keyUsageExtension, OID,
  sctListExtension, subjectAltNameExtension, subjectKeyIdExtension, toArrayBuffer, toX509Extension, type CertExtension, type SubjectAltName,
} from './extensions.ts';

/**
 * The Fulcio leaf profile, signed with node:crypto (ECDSA P-256 / SHA-256): v3, random positive 20-byte serial,
 * issuer = the intermediate's subject, ten minutes of validity, empty subject, then KeyUsage, EKU, SKI, AKI,
 * SAN, Fulcio's extensions and, last, the CT poison (precertificate) or the SCT list (final certificate). Both
 * share everything else, so the final TBS without its SCT list is byte-identical to the precertificate TBS
 * without its poison: what CT verifiers rebuild and check.
 *
 * Speed: every part that is the same in every leaf (version, algorithm, issuer, empty subject, KeyUsage, EKU,
 * AKI, poison) is encoded once, with asn1-x509, when the issuing authority is loaded. A leaf encodes only its
 * own parts (serial, SKI, SAN, Fulcio's extensions; the validity once per second) with asn1js, and asn1js writes
 * the SEQUENCE headers around the concatenated parts (core/raw-der.ts). The precertificate and the final
 * certificate share all of it.
 * test/ca/leaf-encoding.test.ts checks the result against the plain asn1-x509 encoding, byte for byte.
 */

export const LEAF_VALIDITY_MS = 10 * 60 * 1000;

export function ecdsaWithSha256(): AlgorithmIdentifier {
  // RFC 5758 3.2: the parameters field is absent for ECDSA.
  return new AlgorithmIdentifier({ algorithm: OID.ecdsaWithSha256 });
}

const ECDSA_WITH_SHA256_DER = Buffer.from(AsnConvert.serialize(ecdsaWithSha256()));

/**
 * Signs an encoded TBSCertificate and returns the certificate DER. The TBS goes in as the exact bytes signed
 * (never decoded or encoded again); asn1js writes the outer SEQUENCE and the signature BIT STRING.
 */
export function signTbsDer(tbsDer: Buffer, signer: Signer): Buffer {
  const signature = signer.sign(tbsDer);
  return sequenceDer([tbsDer, ECDSA_WITH_SHA256_DER, encode(new asn1js.BitString({ valueHex: signature }))]);
}

/** Signs a TBSCertificate (asn1-x509) with `signer` and returns the certificate DER: for the CA's own certificates. */
export function signTbs(tbs: TBSCertificate, signer: Signer): Buffer {
  return signTbsDer(Buffer.from(AsnConvert.serialize(tbs)), signer);
}

/** A random positive serial of exactly 20 octets: the top bit clear (positive), the first octet non-zero (minimal DER). */
export function randomSerial(): ArrayBuffer {
  const serial = randomBytes(20);
  serial[0] = (serial[0]! & 0x7f) | 0x01;
  return toArrayBuffer(serial);
}

/** Validity times in whole seconds: what UTCTime can say, so the certificate states exactly what we decided. */
export function wholeSeconds(ms: number): Date {
  return new Date(Math.floor(ms / 1000) * 1000);
}

/** The DER of everything that is the same in every leaf this authority issues, encoded once. */
interface LeafConstants {
  version: Buffer;
  signatureAlgorithm: Buffer;
  issuer: Buffer;
  subject: Buffer;
  keyUsage: Buffer;
  extKeyUsage: Buffer;
  authorityKeyId: Buffer;
  poison: Buffer;
}

/** The issuing intermediate, parsed once: its subject becomes our issuer, its key id our AKI. */
export interface IssuingAuthority {
  signer: Signer;
  certDer: Buffer;
  subject: Name;
  keyId: Buffer;
  leaf: LeafConstants;
}

/** The TBS fields of a reference leaf encoded by asn1-x509, split by asn1js: the source of the constant parts. */
function referenceTbsFields(subject: Name, publicKeyDer: Buffer): Buffer[] {
  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: randomSerial(),
    signature: ecdsaWithSha256(),
    issuer: subject,
    validity: new Validity({ notBefore: new Date(0), notAfter: new Date(0) }),
    subject: new Name(),
    subjectPublicKeyInfo: AsnConvert.parse(publicKeyDer, SubjectPublicKeyInfo),
  });
  const parsed = asn1js.fromBER(AsnConvert.serialize(tbs), { parseEmbedded: false }).result as asn1js.Sequence;
  return parsed.valueBlock.value.map((b) => Buffer.from(b.valueBeforeDecodeView));
}

function leafConstants(subject: Name, keyId: Buffer, publicKeyDer: Buffer): LeafConstants {
  const [version, , signatureAlgorithm, issuer, , emptySubject] = referenceTbsFields(subject, publicKeyDer);
  const ext = (e: CertExtension) => Buffer.from(AsnConvert.serialize(toX509Extension(e)));
  return {
    version: version!,
    signatureAlgorithm: signatureAlgorithm!,
    issuer: issuer!,
    subject: emptySubject!,
    keyUsage: ext(keyUsageExtension(KeyUsageFlags.digitalSignature)),
    extKeyUsage: ext(codeSigningEkuExtension()),
    authorityKeyId: ext(authorityKeyIdExtension(keyId)),
    poison: ext(ctPoisonExtension()),
  };
}

/**
 * Checks that `certDer` is a CA certificate for `signer`'s key, allowed to sign code-signing certificates,
 * and that its subject re-encodes to the same bytes (so our issuer field matches its subject exactly).
 */
export function loadIssuingAuthority(certDer: Buffer, signer: Signer): IssuingAuthority {
  const parsed = AsnConvert.parse(certDer, Certificate);
  if (!Buffer.from(AsnConvert.serialize(parsed)).equals(certDer)) throw new Error('intermediate certificate is not canonical DER');
  const x509 = new X509Certificate(certDer);
  if (!x509.ca) throw new Error('intermediate certificate is not a CA');
  if (!x509.publicKey.equals(signer.publicKey)) throw new Error('intermediate certificate does not match the signing key');
  // EKU chaining (Fulcio's VerifyCertChain): an intermediate that restricts EKUs must allow code signing.
  if (x509.keyUsage !== undefined && !x509.keyUsage.includes(OID.codeSigning)) {
    throw new Error('intermediate certificate must allow the codeSigning extended key usage');
  }
  const tbs = parsed.tbsCertificate;
  const ski = tbs.extensions?.find((e) => e.extnID === OID.subjectKeyIdentifier);
  const keyId = ski ? Buffer.from(AsnConvert.parse(ski.extnValue.buffer, SubjectKeyIdentifier).buffer) : keyIdentifier(signer.publicKeyDer);
  return { signer, certDer, subject: tbs.subject, keyId, leaf: leafConstants(tbs.subject, keyId, signer.publicKeyDer) };
}

export interface LeafRequest {
  /** DER SubjectPublicKeyInfo of the key being certified (as node:crypto exports it: canonical DER). */
  publicKeyDer: Buffer;
  san: SubjectAltName;
  /** Fulcio's extensions, already rendered. */
  extensions: CertExtension[];
  /** Milliseconds since the epoch. */
  now: number;
}

/** Everything of a leaf except its last extension, encoded; the same draft yields the precertificate and the final certificate. */
export interface LeafDraft {
  /** DER of the TBS fields before the extensions, concatenated: version, serial, signature, issuer, validity, subject, key. */
  fields: Buffer;
  /** DER of each extension before the last one, concatenated. */
  extensions: Buffer;
}

/**
 * The DER Validity of a leaf issued at `notBefore` (whole seconds). Every leaf issued in the same second has the
 * same one, so the last is kept: under load it is encoded once a second instead of once per certificate.
 */
let lastValidity: { notBefore: number; der: Buffer } | undefined;
function validityDer(notBefore: Date): Buffer {
  if (lastValidity?.notBefore === notBefore.getTime()) return lastValidity.der;
  const der = Buffer.from(AsnConvert.serialize(new Validity({ notBefore, notAfter: new Date(notBefore.getTime() + LEAF_VALIDITY_MS) })));
  lastValidity = { notBefore: notBefore.getTime(), der };
  return der;
}

export function draftLeaf(ca: IssuingAuthority, req: LeafRequest): LeafDraft {
  const c = ca.leaf;
  const serial = encode(new asn1js.Integer({ valueHex: randomSerial() }));
  const extensions = [
    c.keyUsage,
    c.extKeyUsage,
    extensionDer(subjectKeyIdExtension(keyIdentifier(req.publicKeyDer))),
    c.authorityKeyId,
    extensionDer(subjectAltNameExtension(req.san)),
  ];
  for (const e of req.extensions) extensions.push(extensionDer(e));
  return {
    fields: Buffer.concat([c.version, serial, c.signatureAlgorithm, c.issuer, validityDer(wholeSeconds(req.now)), c.subject, req.publicKeyDer]),
    extensions: Buffer.concat(extensions),
  };
}

/**
 * The TBSCertificate of `draft` with `last` as its last extension (DER). Without `last` it is what the poison and
 * the SCT list are both missing from: RFC 6962's PreCert.tbs_certificate, handed to an in-process CT log.
 */
export function leafTbsDer(draft: LeafDraft, last?: Buffer): Buffer {
  const extensions = sequenceDer(last ? [draft.extensions, last] : [draft.extensions]);
  return sequenceDer([draft.fields, contextConstructedDer(3, [extensions])]);
}

/** The precertificate (RFC 6962 3.1): signed by the intermediate itself, with the critical poison extension. */
export function createPrecertificate(ca: IssuingAuthority, draft: LeafDraft): Buffer {
  return signTbsDer(leafTbsDer(draft, ca.leaf.poison), ca.signer);
}

/** The final certificate: the same TBS with the SCT list (TLS encoding, core/sct.ts) in the poison's place. */
export function createFinalCertificate(ca: IssuingAuthority, draft: LeafDraft, tlsSctList: Buffer): Buffer {
  return signTbsDer(leafTbsDer(draft, extensionDer(sctListExtension(tlsSctList))), ca.signer);
}
