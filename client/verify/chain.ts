/**
 * Certificate chain: the leaf must be issued (signature checked with node:crypto) by the first certificate
 * of a trusted CA's chain, be a code-signing end-entity certificate, and every certificate of the path, leaf
 * to root, must be valid at the integrated time, as must the CA's validFor window (GHSA-wfqv-66vq-46rm: not
 * only the leaf, and not at the leaf's own NotBefore, sigstore-go#277). The CA chains themselves were
 * verified once when the trust material was built.
 */
import { VerificationError } from '../../core/errors.ts';
import { inWindow, type TrustedCa, type TrustedCaCertificate, type TrustMaterial } from '../trusted-root.ts';
import type { LeafState } from './leaf.ts';
import { authorityKeyId, basicConstraints, extendedKeyUsage, keyUsage, KeyUsageFlags, signedBy, validAt } from './x509.ts';

const EKU_CODE_SIGNING = '1.3.6.1.5.5.7.3.3';
const CT_POISON = '1.3.6.1.4.1.11129.2.4.3';
/** Critical extensions this verifier understands; any other critical extension makes the leaf unusable (RFC 5280 4.2). */
const KNOWN_CRITICAL = new Set(['2.5.29.15', '2.5.29.19', '2.5.29.37', '2.5.29.17']);

function fail(message: string): never {
  throw new VerificationError('CHAIN', message);
}

/** The time-independent part, done once per leaf: profile checks and which CA signed it. */
function findIssuers(leaf: LeafState, trust: TrustMaterial): NonNullable<LeafState['issuers']> {
  if (leaf.issuers) return leaf.issuers;
  const { cert } = leaf;
  let eku: readonly string[];
  let ku: number | undefined;
  let ca: boolean;
  let akid: Buffer | undefined;
  try {
    eku = extendedKeyUsage(cert);
    ku = keyUsage(cert);
    ca = basicConstraints(cert).ca;
    akid = authorityKeyId(cert);
  } catch (e) {
    fail(`signing certificate: ${(e as Error).message}`);
  }
  if (cert.extensions.has(CT_POISON)) fail('signing certificate is a CT precertificate, not a certificate');
  for (const [oid, ext] of cert.extensions) {
    if (ext.critical && !KNOWN_CRITICAL.has(oid)) fail(`signing certificate has an unknown critical extension ${oid}`);
  }
  if (ca) fail('signing certificate is a CA certificate');
  if (!eku.includes(EKU_CODE_SIGNING)) fail('signing certificate lacks the codeSigning extended key usage');
  if (ku !== undefined && !(ku & KeyUsageFlags.digitalSignature)) fail('signing certificate key usage does not allow digital signatures');
  const issuers = trust.cas.flatMap((ca) => {
    const issuer = ca.chain[0]!;
    if (!cert.issuerDer.equals(issuer.cert.subjectDer)) return [];
    if (akid && issuer.subjectKeyId && !akid.equals(issuer.subjectKeyId)) return [];
    return signedBy(cert, issuer.publicKey) ? [{ ca, issuer }] : [];
  });
  if (issuers.length === 0) fail('signing certificate was not issued by a trusted certificate authority');
  leaf.issuers = issuers;
  return issuers;
}

/**
 * Returns the CA (and its issuing certificate) through which the leaf is trusted at `timeMs`.
 * `bundleChain` (v0.2 bundles) must repeat the trusted chain exactly: a bundle whose chain disagrees with the
 * trust material is refused rather than ignored.
 */
export function verifyChain(leaf: LeafState, trust: TrustMaterial, timeMs: number, bundleChain: Buffer[]): { ca: TrustedCa; issuer: TrustedCaCertificate } {
  const issuers = findIssuers(leaf, trust);
  let reason = '';
  for (const candidate of issuers) {
    const { ca } = candidate;
    if (bundleChain.length > ca.chain.length || bundleChain.some((der, i) => !der.equals(ca.chain[i]!.cert.der))) {
      reason = 'the certificate chain in the bundle differs from the trusted CA chain';
      continue;
    }
    if (!inWindow(ca.validFor, timeMs)) {
      reason = `the certificate authority ${ca.uri} is not valid at the integrated time`;
      continue;
    }
    const expired = ca.chain.findIndex((c) => !validAt(c.cert, timeMs));
    if (expired >= 0) {
      reason = `CA certificate ${expired} of ${ca.uri} is not valid at the integrated time`;
      continue;
    }
    return candidate;
  }
  fail(reason);
}
