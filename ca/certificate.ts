import { randomBytes, X509Certificate } from 'node:crypto';
import { AsnConvert, AsnProp, AsnPropTypes } from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier, Certificate, Extensions, KeyUsageFlags, Name, SubjectKeyIdentifier, SubjectPublicKeyInfo, TBSCertificate, Validity,
  Version,
} from '@peculiar/asn1-x509';
import type { Signer } from '../core/signer.ts';
import {
  authorityKeyIdExtension, codeSigningEkuExtension, ctPoisonExtension, keyIdentifier, keyUsageExtension, OID, sctListExtension,
  subjectAltNameExtension, subjectKeyIdExtension, toArrayBuffer, toX509Extension, type CertExtension, type SubjectAltName,
} from './extensions.ts';

/**
 * The Fulcio leaf profile, built with asn1-x509 and signed with node:crypto (ECDSA P-256 / SHA-256):
 * v3, random positive 20-byte serial, issuer = the intermediate's subject, ten minutes of validity, empty
 * subject, then KeyUsage, EKU, SKI, AKI, SAN, Fulcio's extensions and, last, the CT poison (precertificate) or
 * the SCT list (final certificate). Both share everything else, so the final TBS without its SCT list is
 * byte-identical to the precertificate TBS without its poison: what CT verifiers rebuild and check.
 */

export const LEAF_VALIDITY_MS = 10 * 60 * 1000;

/**
 * Certificate with the TBS carried as already-encoded bytes: the signature covers exactly the bytes we
 * signed, and the TBS is not encoded a second time.
 */
class SignedStructure {
  @AsnProp({ type: AsnPropTypes.Any })
  tbs: ArrayBuffer = new ArrayBuffer(0);

  @AsnProp({ type: AlgorithmIdentifier })
  signatureAlgorithm = new AlgorithmIdentifier();

  @AsnProp({ type: AsnPropTypes.BitString })
  signatureValue: ArrayBuffer = new ArrayBuffer(0);
}

export function ecdsaWithSha256(): AlgorithmIdentifier {
  // RFC 5758 3.2: the parameters field is absent for ECDSA.
  return new AlgorithmIdentifier({ algorithm: OID.ecdsaWithSha256 });
}

/** Signs a TBSCertificate with `signer` and returns the certificate DER. */
export function signTbs(tbs: TBSCertificate, signer: Signer): Buffer {
  const tbsDer = Buffer.from(AsnConvert.serialize(tbs));
  const signature = signer.sign(tbsDer);
  const cert = Object.assign(new SignedStructure(), {
    tbs: toArrayBuffer(tbsDer),
    signatureAlgorithm: ecdsaWithSha256(),
    signatureValue: toArrayBuffer(signature),
  });
  return Buffer.from(AsnConvert.serialize(cert));
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

/** The issuing intermediate, parsed once: its subject becomes our issuer, its key id our AKI. */
export interface IssuingAuthority {
  signer: Signer;
  certDer: Buffer;
  subject: Name;
  keyId: Buffer;
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
  return { signer, certDer, subject: tbs.subject, keyId };
}

export interface LeafRequest {
  /** DER SubjectPublicKeyInfo of the key being certified. */
  publicKeyDer: Buffer;
  san: SubjectAltName;
  /** Fulcio's extensions, already rendered. */
  extensions: CertExtension[];
  /** Milliseconds since the epoch. */
  now: number;
}

/** Everything of a leaf except its last extension; the same draft yields the precertificate and the final certificate. */
export interface LeafDraft {
  tbs: TBSCertificate;
  common: CertExtension[];
}

export function draftLeaf(ca: IssuingAuthority, req: LeafRequest): LeafDraft {
  const notBefore = wholeSeconds(req.now);
  const common: CertExtension[] = [
    keyUsageExtension(KeyUsageFlags.digitalSignature),
    codeSigningEkuExtension(),
    subjectKeyIdExtension(keyIdentifier(req.publicKeyDer)),
    authorityKeyIdExtension(ca.keyId),
    subjectAltNameExtension(req.san),
    ...req.extensions,
  ];
  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: randomSerial(),
    signature: ecdsaWithSha256(),
    issuer: ca.subject,
    validity: new Validity({ notBefore, notAfter: new Date(notBefore.getTime() + LEAF_VALIDITY_MS) }),
    subject: new Name(),
    subjectPublicKeyInfo: AsnConvert.parse(req.publicKeyDer, SubjectPublicKeyInfo),
  });
  return { tbs, common };
}

function withLast(draft: LeafDraft, last: CertExtension): TBSCertificate {
  draft.tbs.extensions = new Extensions([...draft.common, last].map(toX509Extension));
  return draft.tbs;
}

/** The precertificate (RFC 6962 3.1): signed by the intermediate itself, with the critical poison extension. */
export function createPrecertificate(ca: IssuingAuthority, draft: LeafDraft): Buffer {
  return signTbs(withLast(draft, ctPoisonExtension()), ca.signer);
}

/** The final certificate: the same TBS with the SCT list (TLS encoding, core/sct.ts) in the poison's place. */
export function createFinalCertificate(ca: IssuingAuthority, draft: LeafDraft, tlsSctList: Buffer): Buffer {
  return signTbs(withLast(draft, sctListExtension(tlsSctList)), ca.signer);
}
