import { createHash } from 'node:crypto';
import { BadRequestError } from '../../core/errors.ts';
import { canonicalJson } from './canonical-json.ts';
import type { EntryKind } from './index.ts';
import { decodeBase64, decodeLowerHex, readObject, readString, wellFormed } from './strict-json.ts';
import { parseVerifierKey } from './verifier-key.ts';
import { preAuthEncoding, verifiesEnvelopeSignature } from './dsse-signature.ts';

/**
 * intoto v0.0.2: a DSSE envelope carried inline, with upstream Rekor's wire encoding and canonical body
 * (sigstore/rekor pkg/types/intoto/v0.0.2/entry.go and intoto_v0_0_2_schema.json):
 *   spec: { content: { envelope: { payload, payloadType, signatures: [{ sig, publicKey, keyid? }] },
 *                      hash: {algorithm: sha256, value}, payloadHash?: {algorithm: sha256, value} } }
 *
 * Encoding. `payload` and `sig` are `format: byte` fields whose bytes are themselves the DSSE envelope's base64
 * text, so on the wire they are base64 TWICE: go-swagger decodes once, then the DSSE library (signature check)
 * and entry.go (payload hash) decode again. `publicKey` is base64 of the PEM, once. Stock clients send exactly
 * this (sigstore-js: "Double-encode payload and signature cause that's what Rekor expects"), and verifiers read
 * the stored `sig` back with two decodes (@sigstore/verify tlog/intoto). Single-encoded fields are refused.
 *
 * Canonical body (what upstream's Canonicalize keeps): the envelope without its payload, `sig` still
 * double-encoded, keyid omitted when empty, the client's `hash` and the log's own `payloadHash`.
 *
 * Deliberate differences from upstream, each stricter or at the same bytes for stock clients:
 * - every signature must verify with the key or certificate next to it (upstream accepts a signature that any
 *   key of the entry verifies, so the stored pairing could be false);
 * - both encodings must be canonical standard base64 (upstream also takes URL-safe or newline-broken inner
 *   text, which would give one signature several spellings and so several entries);
 * - `publicKey` is stored as the PEM re-encoded from its DER (upstream stores the client's bytes; identical for
 *   the 64-column PEM every Go, Node or OpenSSL encoder writes), so the `key:` search index finds it;
 * - a missing `hash` is a 400 (upstream fails Canonicalize with a 500 "missing envelope digest").
 * Null or missing fields (GHSA-frqx-jfcm-6jjr) are 400s, never a crash.
 */
const MAX_SIGNATURES = 16;
const MAX_PAYLOAD = 1024 * 1024;

/**
 * A field upstream decodes twice. The outer spelling must be canonical (the stored body keeps it as sent); the
 * inner text must be canonical base64 too. The usual mistake, one encoding only, decodes to bytes that are not
 * base64 text (a DER signature, a JSON statement): say so rather than "does not verify".
 */
function readDoubleBase64(value: unknown, path: string): { outer: string; bytes: Buffer } {
  const outer = readString(value, path);
  const innerText = decodeBase64(outer, path).toString('latin1');
  let bytes: Buffer;
  try {
    bytes = decodeBase64(innerText, path);
  } catch {
    throw new BadRequestError(`${path} must be base64 of the DSSE base64 text (Rekor intoto v0.0.2 encodes it twice); it decodes once to bytes that are not canonical base64`);
  }
  return { outer, bytes };
}

/**
 * content.hash, copied from the client as upstream does (its schema says read-only, but entry.go's Canonicalize
 * writes the client's value and refuses an entry without one). We do not check it against a recomputation
 * because no single one exists: sigstore-js hashes an RFC 8785 object with the raw PEM and single-encoded
 * fields, cosign and rekor-cli hash the envelope file's bytes, which the log never sees. Checking against one
 * scheme refused the others' stock clients. Copying it is not a hole in what the log guarantees. The log
 * signs it as a claim of the client, next to signatures it verified and a payloadHash it computed. No Sigstore
 * verifier trusts it (sigstore-go stopped after #611; @sigstore/verify and client/verify never read it), and
 * upstream leaves it out of the search index for the same reason. See SECURITY-ADVISORIES.md, "intoto v0.0.2
 * observation".
 */
