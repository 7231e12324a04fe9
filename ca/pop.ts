import { KeyObject, verify, webcrypto } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { CertificationRequest } from '@peculiar/asn1-csr';
import { BadRequestError } from '../core/errors.ts';
import { OID } from './extensions.ts';
import { canonicalP256Point } from '../core/p256-spki.ts';
import { describe, importPublicKey, publicKeyForm, UnsupportedKeyError } from '../core/public-key.ts';
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

/**
 * The refusal for any key other than the one accepted form (named-curve P-256, uncompressed point), naming what
 * was sent. Compressed and hybrid points and explicit curve parameters are refused too: Go's x509 (cosign,
 * sigstore-go) cannot read a certificate carrying them, and a point at infinity in such a form would abort node
 * when asked about it (core/public-key.ts). So no KeyObject is made of any other form.
 */
function unsupportedKey(spki: Buffer): BadRequestError {
  let what: string;
  try {
    what = describe(publicKeyForm(spki));
  } catch (e) {
    what = e instanceof UnsupportedKeyError ? e.message : 'a key that cannot be parsed';
  }
  return new BadRequestError(`The public key supplied in the request is insecure or unsupported: only ECDSA P-256 keys (named curve, uncompressed point) are accepted, got ${what}`);
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
 * The key of a `publicKeyRequest`, which must be a canonical P-256 key (named curve, uncompressed point: what every
 * client sends), imported from its point: OpenSSL 3 decodes a DER or PEM key through its generic decoders at twice
 * the cost of a signature check; WebCrypto's raw import sets the point directly (~20% cheaper than a JWK import)
 * and refuses a point off the curve. The DER sent is then exactly what the certificate carries.
 */
async function readSubmittedKey(content: string): Promise<{ key: KeyObject; spki: Buffer }> {
  const spki = submittedSpki(content);
  const point = canonicalP256Point(spki);
  if (!point) throw unsupportedKey(spki);
  try {
    return { key: KeyObject.from(await webcrypto.subtle.importKey('raw', point, { name: 'ECDSA', namedCurve: 'P-256' }, true, ['verify'])), spki };
  } catch {
    throw new BadRequestError(`${INVALID_PUBLIC_KEY}: the point is not on the P-256 curve`);
  }
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

/**
 * Verifies a CSR's self-signature (ECDSA with SHA-256 over the exact CertificationRequestInfo bytes) and returns
 * its key, which must be in the one accepted form (as a publicKeyRequest's), with the DER the certificate carries.
 */
export function keyFromCsr(pem: Buffer): { key: KeyObject; spki: Buffer } {
  let csr: CertificationRequest;
  let spki: Buffer;
  try {
    const der = csrDer(pem);
    csr = AsnConvert.parse(der, CertificationRequest);
    // As Go's x509.ParseCertificateRequest (upstream): exactly one DER CSR, no trailing bytes, no other outer tag,
    // no unused bits in its BIT STRINGs. OpenSSL and asn1js alone let each of those through.
    if (!Buffer.from(AsnConvert.serialize(csr)).equals(der)) throw new BadRequestError(`${INVALID_CSR}: not exactly one DER CertificationRequest`);
    spki = Buffer.from(AsnConvert.serialize(csr.certificationRequestInfo.subjectPKInfo));
  } catch (err) {
    if (err instanceof BadRequestError) throw err;
    throw new BadRequestError(INVALID_CSR);
  }
  let key: KeyObject;
  try {
    key = importPublicKey(spki, (form) => form.type === 'ec' && form.curve === 'P-256').key;
  } catch {
    throw unsupportedKey(spki);
  }
  if (csr.signatureAlgorithm.algorithm !== OID.ecdsaWithSha256 || !csr.certificationRequestInfoRaw) {
    throw new BadRequestError('certificate signing request must be signed with ECDSA and SHA-256');
  }
  checkSignature(key, Buffer.from(csr.certificationRequestInfoRaw), Buffer.from(csr.signature), INVALID_SIGNATURE);
  return { key, spki };
}

/**
 * Checks possession of the key in `request` for `principalName` and returns the DER SubjectPublicKeyInfo to
 * certify: exactly the canonical P-256 form the client sent, the only form accepted.
 */
export async function proveKeyPossession(request: KeyRequest, principalName: string): Promise<Buffer> {
  if (request.kind === 'csr') return keyFromCsr(request.csr).spki;
  const { key, spki } = await readSubmittedKey(request.content);
  checkSignature(key, Buffer.from(principalName, 'utf8'), request.proof, INVALID_SIGNATURE);
  return spki;
}
