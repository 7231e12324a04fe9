import type { Signer } from '../../core/signer.ts';
import { canonicalJson } from '../kinds/canonical-json.ts';

/**
 * The signed entry timestamp (SET, bundle "inclusion promise"): the log's signature over RFC 8785 JSON of
 * `{body, integratedTime, logID, logIndex}`, which is what Rekor signs (models.LogEntryAnon without
 * `verification`) and what sigstore-js / sigstore-go rebuild to check it. It binds the body to its index
 * and integration time, so a verifier can trust `integratedTime` only through it (sigstore-js#1659).
 */
export interface SetPayload {
  /** base64 of the canonical body. */
  body: string;
  /** Seconds since the epoch. */
  integratedTime: number;
  /** hex SHA-256 of the log key's DER SPKI. */
  logID: string;
  logIndex: number;
}

/** The exact bytes that are signed. */
export function setPayloadBytes(payload: SetPayload): Buffer {
  // Only these four fields, whatever else the caller's object holds.
  const { body, integratedTime, logID, logIndex } = payload;
  return canonicalJson({ body, integratedTime, logID, logIndex });
}

/** DER ECDSA-SHA256 signature by the log key over the SET payload. */
export function signEntryTimestamp(signer: Signer, payload: SetPayload): Buffer {
  return signer.sign(setPayloadBytes(payload));
}
