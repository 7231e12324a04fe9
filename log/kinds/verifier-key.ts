import { X509Certificate, type KeyObject } from 'node:crypto';
import { ecSpkiCandidates, importPublicKey, publicKeyForm, UnsupportedKeyError, type PublicKeyForm } from '../../core/public-key.ts';
import { BadRequestError } from '../../core/errors.ts';
import { encodePem, parseSinglePem } from './pem.ts';

/**
 * The key that verifies a submitted signature: a PEM certificate (keyless signing, Fulcio) or a PEM
 * SubjectPublicKeyInfo (managed keys). Only the key is read from a certificate; the log does not judge
 * the certificate's chain or validity period (a verifier does, against its trust root), as Rekor.
 */
export interface VerifierKey {
  publicKey: KeyObject;
  /** The PEM Rekor keeps in the canonical body: the certificate or key re-encoded from its DER. */
  canonicalPem: string;
  /** The key's form when it was read from its bytes (an EC key's curve and point: no need to ask OpenSSL). */
  form?: PublicKeyForm;
}

/** Candidate SPKIs tried per certificate (an honest one holds one). */
const MAX_CANDIDATES = 4;

/**
 * A certificate's key without OpenSSL's DER export of it (165-240 µs a key on OpenSSL 3, the largest cost of an
 * entry check after the signature itself), when the certificate holds an EC SubjectPublicKeyInfo in the accepted
 * form (ecSpkiCandidates) that is provably its own, and not the same bytes planted in a name or an extension:
 * - OpenSSL's key for the certificate equals the candidate's (KeyObject.equals, EVP_PKEY_eq: same curve, same
 *   point; unlike a JWK export or a details query it is safe on any key OpenSSL imported, the point at infinity
 *   included), and
 * - the point's x coordinate occurs once in the whole certificate. Every encoding of an EC point holds x verbatim
 *   after its form byte, so the certificate's own SPKI has its x at exactly that place, behind the candidate's
 *   bytes: the uncompressed form byte, the BIT STRING header, an accepted named curve. That is the candidate.
 * An EC key no candidate proves is refused by the caller (see parseVerifierKey).
 */
function certifiedEcKey(der: Buffer, certKey: KeyObject): { key: KeyObject; form: PublicKeyForm } | undefined {
  let tried = 0;
  for (const found of ecSpkiCandidates(der)) {
    // An honest certificate holds one; a body stuffed with copies must not buy a key import and a scan per copy.
    if (++tried > MAX_CANDIDATES) return undefined;
    const n = (found.form.point.length - 1) / 2;
    const x = found.form.point.subarray(1, 1 + n);
    if (der.indexOf(x, der.indexOf(x) + 1) >= 0) continue;
    let key: KeyObject;
    try {
      key = importPublicKey(found.spki).key;
    } catch {
      continue;
    }
    if (certKey.equals(key)) return { key, form: found.form };
  }
  return undefined;
}

/**
 * subjectAltName of the certificates parsed last, by canonical PEM: the search keys of an entry
 * (index-keys.ts) are computed right after its body, from the same PEM, and a certificate parse costs as much
 * as the signature check (~170 µs: OpenSSL decodes the key with it). Bounded; a miss just parses again.
 */
const recentSubjectAltNames = new Map<string, string | undefined>();
const RECENT_LIMIT = 64;

function rememberSubjectAltName(pem: string, san: string | undefined): void {
  if (recentSubjectAltNames.size >= RECENT_LIMIT) recentSubjectAltNames.delete(recentSubjectAltNames.keys().next().value!);
  recentSubjectAltNames.set(pem, san);
}

/** The certificate's subjectAltName as node prints it (`email:a@b, URI:...`); undefined when it has none or cannot be parsed. */
export function certificateSubjectAltName(pem: string): string | undefined {
  if (recentSubjectAltNames.has(pem)) return recentSubjectAltNames.get(pem);
  try {
    return new X509Certificate(pem).subjectAltName;
  } catch {
    return undefined;
  }
}

