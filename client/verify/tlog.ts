/**
 * Transparency log proofs for the bundle's one entry:
 *  - the SET (inclusion promise) is the log's signature over {body, integratedTime, logID, logIndex}; the
 *    integrated time is trusted only after it verifies (sigstore-js#1659, GHSA-hhfg-fwrw-87w7, TOB-SIGSTORE-3);
 *  - the integrated time may not be in the future, not even by a second (TOB-SIGSTORE-7), and must fall in
 *    the log key's validFor;
 *  - the inclusion proof must lead from the body's leaf hash to the proof's root hash, and the checkpoint,
 *    signed by the log key under the log's name (key hint = log id[0:4], rekor#2214), must be for exactly that
 *    tree size and root (rekor#1092, exact bytes: rekor#2861).
 */
import { VerificationError } from '../../core/errors.ts';
import { verifyCheckpoint } from '../../log/checkpoint.ts';
import { leafHash } from '../../log/merkle/hash.ts';
import { rootFromInclusionProof } from '../../log/merkle/verify.ts';
import type { ParsedTlogEntry } from '../bundle.ts';
import { inWindow, type TrustedLog, type TrustMaterial } from '../trusted-root.ts';
import type { BoundedCache } from './cache.ts';
import { signatureVerifies } from './signature.ts';

export function findLog(entry: Pick<ParsedTlogEntry, 'logId'>, trust: TrustMaterial): TrustedLog {
  const id = entry.logId.toString('hex');
  const log = trust.tlogs.get(id);
  const unusable = trust.unusableLogs.get(id);
  if (!log && unusable) throw new VerificationError('TLOG', `the entry's log ${id} is in the trusted root but cannot be verified here: ${unusable}`);
  if (!log) throw new VerificationError('TLOG', `the entry's log id ${entry.logId.toString('hex')} is not a trusted transparency log`);
  return log;
}

/** The SET payload, RFC 8785 canonical JSON. Keys are already in sorted order and base64/hex need no escaping. */
/** The fields the SET covers (a cosign signature's bundle annotation carries only these, no inclusion proof). */
export type SetFields = Pick<ParsedTlogEntry, 'canonicalizedBodyBase64' | 'integratedTime' | 'logId' | 'logIndex'>;

function setPayload(entry: SetFields): Buffer {
  return Buffer.from(
    `{"body":"${entry.canonicalizedBodyBase64}","integratedTime":${entry.integratedTime},"logID":"${entry.logId.toString('hex')}","logIndex":${entry.logIndex}}`,
  );
}

export function verifySet(entry: SetFields & Pick<ParsedTlogEntry, 'signedEntryTimestamp'>, log: TrustedLog): void {
  if (!signatureVerifies(setPayload(entry), log.publicKey, entry.signedEntryTimestamp)) throw new VerificationError('SET', 'the inclusion promise (SET) does not verify for this entry with the log key');
}

/** After the SET verified: the integrated time (ms) is plausible for this log and this certificate. */
export function checkIntegratedTime(entry: Pick<ParsedTlogEntry, 'integratedTime'>, log: TrustedLog, nowMs: number, leaf: { notBefore: number; notAfter: number }): number {
  const t = entry.integratedTime * 1000;
  const iso = new Date(t).toISOString();
  if (t > nowMs) throw new VerificationError('TIME', `the integrated time ${iso} is in the future`);
  // integratedTime counts whole seconds (the entry went in during that second), so the key's start is compared
  // at that resolution: a log created at 12:00:00.600 may integrate an entry at 12:00:00.900, logged as 12:00:00.
  const keyWindow = { start: Math.floor(log.validFor.start / 1000) * 1000, end: log.validFor.end };
  if (!inWindow(keyWindow, t)) throw new VerificationError('TIME', `the integrated time ${iso} is outside the log key's validity`);
  if (t < leaf.notBefore || t > leaf.notAfter) throw new VerificationError('TIME', `the integrated time ${iso} is outside the signing certificate's validity`);
  return t;
}

/**
 * An entry signed with a managed key: the SET from the trusted log it names, verified before its time is used, then
 * that time. A managed key has no validity window of its own, so only the log key's bounds the time.
 */
export function verifyManagedKeyEntry(entry: SetFields & Pick<ParsedTlogEntry, 'signedEntryTimestamp'>, trust: TrustMaterial, nowMs: number): { log: TrustedLog; timeMs: number } {
  const log = findLog(entry, trust);
  verifySet(entry, log);
  return { log, timeMs: checkIntegratedTime(entry, log, nowMs, { notBefore: -Infinity, notAfter: Infinity }) };
}

export interface VerifiedCheckpoint {
  size: number;
  rootHash: Buffer;
}

/** Inclusion proof and checkpoint. Verified checkpoints are cached by log and text: many entries share one. */
export function verifyInclusion(entry: ParsedTlogEntry, log: TrustedLog, checkpoints: BoundedCache<string, VerifiedCheckpoint>): void {
  const proof = entry.inclusionProof;
  let root: Buffer;
  try {
    root = rootFromInclusionProof(leafHash(entry.canonicalizedBody), proof.logIndex, proof.treeSize, proof.hashes);
  } catch (e) {
    throw new VerificationError('TLOG_INCLUSION', `the inclusion proof is malformed (${(e as Error).message})`);
  }
  if (!root.equals(proof.rootHash)) throw new VerificationError('TLOG_INCLUSION', 'the inclusion proof does not lead to its root hash');

  const key = `${log.host}\n${proof.checkpoint}`;
  let checkpoint = checkpoints.get(key);
  if (!checkpoint) {
    let verified: ReturnType<typeof verifyCheckpoint>;
    try {
      verified = verifyCheckpoint(proof.checkpoint, [{ name: log.host, publicKey: log.publicKey, keyId: log.logId }]);
    } catch (e) {
      throw new VerificationError('CHECKPOINT', `the checkpoint is not signed by the log ${log.host} (${(e as Error).message})`);
    }
    const { origin } = verified;
    // Rekor's origin is "<name> - <tree id>": a checkpoint of another log signed with the same key is not this log's.
    if (origin !== log.host && !(origin.startsWith(`${log.host} - `) && /^\d+$/.test(origin.slice(log.host.length + 3)))) {
      throw new VerificationError('CHECKPOINT', `the checkpoint origin "${origin.slice(0, 100)}" is not the log ${log.host}`);
    }
    checkpoint = { size: verified.size, rootHash: verified.rootHash };
    checkpoints.set(key, checkpoint);
  }
  if (checkpoint.size !== proof.treeSize) throw new VerificationError('CHECKPOINT', `the checkpoint is for tree size ${checkpoint.size}, the proof for ${proof.treeSize}`);
  if (!checkpoint.rootHash.equals(proof.rootHash)) throw new VerificationError('CHECKPOINT', "the checkpoint's root hash differs from the proof's");
}
