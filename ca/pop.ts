import { KeyObject, createPublicKey, verify, webcrypto } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { CertificationRequest } from '@peculiar/asn1-csr';
import { SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import { BadRequestError } from '../core/errors.ts';
import { OID } from './extensions.ts';
import { canonicalP256Point, p256Spki } from '../core/p256-spki.ts';
import type { KeyRequest } from './request.ts';

/**
 * Proof of possession, as Fulcio checks it: either a signature by the key over the principal name (what
 * sigstore-js and cosign send: the token's email, else its `sub`), or a self-signed PKCS#10 CSR. Of a CSR only
 * the key is used: its subject, SANs and extensions are never copied (fulcio#863: identity comes from the token).
 * Only ECDSA P-256 keys are certified (fulcio#490 made upstream refuse weak keys; we take the one curve our
 * verifiers and clients use).
 */

const INVALID_PUBLIC_KEY = 'The public key supplied in the request could not be parsed';
const INVALID_SIGNATURE = 'The signature supplied in the request could not be verified';
const INVALID_CSR = 'The certificate signing request could not be parsed';

export function requireP256(key: KeyObject): void {
  const type = key.asymmetricKeyType;
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (type === 'ec' && curve === 'prime256v1') return;
  const what = type === 'ec' ? `EC key on curve ${curve}` : type === 'rsa' ? `RSA key of ${key.asymmetricKeyDetails?.modulusLength} bits` : `${type} key`;
  throw new BadRequestError(`The public key supplied in the request is insecure or unsupported: only ECDSA P-256 keys are accepted, got ${what}`);
}

/**
 * The DER the client sent for its key: the one `PUBLIC KEY` block of a PEM, else the content's bytes as DER, as
 * upstream's ParsePublicKey reads it. Any other PEM (a PRIVATE KEY, from which OpenSSL would happily derive the
 * public key, a CERTIFICATE, several blocks) is refused.
 */
function submittedSpki(content: string): Buffer {
  if (!content.includes('-----BEGIN')) return Buffer.from(content, 'latin1');
  const m = /^\s*-----BEGIN PUBLIC KEY-----\r?\n([A-Za-z0-9+/=\r\n]+)-----END PUBLIC KEY-----\s*$/.exec(content);
  if (!m) throw new BadRequestError(`${INVALID_PUBLIC_KEY}: a PEM key must be exactly one PUBLIC KEY block`);
  return Buffer.from(m[1]!, 'base64');
}

/**
 * The key of a DER SubjectPublicKeyInfo in any form other than the canonical one (importCanonicalP256). OpenSSL
 * ignores bytes after the key and reads a BIT STRING with unused bits as if it had none; Go's
 * x509.ParsePKIXPublicKey, upstream's parser, refuses both. So the bytes must be exactly asn1-x509's DER
 * encoding of what they parse to before OpenSSL reads them.
 */
export function parsePublicKey(der: Buffer): KeyObject {
  let reencoded: Buffer;
  try {
    reencoded = Buffer.from(AsnConvert.serialize(AsnConvert.parse(der, SubjectPublicKeyInfo)));
  } catch {
    throw new BadRequestError(INVALID_PUBLIC_KEY);
  }
  if (!reencoded.equals(der)) throw new BadRequestError(`${INVALID_PUBLIC_KEY}: not exactly one DER SubjectPublicKeyInfo`);
  try {
    return createPublicKey({ key: der, format: 'der', type: 'spki' });
  } catch {
    throw new BadRequestError(INVALID_PUBLIC_KEY);
  }
}

/**
 * A canonical P-256 key (named curve, uncompressed point: what every client sends) as a KeyObject, imported
 * from its point: OpenSSL 3 decodes a DER or PEM key through its generic decoders at twice the cost of a
 * signature check; WebCrypto's raw import sets the point directly (~20% cheaper than a JWK import) and still
 * refuses a point off the curve. Undefined when `spki` is any other form, which then goes through the generic import.
 */
async function importCanonicalP256(spki: Buffer): Promise<KeyObject | undefined> {
  const point = canonicalP256Point(spki);
  if (!point) return undefined;
  return KeyObject.from(await webcrypto.subtle.importKey('raw', point, { name: 'ECDSA', namedCurve: 'P-256' }, true, ['verify']));
}

/** The key the client sent, and its DER when that DER is already what the certificate should carry. */
interface SubmittedKey {
  key: KeyObject;
  canonicalSpki?: Buffer;
}

/** The key of a `publicKeyRequest`: its canonical P-256 form imported from the point, any other form parsed strictly. */
async function readSubmittedKey(content: string): Promise<SubmittedKey & { submitted: Buffer }> {
  const submitted = submittedSpki(content);
  let fast: KeyObject | undefined;
  try {
    fast = await importCanonicalP256(submitted);
  } catch {
    throw new BadRequestError(INVALID_PUBLIC_KEY); // a point off the curve
  }
  if (fast) return { key: fast, canonicalSpki: submitted, submitted };
  return { key: parsePublicKey(submitted), canonicalSpki: undefined, submitted };
}

/**
 * The DER SubjectPublicKeyInfo node:crypto exports for `key` (what the certificate carries, so only a key node
 * could read, in node's form, is certified). Exporting costs about as much as parsing, so when the client sent
 * the common form (named curve P-256, uncompressed point) it is rebuilt from the key's point and compared with
 * what was sent: equal bytes are what node would export. Any other form (a compressed point, which node keeps
 * compressed) goes through node's export.
 */
export function spkiOf(key: KeyObject, submitted: Buffer | undefined): Buffer {
  if (submitted && key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') {
    const jwk = key.export({ format: 'jwk' });
    if (jwk.x && jwk.y) {
      const canonical = p256Spki(Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x, 'base64url'), Buffer.from(jwk.y, 'base64url')]));
      if (canonical.equals(submitted)) return canonical;
    }
  }
  return key.export({ type: 'spki', format: 'der' });
}