export function parseVerifierKey(pemBytes: Buffer, path: string): VerifierKey {
  const { type, der } = parseSinglePem(pemBytes, path);
  if (type === 'CERTIFICATE') {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(der);
    } catch {
      throw new BadRequestError(`${path} holds a certificate that cannot be parsed`);
    }
    // OpenSSL stops at the end of the outer SEQUENCE; refuse trailing bytes so the stored PEM is exactly it.
    if (!cert.raw.equals(der)) throw new BadRequestError(`${path} certificate has trailing data`);
    // OpenSSL parses a certificate without decoding its key: `publicKey` throws a plain Error for a key it cannot
    // decode (an unknown algorithm OID, a truncated key). That was a 500 (GHSA-843x-px86-vq42: errors, not crashes).
    const canonicalPem = encodePem('CERTIFICATE', der);
    let publicKey: KeyObject;
    try {
      publicKey = cert.publicKey;
      const fast = certifiedEcKey(der, publicKey);
      if (fast) {
        rememberSubjectAltName(canonicalPem, cert.subjectAltName);
        return { publicKey: fast.key, canonicalPem, form: fast.form };
      }
      // Held to the accepted forms before anything asks the key a question (core/public-key.ts: a point at
      // infinity aborts node). Exporting the SPKI throws, never aborts, for such a key. OpenSSL's export is its
      // own DER: a certificate whose key is written another way (RSA without NULL parameters, a negative
      // modulus), which Go's x509 would not read, does not hold these bytes.
      const spki = publicKey.export({ type: 'spki', format: 'der' });
      const form = publicKeyForm(spki);
      if (der.indexOf(spki) < 0) throw new UnsupportedKeyError('a key not written in DER the one way (Go\'s x509 would not read this certificate)');
      // An EC key in the accepted form whose SPKI is the certificate's own is always proved by certifiedEcKey. Here
      // its DER stands somewhere in the certificate, yet the certificate's own SPKI is written another way (a long
      // length, say) or repeats the key's x: either way not the one encoding Go reads, and ambiguous.
      if (form.type === 'ec') throw new UnsupportedKeyError('an EC key whose SubjectPublicKeyInfo is not written in DER the one way, or whose x coordinate the certificate repeats');
    } catch (e) {
      if (e instanceof UnsupportedKeyError) throw new BadRequestError(`${path} holds a certificate whose public key is ${e.message}`, e.malformed ? 'BAD_REQUEST' : 'ALGORITHM_NOT_ALLOWED');
      throw new BadRequestError(`${path} holds a certificate whose public key cannot be parsed`);
    }
    rememberSubjectAltName(canonicalPem, cert.subjectAltName);
    return { publicKey, canonicalPem };
  }
  if (type === 'PUBLIC KEY') {
    let imported: { key: KeyObject; form: PublicKeyForm };
    try {
      imported = importPublicKey(der);
    } catch (e) {
      if (e instanceof UnsupportedKeyError) throw new BadRequestError(`${path} holds ${e.message}`, e.malformed ? 'BAD_REQUEST' : 'ALGORITHM_NOT_ALLOWED');
      throw new BadRequestError(`${path} holds a public key that cannot be parsed`);
    }
    // Go re-marshals the parsed key (cryptoutils.MarshalPublicKeyToPEM); so do we. An EC or Ed25519 key in the
    // accepted form is byte for byte that encoding already (publicKeyForm compares the whole SPKI with it).
    const { key: publicKey, form } = imported;
    const canonicalDer = form.type === 'rsa' ? publicKey.export({ type: 'spki', format: 'der' }) : der;
    return { publicKey, canonicalPem: encodePem('PUBLIC KEY', canonicalDer), form };
  }
  throw new BadRequestError(`${path} PEM type "${type}" is not supported (CERTIFICATE or PUBLIC KEY)`);
}
