/**
 * Bundles signed with a managed key (`sigstack sign --key`, `cosign sign-blob --key --new-bundle-format`,
 * sigstore-js with a key Signer): verificationMaterial is `publicKey: {hint}`, and the verifier is GIVEN the key.
 * The key is the whole policy: there is no certificate, chain, SCT or identity to check.
 *
 * Checks, in the bundle verifier's order: the message digest is the artifact's; the tlog entry is a hashedrekord
 * of exactly this digest, this signature and exactly the given public key (a body naming another key, or a
 * certificate, is refused: sigstore-go#611, GHSA-whqx-f9j3-ch6m); the SET verifies before its time is used; the
 * time is not in the future and inside the log key's validity; the inclusion proof and checkpoint; the signature
 * over the artifact with the given key. The hint is unauthenticated, so it decides nothing: it is reported.
 */
import { createHash, type KeyObject } from 'node:crypto';
import { VerificationError } from '../../core/errors.ts';
import { parseKeyBundle, type ParsedKeyBundle } from '../bundle.ts';
import type { TrustMaterial } from '../trusted-root.ts';
import type { BoundedCache } from './cache.ts';
import { artifactDigest, artifactSignatureVerifies, checkArtifact, managedKeyDer, verifyMessageDigest, type ArtifactInput } from './signature.ts';
import { shape } from './strict-json.ts';
import { pemPublicKey, readHashedRekordBody } from './tlog-body.ts';
import { verifyInclusion, verifyManagedKeyEntry, type VerifiedCheckpoint } from './tlog.ts';

export interface KeyVerifyRequest {
  /** The artifact's bytes, or its SHA-256 as `{ sha256 }` (32 bytes) for a file streamed through the hash. */
  artifact: ArtifactInput;
  /** The bundle: parsed JSON, JSON text or bytes. */
  bundle: unknown;
  /** The signer's public key (cosign.pub): ECDSA P-256. */
  publicKey: KeyObject;
}

export interface KeyVerificationResult {
  /** base64 SHA-256 of the given key's DER (the hint sigstore-go writes). */
  keyHint: string;
  integratedTime: number;
  logIndex: number;
  checks: string[];
}

function parse(bundle: unknown): ParsedKeyBundle {
  return shape(() => parseKeyBundle(bundle), 'BUNDLE', 'bundle');
}

/** The logged hashedrekord must carry exactly this digest, this signature and exactly the given key. */
function verifyKeyTlogBody(body: Buffer, digest: Buffer, signature: Buffer, expectedKeyDer: Buffer): void {
  const logged = readHashedRekordBody(body, 16 * 1024);
  const fail = (m: string): never => {
    throw new VerificationError('TLOG_BODY', `tlog entry body: ${m}`);
  };
  if (!logged.digest.equals(digest)) fail('the logged digest is not the SHA-256 of the artifact');
  if (!logged.signature.equals(signature)) fail('the logged signature is not the bundle signature');
  const der = pemPublicKey(logged.publicKeyPem);
  if (!der) fail('spec.signature.publicKey.content: not a single PEM public key (a certificate is not a managed key)');
  if (!der!.equals(expectedKeyDer)) fail('the logged public key is not the given key');
}

export function verifyKeyBundle(trust: TrustMaterial, request: KeyVerifyRequest, nowMs: number, checkpoints: BoundedCache<string, VerifiedCheckpoint>): KeyVerificationResult {
  const { bundle, publicKey } = request;
  const artifact = checkArtifact(request.artifact);
  const expectedKeyDer = managedKeyDer(publicKey);
  const hint = createHash('sha256').update(expectedKeyDer).digest('base64');
  const b = parse(bundle);
  const entry = b.tlogEntry;
  const checks = [`bundle: ${b.mediaType}, message signature, public key material, one hashedrekord 0.0.1 tlog entry, no unknown fields`];

  const digest = artifactDigest(artifact);
  verifyMessageDigest(b.messageDigest, digest);
  checks.push('message digest: equals the SHA-256 of the artifact');
  verifyKeyTlogBody(entry.canonicalizedBody, digest, b.signature, expectedKeyDer);
  checks.push('tlog entry: its digest, signature and public key are the artifact\'s, the bundle\'s and exactly the given key');

  const { log, timeMs } = verifyManagedKeyEntry(entry, trust, nowMs);
  checks.push(`inclusion promise (SET): signed by the transparency log ${log.baseUrl}`);
  checks.push(`integrated time: ${new Date(timeMs).toISOString()}, not in the future, within the log key's validity`);
  verifyInclusion(entry, log, checkpoints);
  checks.push(`inclusion proof: entry ${entry.logIndex} is in the tree of size ${entry.inclusionProof.treeSize}, whose checkpoint the log signed`);

  if (!artifactSignatureVerifies(artifact, publicKey, b.signature)) throw new VerificationError('SIGNATURE', 'the signature does not verify over the artifact with the given key');
  checks.push('signature: verifies over the artifact with the given public key');
  checks.push(b.keyHint === hint ? `key hint: ${hint}, the given key's` : `key hint: ${JSON.stringify(b.keyHint.slice(0, 100))} is not the given key's ${hint} (the hint is unauthenticated and decides nothing)`);
  return { keyHint: hint, integratedTime: entry.integratedTime, logIndex: entry.logIndex, checks };
}