function checkSignature(key: KeyObject, data: Buffer, signature: Buffer, message: string): void {
  let ok = false;
  try {
    ok = verify('sha256', data, { key, dsaEncoding: 'der' }, signature);
  } catch {
    ok = false;
  }
  if (!ok) throw new BadRequestError(message);
}

/** A PEM CERTIFICATE REQUEST's DER (cryptoutils.ParseCSR accepts the two PKCS#10 labels). */
function csrDer(pem: Buffer): Buffer {
  const m = /-----BEGIN (NEW )?CERTIFICATE REQUEST-----([A-Za-z0-9+/=\s]+)-----END (NEW )?CERTIFICATE REQUEST-----/.exec(pem.toString('latin1'));
  if (!m) throw new BadRequestError(INVALID_CSR);
  return Buffer.from(m[2]!.replace(/\s+/g, ''), 'base64');
}

/** Verifies a CSR's self-signature (ECDSA with SHA-256 over the exact CertificationRequestInfo bytes) and returns its key. */
export function keyFromCsr(pem: Buffer): KeyObject {
  let csr: CertificationRequest;
  let key: KeyObject;
  try {
    const der = csrDer(pem);
    csr = AsnConvert.parse(der, CertificationRequest);
    // As Go's x509.ParseCertificateRequest (upstream): exactly one DER CSR, no trailing bytes, no other outer tag,
    // no unused bits in its BIT STRINGs. OpenSSL and asn1js alone let each of those through.
    if (!Buffer.from(AsnConvert.serialize(csr)).equals(der)) throw new BadRequestError(`${INVALID_CSR}: not exactly one DER CertificationRequest`);
    key = createPublicKey({ key: Buffer.from(AsnConvert.serialize(csr.certificationRequestInfo.subjectPKInfo)), format: 'der', type: 'spki' });
  } catch (err) {
    if (err instanceof BadRequestError) throw err;
    throw new BadRequestError(INVALID_CSR);
  }
  requireP256(key);
  if (csr.signatureAlgorithm.algorithm !== OID.ecdsaWithSha256 || !csr.certificationRequestInfoRaw) {
    throw new BadRequestError('certificate signing request must be signed with ECDSA and SHA-256');
  }
  checkSignature(key, Buffer.from(csr.certificationRequestInfoRaw), Buffer.from(csr.signature), INVALID_SIGNATURE);
  return key;
}

/**
 * Checks possession of the key in `request` for `principalName` and returns the DER SubjectPublicKeyInfo to
 * certify (re-exported by node:crypto, so only a well-formed, uncompressed key reaches the certificate).
 */
export async function proveKeyPossession(request: KeyRequest, principalName: string): Promise<Buffer> {
  if (request.kind === 'csr') return spkiOf(keyFromCsr(request.csr), undefined);
  const { key, canonicalSpki, submitted } = await readSubmittedKey(request.content);
  // a key imported from P-256 coordinates is P-256; asking OpenSSL again costs ~25 µs per fresh key
  if (!canonicalSpki) requireP256(key);
  checkSignature(key, Buffer.from(principalName, 'utf8'), request.proof, INVALID_SIGNATURE);
  // a key imported from its coordinates was sent in exactly the form node exports (the prefix matched)
  return canonicalSpki ?? spkiOf(key, submitted);
}
