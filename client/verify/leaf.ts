/**
 * The signing certificate of a bundle and everything the checks learn about it that does not depend on the
 * time or the artifact. The verifier caches one LeafState per certificate, so a certificate used for many
 * signatures (one signing session, many files) is parsed, chained and SCT-checked once.
 */
import type { KeyObject } from 'node:crypto';
import { VerificationError } from '../../core/errors.ts';
import type { TrustedCa, TrustedCaCertificate } from '../trusted-root.ts';
import { parseCertificate, publicKeyOf, type ParsedCertificate } from './x509.ts';
import { canonicalP256Point } from '../../core/p256-spki.ts';

export interface CertificateIdentity {
  /** The one subject alternative name: email, URI or Fulcio otherName username. */
  san: string;
  sanType: 'email' | 'uri' | 'username';
  /** The OIDC issuer (Fulcio extension 1.3.6.1.4.1.57264.1.8, or the deprecated .1.1). */
  issuer: string;
}

export interface LeafState {
  cert: ParsedCertificate;
  publicKey: KeyObject;
  /** chain.ts: the trusted CAs whose issuing certificate signed this leaf. */
  issuers?: { ca: TrustedCa; issuer: TrustedCaCertificate }[];
  /** sct.ts: hex ids of the CT logs whose SCTs verified, for the issuer they were checked against. */
  sct?: { issuer: TrustedCaCertificate; logIds: string[] };
  /** identity.ts */
  identity?: CertificateIdentity;
}

export function loadLeaf(der: Buffer): LeafState {
  let cert: ParsedCertificate;
  let publicKey: KeyObject;
  try {
    cert = parseCertificate(der);
    publicKey = publicKeyOf(cert);
  } catch (e) {
    throw new VerificationError('CHAIN', `signing certificate: ${(e as Error).message}`);
  }
  // Sigstore signatures are ECDSA P-256 over SHA-256; any other key is not something this verifier checks. The
  // key was imported only because its SubjectPublicKeyInfo has an accepted form; this one is P-256's.
  if (!canonicalP256Point(cert.spkiDer)) {
    throw new VerificationError('CHAIN', 'signing certificate: only ECDSA P-256 keys are supported');
  }
  return { cert, publicKey };
}