function readEnvelopeHash(value: unknown): string {
  if (value === undefined) throw new BadRequestError('spec.content.hash is required (the envelope digest; Rekor intoto v0.0.2 takes it from the client)');
  const h = readObject(value, 'spec.content.hash', ['algorithm', 'value'], ['algorithm', 'value']);
  if (readString(h.algorithm, 'spec.content.hash.algorithm') !== 'sha256') throw new BadRequestError('spec.content.hash.algorithm must be sha256');
  const hex = readString(h.value, 'spec.content.hash.value');
  // Upstream takes any string; we take only a SHA-256 as every client writes it, so the body holds no free text.
  decodeLowerHex(hex, 'spec.content.hash.value', 32);
  return hex;
}

/** payloadHash: checked for shape as upstream's schema does, then replaced by the log's (entry.go Unmarshal). */
function checkClientPayloadHash(value: unknown): void {
  if (value === undefined) return;
  const h = readObject(value, 'spec.content.payloadHash', ['algorithm', 'value'], ['algorithm', 'value']);
  if (readString(h.algorithm, 'spec.content.payloadHash.algorithm') !== 'sha256') throw new BadRequestError('spec.content.payloadHash.algorithm must be sha256');
  readString(h.value, 'spec.content.payloadHash.value');
}

export function intotoV002Body(spec: unknown): Buffer {
  const s = readObject(spec, 'spec', ['content'], ['content']);
  const content = readObject(s.content, 'spec.content', ['envelope', 'hash', 'payloadHash'], ['envelope']);
  const env = readObject(content.envelope, 'spec.content.envelope', ['payload', 'payloadType', 'signatures'], ['payload', 'payloadType', 'signatures']);
  const payload = readDoubleBase64(env.payload, 'spec.content.envelope.payload').bytes;
  if (payload.length > MAX_PAYLOAD) throw new BadRequestError(`spec.content.envelope.payload is larger than ${MAX_PAYLOAD} bytes`);
  const payloadType = readString(env.payloadType, 'spec.content.envelope.payloadType');
  if (!Array.isArray(env.signatures) || env.signatures.length === 0) throw new BadRequestError('spec.content.envelope.signatures must be a non-empty array');
  if (env.signatures.length > MAX_SIGNATURES) throw new BadRequestError(`spec.content.envelope.signatures: more than ${MAX_SIGNATURES}`);
  const envelopeHash = readEnvelopeHash(content.hash);
  checkClientPayloadHash(content.payloadHash);
  const message = preAuthEncoding(payloadType, payload);
  const signatures = env.signatures.map((item, i) => {
    const path = `spec.content.envelope.signatures[${i}]`;
    const sig = readObject(item, path, ['sig', 'publicKey', 'keyid'], ['sig', 'publicKey']);
    const signature = readDoubleBase64(sig.sig, `${path}.sig`);
    const key = parseVerifierKey(decodeBase64(readString(sig.publicKey, `${path}.publicKey`), `${path}.publicKey`), `${path}.publicKey`);
    if (sig.keyid !== undefined && typeof sig.keyid !== 'string') throw new BadRequestError(`${path}.keyid must be a string`);
    if (typeof sig.keyid === 'string') wellFormed(sig.keyid, `${path}.keyid`);
    if (!verifiesEnvelopeSignature(key.publicKey, message, signature.bytes)) {
      throw new BadRequestError(`${path}: signature does not verify with its publicKey over the envelope`, 'INVALID_SIGNATURE');
    }
    return {
      // Go's `json:"keyid,omitempty"`: an empty keyid is not written.
      ...(typeof sig.keyid === 'string' && sig.keyid !== '' ? { keyid: sig.keyid } : {}),
      publicKey: Buffer.from(key.canonicalPem, 'utf8').toString('base64'),
      sig: signature.outer,
    };
  });
  return canonicalJson({
    apiVersion: '0.0.2',
    kind: 'intoto',
    spec: {
      content: {
        envelope: { payloadType, signatures },
        hash: { algorithm: 'sha256', value: envelopeHash },
        payloadHash: { algorithm: 'sha256', value: createHash('sha256').update(payload).digest('hex') },
      },
    },
  });
}

export const intotoV002: EntryKind = { kind: 'intoto', apiVersion: '0.0.2', canonicalize: intotoV002Body };
