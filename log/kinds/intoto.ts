import { createHash } from 'node:crypto';
import { BadRequestError } from '../../core/errors.ts';
import { canonicalJson } from './canonical-json.ts';
import type { EntryKind } from './index.ts';
import { decodeBase64, decodeLowerHex, readObject, readString, wellFormed } from './strict-json.ts';
import { parseVerifierKey } from './verifier-key.ts';
import { preAuthEncoding, verifiesEnvelopeSignature } from './dsse-signature.ts';

/**
 * intoto v0.0.2: a DSSE envelope carried inline (upstream intoto_v0_0_2_schema.json):
 *   spec: { content: { envelope: { payload: b64, payloadType, signatures: [{ sig: b64, publicKey: b64 PEM, keyid? }] },
 *                      hash?: {algorithm: sha256, value}, payloadHash?: {algorithm: sha256, value} } }
 * Every signature must verify with its own key over the DSSE pre-authentication encoding. The canonical body
 * keeps, as upstream, the envelope without its payload plus the envelope and payload hashes; unlike upstream
 * (which copies `content.hash` from the client), both hashes are computed here: the envelope hash is the
 * SHA-256 of the envelope's RFC 8785 JSON, and a client value that differs is refused.
 * Null or missing fields (GHSA-frqx-jfcm-6jjr) are 400s, never a crash.
 */
const MAX_SIGNATURES = 16;
const MAX_PAYLOAD = 1024 * 1024;

function checkClientHash(value: unknown, path: string, computed: Buffer): void {
  if (value === undefined) return;
  const h = readObject(value, path, ['algorithm', 'value'], ['algorithm', 'value']);
  if (readString(h.algorithm, `${path}.algorithm`) !== 'sha256') throw new BadRequestError(`${path}.algorithm must be sha256`);
  if (!decodeLowerHex(readString(h.value, `${path}.value`), `${path}.value`, 32).equals(computed)) {
    throw new BadRequestError(`${path}.value is not the SHA-256 the log computes`);
  }
}

export function intotoV002Body(spec: unknown): Buffer {
  const s = readObject(spec, 'spec', ['content'], ['content']);
  const content = readObject(s.content, 'spec.content', ['envelope', 'hash', 'payloadHash'], ['envelope']);
  const env = readObject(content.envelope, 'spec.content.envelope', ['payload', 'payloadType', 'signatures'], ['payload', 'payloadType', 'signatures']);
  const payload = decodeBase64(readString(env.payload, 'spec.content.envelope.payload'), 'spec.content.envelope.payload');
  if (payload.length > MAX_PAYLOAD) throw new BadRequestError(`spec.content.envelope.payload is larger than ${MAX_PAYLOAD} bytes`);
  const payloadType = readString(env.payloadType, 'spec.content.envelope.payloadType');
  if (!Array.isArray(env.signatures) || env.signatures.length === 0) throw new BadRequestError('spec.content.envelope.signatures must be a non-empty array');
  if (env.signatures.length > MAX_SIGNATURES) throw new BadRequestError(`spec.content.envelope.signatures: more than ${MAX_SIGNATURES}`);
  const message = preAuthEncoding(payloadType, payload);
  const signatures = env.signatures.map((item, i) => {
    const path = `spec.content.envelope.signatures[${i}]`;
    const sig = readObject(item, path, ['sig', 'publicKey', 'keyid'], ['sig', 'publicKey']);
    const signature = decodeBase64(readString(sig.sig, `${path}.sig`), `${path}.sig`);
    const key = parseVerifierKey(decodeBase64(readString(sig.publicKey, `${path}.publicKey`), `${path}.publicKey`), `${path}.publicKey`);
    if (sig.keyid !== undefined && typeof sig.keyid !== 'string') throw new BadRequestError(`${path}.keyid must be a string`);
    if (typeof sig.keyid === 'string') wellFormed(sig.keyid, `${path}.keyid`);
    if (!verifiesEnvelopeSignature(key.publicKey, message, signature)) {
      throw new BadRequestError(`${path}: signature does not verify with its publicKey over the envelope`, 'INVALID_SIGNATURE');
    }
    return {
      ...(typeof sig.keyid === 'string' && sig.keyid !== '' ? { keyid: sig.keyid } : {}),
      publicKey: Buffer.from(key.canonicalPem, 'utf8').toString('base64'),
      sig: signature.toString('base64'),
    };
  });
  const envelopeHash = createHash('sha256').update(canonicalJson({ payload: payload.toString('base64'), payloadType, signatures })).digest();
  const payloadHash = createHash('sha256').update(payload).digest();
  checkClientHash(content.hash, 'spec.content.hash', envelopeHash);
  checkClientHash(content.payloadHash, 'spec.content.payloadHash', payloadHash);
  return canonicalJson({
    apiVersion: '0.0.2',
    kind: 'intoto',
    spec: {
      content: {
        envelope: { payloadType, signatures },
        hash: { algorithm: 'sha256', value: envelopeHash.toString('hex') },
        payloadHash: { algorithm: 'sha256', value: payloadHash.toString('hex') },
      },
    },
  });
}

export const intotoV002: EntryKind = { kind: 'intoto', apiVersion: '0.0.2', canonicalize: intotoV002Body };
