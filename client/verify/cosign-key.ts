/**
 * cosign signatures made with a managed key (`--key cosign.key`) instead of a certificate: the signature must
 * verify with the given public key, and the SET bundle's hashedrekord must name exactly that key, this payload's
 * digest and this signature, with an inclusion promise from a trusted log (checked before its time is used).
 * There is no identity to match: the key is the policy.
 */
import { createHash, type KeyObject } from 'node:crypto';
import { VerificationError } from '../../core/errors.ts';
import type { TrustMaterial } from '../trusted-root.ts';
import { readSetAndSignature, type DetachedVerification } from './cosign.ts';
import { pemPublicKey, readHashedRekordBody } from './tlog-body.ts';
import { verifyManagedKeyEntry } from './tlog.ts';
import { failClosed } from './fail-closed.ts';
import { signatureVerifies } from './signature.ts';

function loggedKeyEntry(body: Buffer): { digest: Buffer; signature: Buffer; keyDer: Buffer } {
  const { digest, signature, publicKeyPem } = readHashedRekordBody(body, 16 * 1024);
  const keyDer = pemPublicKey(publicKeyPem);
  if (!keyDer) throw new VerificationError('TLOG_BODY', 'tlog entry body: spec.signature.publicKey.content: not a single PEM public key (a certificate is not a managed key)');
  return { digest, signature, keyDer };
}

export function verifyCosignKeySignature(trust: TrustMaterial, sig: { payload: Uint8Array; signature: string; bundle?: string }, publicKey: KeyObject, nowMs = Date.now()): DetachedVerification {
  return failClosed(() => {
    const { entry, signature } = readSetAndSignature(sig);
    const logged = loggedKeyEntry(entry.canonicalizedBody);
    if (!logged.digest.equals(createHash('sha256').update(sig.payload).digest())) throw new VerificationError('TLOG_BODY', 'tlog entry body: the logged digest is not the SHA-256 of the payload');
    if (!logged.signature.equals(signature)) throw new VerificationError('TLOG_BODY', 'tlog entry body: the logged signature is not this signature');
    if (!logged.keyDer.equals(publicKey.export({ type: 'spki', format: 'der' }))) throw new VerificationError('TLOG_BODY', 'tlog entry body: the logged key is not the given key');
    if (!signatureVerifies(sig.payload, publicKey, signature)) throw new VerificationError('SIGNATURE', 'the signature does not verify over the payload with the given key');
    const { log, timeMs } = verifyManagedKeyEntry(entry, trust, nowMs);
    return {
      identity: 'key', issuer: '', integratedTime: entry.integratedTime, logIndex: entry.logIndex,
      checks: [
        'tlog entry: a hashedrekord of this payload\'s digest, this signature and the given key',
        'signature: verifies over the payload with the given key',
        `inclusion promise (SET): signed by the transparency log ${log.baseUrl} (verified offline)`,
        `integrated time: ${new Date(timeMs).toISOString()}, not in the future, within the log key's validity`,
      ],
    };
  });
}
