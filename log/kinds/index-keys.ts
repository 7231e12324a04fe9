import { createHash } from 'node:crypto';
import { certificateSubjectAltName } from './verifier-key.ts';

/**
 * The search keys of a canonical Rekor body, for POST /api/v1/index/retrieve. Read from the body the log
 * itself produced (already validated), so nothing here trusts client input it did not check:
 *   hash:<alg>:<hex>   artifact digest (hashedrekord data.hash; dsse/intoto payloadHash and envelopeHash)
 *   key:<sha256 hex>   SHA-256 of the canonical PEM the body holds (certificate or public key), as upstream
 *   email:<lowercase>  every rfc822Name of a certificate's SAN; URIs too, as the "identity" of workload certs
 * Keys are prefixed by their type so a hash can never match an email.
 */
export function hashKey(algorithm: string, hex: string): string {
  return `hash:${algorithm.toLowerCase()}:${hex.toLowerCase()}`;
}

export function publicKeyKey(canonicalPem: string): string {
  return `key:${createHash('sha256').update(canonicalPem, 'utf8').digest('hex')}`;
}

export function emailKey(email: string): string {
  return `email:${email.toLowerCase()}`;
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json | undefined => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

function hashOf(h: unknown): string[] {
  const o = obj(h);
  const alg = str(o?.algorithm);
  const value = str(o?.value);
  return alg && value ? [hashKey(alg, value)] : [];
}

/** Subject identities of a certificate's SAN: emails and URIs (node prints `email:a@b, URI:https://...`). */
function certificateIdentities(pem: string): string[] {
  const san = certificateSubjectAltName(pem);
  if (!san) return [];
  const out: string[] = [];
  for (const part of san.split(/, (?=[A-Za-z ]+:)/)) {
    const m = /^(email|URI):(.*)$/.exec(part);
    if (m) out.push(emailKey(m[2]!.replace(/^"|"$/g, '')));
  }
  return out;
}

function keyAndIdentities(b64Pem: unknown): string[] {
  const text = str(b64Pem);
  if (!text) return [];
  const pem = Buffer.from(text, 'base64').toString('utf8');
  const keys = [publicKeyKey(pem)];
  if (pem.startsWith('-----BEGIN CERTIFICATE-----')) keys.push(...certificateIdentities(pem));
  return keys;
}

/** Never throws: a body it does not understand simply has no keys (it is still found by UUID and index). */
export function rekorIndexKeys(leaf: Buffer): string[] {
  let body: Json | undefined;
  try {
    body = obj(JSON.parse(leaf.toString('utf8')));
  } catch {
    return [];
  }
  const spec = obj(body?.spec);
  if (!spec) return [];
  const keys: string[] = [];
  keys.push(...hashOf(obj(obj(spec.data))?.hash));
  keys.push(...hashOf(spec.payloadHash), ...hashOf(spec.envelopeHash));
  const content = obj(spec.content);
  // intoto's content.hash is the client's claim, copied unchecked (as upstream, which leaves it out of its index
  // too): indexing it would let anyone make a hash search return their entry. payloadHash is the log's own.
  if (content) keys.push(...hashOf(content.payloadHash));
  keys.push(...keyAndIdentities(obj(obj(spec.signature)?.publicKey)?.content));
  const envelopeSigs = obj(content?.envelope)?.signatures; // intoto v0.0.2
  const sigs = [...(Array.isArray(spec.signatures) ? spec.signatures : []), ...(Array.isArray(envelopeSigs) ? envelopeSigs : [])];
  for (const s of sigs) keys.push(...keyAndIdentities(obj(s)?.verifier ?? obj(s)?.publicKey));
  return [...new Set(keys)];
}
