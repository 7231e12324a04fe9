import { createHash } from 'node:crypto';
import { BadRequestError } from '../../core/errors.ts';
import { canonicalJson } from './canonical-json.ts';
import type { EntryKind } from './index.ts';
import { decodeBase64, readObject, readString, wellFormed } from './strict-json.ts';
import { parseVerifierKey } from './verifier-key.ts';
import { preAuthEncoding, verifiesEnvelopeSignature } from './dsse-signature.ts';

/**
 * dsse v0.0.1: a DSSE envelope (in-toto attestations) with the keys or certificates that signed it.
 * Wire shape (upstream dsse_v0_0_1_schema.json): spec: { proposedContent: { envelope: JSON text of the
 * envelope, verifiers: [b64 PEM, ...] } }. As upstream, EVERY signature of the envelope must verify with one
 * of the verifiers over the DSSE pre-authentication encoding, and the canonical body keeps only what the
 * server computed: the SHA-256 of the envelope text as sent, the SHA-256 of the decoded payload, and
 * {signature, verifier} pairs sorted by signature; the envelope itself is not kept.
 * Null or empty fields (GHSA-frqx-jfcm-6jjr, GHSA-273p-m2cw-6833) are 400s, never a crash.
 */

const MAX_ENVELOPE = 1024 * 1024;
const MAX_SIGNATURES = 16;
const MAX_VERIFIERS = 16;

interface DsseContent {
  envelopeHash: Buffer;
  payloadHash: Buffer;
  signatures: { signature: string; verifierPem: string }[];
}

export function readDsseSpec(spec: unknown): DsseContent {
  const s = readObject(spec, 'spec', ['proposedContent', 'envelopeHash', 'payloadHash', 'signatures'], []);
  if (s.envelopeHash !== undefined || s.payloadHash !== undefined || s.signatures !== undefined) {
    throw new BadRequestError('spec: envelopeHash, payloadHash and signatures are computed by the log; send proposedContent only');
  }
  const pc = readObject(s.proposedContent, 'spec.proposedContent', ['envelope', 'verifiers'], ['envelope', 'verifiers']);
  const envelopeText = readString(pc.envelope, 'spec.proposedContent.envelope');
  if (Buffer.byteLength(envelopeText) > MAX_ENVELOPE) throw new BadRequestError(`spec.proposedContent.envelope is larger than ${MAX_ENVELOPE} bytes`);
  if (!Array.isArray(pc.verifiers) || pc.verifiers.length === 0) throw new BadRequestError('spec.proposedContent.verifiers must be a non-empty array');
  if (pc.verifiers.length > MAX_VERIFIERS) throw new BadRequestError(`spec.proposedContent.verifiers: more than ${MAX_VERIFIERS}`);
  const keys = pc.verifiers.map((v, i) => {
    const path = `spec.proposedContent.verifiers[${i}]`;
    return parseVerifierKey(decodeBase64(readString(v, path), path), path);
  });

  let env: unknown;
  try {
    env = JSON.parse(envelopeText);
  } catch {
    throw new BadRequestError('spec.proposedContent.envelope is not JSON');
  }
  const e = readObject(env, 'envelope', ['payload', 'payloadType', 'signatures'], ['payload', 'payloadType', 'signatures']);
  const payload = decodeBase64(readString(e.payload, 'envelope.payload'), 'envelope.payload');
  const payloadType = readString(e.payloadType, 'envelope.payloadType');
  if (!Array.isArray(e.signatures) || e.signatures.length === 0) throw new BadRequestError('envelope.signatures must be a non-empty array');
  if (e.signatures.length > MAX_SIGNATURES) throw new BadRequestError(`envelope.signatures: more than ${MAX_SIGNATURES}`);
  const pae = preAuthEncoding(payloadType, payload);
  // Keyed by signature text as upstream (a repeated signature is one entry).
  const bySignature = new Map<string, string>();
  e.signatures.forEach((item, i) => {
    const path = `envelope.signatures[${i}]`;
    const sigObj = readObject(item, path, ['keyid', 'sig'], ['sig']);
    if (sigObj.keyid !== undefined && typeof sigObj.keyid !== 'string') throw new BadRequestError(`${path}.keyid must be a string`);
    if (typeof sigObj.keyid === 'string') wellFormed(sigObj.keyid, `${path}.keyid`);
    const sigText = readString(sigObj.sig, `${path}.sig`);
    const sig = decodeBase64(sigText, `${path}.sig`);
    // A repeated signature is checked once: each check tries every verifier, and repeats cost work, not trust.
    if (bySignature.has(sigText)) return;
    const key = keys.find((k) => verifiesEnvelopeSignature(k.publicKey, pae, sig));
    if (!key) throw new BadRequestError(`${path}: no verifier verifies this signature (every signature must)`, 'INVALID_SIGNATURE');
    bySignature.set(sigText, key.canonicalPem);
  });
  const signatures = [...bySignature.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([signature, verifierPem]) => ({ signature, verifierPem }));
  return {
    envelopeHash: createHash('sha256').update(envelopeText, 'utf8').digest(),
    payloadHash: createHash('sha256').update(payload).digest(),
    signatures,
  };
}

/** The canonical body, RFC 8785, as Rekor's dsse v0.0.1 Canonicalize (no proposedContent). */
export function dsseBody(content: DsseContent): Buffer {
  return canonicalJson({
    apiVersion: '0.0.1',
    kind: 'dsse',
    spec: {
      envelopeHash: { algorithm: 'sha256', value: content.envelopeHash.toString('hex') },
      payloadHash: { algorithm: 'sha256', value: content.payloadHash.toString('hex') },
      signatures: content.signatures.map((s) => ({ signature: s.signature, verifier: Buffer.from(s.verifierPem, 'utf8').toString('base64') })),
    },
  });
}

export const dsseV001: EntryKind = {
  kind: 'dsse',
  apiVersion: '0.0.1',
  canonicalize: (spec) => dsseBody(readDsseSpec(spec)),
};
