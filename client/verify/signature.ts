/**
 * The message signature: ECDSA P-256 over SHA-256 of the artifact, by the certificate's key, and the bundle's
 * messageDigest must be the artifact's SHA-256 (sigstore-python#1652, sigstore-go#600): a bundle whose hint
 * disagrees with what it signs is refused even though the signature alone would decide.
 */
import { createHash, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { VerificationError } from '../../core/errors.ts';

export function artifactDigest(artifact: Uint8Array): Buffer {
  return createHash('sha256').update(artifact).digest();
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

export function verifyMessageSignature(artifact: Uint8Array, signature: Buffer, key: KeyObject): void {
  if (!signatureVerifies(artifact, key, signature)) throw new VerificationError('SIGNATURE', 'the signature does not verify over the artifact with the certificate key');
}

/** The DER of a managed verification key (`--key`), which must be an ECDSA P-256 public key. */
export function managedKeyDer(publicKey: KeyObject): Buffer {
  if (publicKey?.type !== 'public' || publicKey.asymmetricKeyType !== 'ec' || publicKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new VerificationError('POLICY', 'the verification key must be an ECDSA P-256 public key');
  }
  return publicKey.export({ type: 'spki', format: 'der' });
}
