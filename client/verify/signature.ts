/**
 * The message signature: ECDSA P-256 over SHA-256 of the artifact, by the certificate's key, and the bundle's
 * messageDigest must be the artifact's SHA-256 (sigstore-python#1652, sigstore-go#600): a bundle whose hint
 * disagrees with what it signs is refused even though the signature alone would decide.
 *
 * The artifact is its bytes or only its SHA-256: a caller that streams a file too large to hold (`sigstack
 * verify`) gives the digest. Every check is then made against that digest, and the signature is checked as a
 * prehashed ECDSA P-256 verification over it, which is the same equation ECDSA-SHA256 over the bytes reduces to.
 * Bytes keep node:crypto's verify, the fast path.
 */
import { createHash, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { p256 } from '@noble/curves/nist';
import { verifyEcdsaDigest } from '../../core/ecdsa-digest-verify.ts';
import { VerificationError } from '../../core/errors.ts';

/** What callers may give as the artifact: its bytes, or its SHA-256 (32 bytes) computed by the caller. */
export type ArtifactInput = Uint8Array | { sha256: Uint8Array };

/**
 * The artifact as given, checked: bytes as they are, a digest copied (so nothing the caller does later changes
 * what was checked). Anything else is the caller's mistake (POLICY), never taken for "no artifact to check":
 * a digest of another size (SHA-512, a hex string's bytes) or an object with other fields is refused.
 */
export function checkArtifact(artifact: unknown): ArtifactInput {
  if (artifact instanceof Uint8Array) return artifact;
  if (typeof artifact !== 'object' || artifact === null || Object.keys(artifact).join() !== 'sha256') {
    throw new VerificationError('POLICY', 'the artifact must be bytes or { sha256 } (its SHA-256 digest)');
  }
  const sha256 = (artifact as { sha256: unknown }).sha256;
  if (!(sha256 instanceof Uint8Array) || sha256.length !== 32) {
    throw new VerificationError('POLICY', `the artifact digest must be a SHA-256 digest of 32 bytes${sha256 instanceof Uint8Array ? `, not ${sha256.length}` : ''}`);
  }
  return { sha256: Buffer.from(sha256) };
}

/** The artifact's SHA-256: hashed from the bytes, or the digest given (checked by checkArtifact). */
export function artifactDigest(artifact: ArtifactInput): Buffer {
  if (artifact instanceof Uint8Array) return createHash('sha256').update(artifact).digest();
  return Buffer.from(artifact.sha256);
}

export function verifyMessageDigest(messageDigest: Buffer, digest: Buffer): void {
  if (!messageDigest.equals(digest)) throw new VerificationError('DIGEST', "the bundle's message digest is not the SHA-256 of the artifact");
}

/** Whether `signature` verifies over `data` with `key` and SHA-256; a malformed signature is a plain false, never a throw. */
export function signatureVerifies(data: Uint8Array, key: KeyObject, signature: Uint8Array): boolean {
  try {
    return cryptoVerify('sha256', data, key, signature);
  } catch {
    return false;
  }
}

/**
 * Whether `signature` is an ECDSA P-256 signature by `key` over the SHA-256 `digest` (no hashing here: node:crypto
 * cannot do that, see core/ecdsa-digest-verify.ts). The key's point comes from OpenSSL's own parse of the key.
 */
function digestSignatureVerifies(digest: Uint8Array, key: KeyObject, signature: Uint8Array): boolean {
  const jwk = key.export({ format: 'jwk' });
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || typeof jwk.x !== 'string' || typeof jwk.y !== 'string') return false;
  const point = Buffer.concat([Buffer.of(4), Buffer.from(jwk.x, 'base64url'), Buffer.from(jwk.y, 'base64url')]);
  if (point.length !== 65) return false;
  return verifyEcdsaDigest(p256, 'prime256v1', point, digest, signature);
}

/** Whether `signature` by `key` verifies over the artifact: its bytes (node:crypto), or its given SHA-256 (prehashed). */
export function artifactSignatureVerifies(artifact: ArtifactInput, key: KeyObject, signature: Uint8Array): boolean {
  if (artifact instanceof Uint8Array) return signatureVerifies(artifact, key, signature);
  return digestSignatureVerifies(artifact.sha256, key, signature);
}

export function verifyMessageSignature(artifact: ArtifactInput, signature: Buffer, key: KeyObject): void {
  if (!artifactSignatureVerifies(artifact, key, signature)) throw new VerificationError('SIGNATURE', 'the signature does not verify over the artifact with the certificate key');
}

/** The DER of a managed verification key (`--key`), which must be an ECDSA P-256 public key. */
export function managedKeyDer(publicKey: KeyObject): Buffer {
  if (publicKey?.type !== 'public' || publicKey.asymmetricKeyType !== 'ec' || publicKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new VerificationError('POLICY', 'the verification key must be an ECDSA P-256 public key');
  }
  return publicKey.export({ type: 'spki', format: 'der' });
}
