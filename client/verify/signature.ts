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

export function verifyMessageSignature(artifact: Uint8Array, signature: Buffer, key: KeyObject): void {
  let ok = false;
  try {
    ok = cryptoVerify('sha256', artifact, key, signature);
  } catch {
    ok = false; // malformed DER signature
  }
  if (!ok) throw new VerificationError('SIGNATURE', 'the signature does not verify over the artifact with the certificate key');
}
