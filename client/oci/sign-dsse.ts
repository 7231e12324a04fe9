/**
 * DSSE signing for attestations: keyless (an ephemeral key, a certificate from the CA) or with a managed key
 * (cosign.key: the verifier logged is the PEM public key itself), a DSSE envelope signed over the
 * pre-authentication encoding, and a `dsse` v0.0.1 entry in the log. The log's answer is checked as
 * for hashedrekord (sign.ts): one entry, UUID = leaf hash of the body, and the body is exactly the canonical
 * body we compute ourselves from what we proposed (log/kinds/dsse.ts, the same code the log runs).
 */
import { createPublicKey, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { derToPem } from '../../core/pem.ts';
import { generateSigner } from '../../core/signer.ts';
import { dsseBody, readDsseSpec } from '../../log/kinds/dsse.ts';
import { preAuthEncoding } from '../../log/kinds/dsse-signature.ts';
import { checkLogResponse, postJson, requestSigningCertificate, SigningError, tokenChallenge, type LoggedEntry } from '../sign.ts';

export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';

export interface SignedDsse {
  /** The envelope JSON text exactly as logged and stored. */
  envelope: string;
  payload: Buffer;
  payloadType: string;
  /** Keyless: the signing certificate. */
  leafDer?: Buffer;
  /** With a managed key: its PEM SubjectPublicKeyInfo (what the log names as verifier). */
  publicKeyPem?: string;
  signature: Buffer;
  logIndex: number;
  logId: Buffer;
  integratedTime: number;
  signedEntryTimestamp: Buffer;
  canonicalizedBody: Buffer;
  inclusionProof: LoggedEntry['proof'];
}

export async function signDsse(opts: { payload: Buffer; payloadType: string; identityToken: string; fulcioUrl: string; rekorUrl: string; fetch?: typeof fetch; onProgress?: (l: string) => void }): Promise<SignedDsse & { leafDer: Buffer }> {
  const fetchImpl = opts.fetch ?? fetch;
  const challenge = tokenChallenge(opts.identityToken);
  const key = generateSigner();
  const leafDer = await requestSigningCertificate(fetchImpl, opts.fulcioUrl, opts.identityToken, challenge, key, opts.onProgress);

  const signature = key.sign(preAuthEncoding(opts.payloadType, opts.payload));
  const logged = await logEnvelope(fetchImpl, opts.rekorUrl, opts.payload, opts.payloadType, signature, derToPem(leafDer), 'CA', opts.onProgress);
  return { ...logged, leafDer };
}

/** `attest --key`: the envelope signed with the managed key, logged with the public key as its verifier. */
export async function signDsseWithKey(opts: { payload: Buffer; payloadType: string; key: KeyObject; rekorUrl: string; fetch?: typeof fetch; onProgress?: (l: string) => void }): Promise<SignedDsse> {
  const publicKeyPem = derToPem(createPublicKey(opts.key).export({ type: 'spki', format: 'der' }), 'PUBLIC KEY');
  const signature = cryptoSign('sha256', preAuthEncoding(opts.payloadType, opts.payload), opts.key);
  const logged = await logEnvelope(opts.fetch ?? fetch, opts.rekorUrl, opts.payload, opts.payloadType, signature, publicKeyPem, 'log', opts.onProgress);
  return { ...logged, publicKeyPem };
}

async function logEnvelope(fetchImpl: typeof fetch, rekorUrlIn: string, payload: Buffer, payloadType: string, signature: Buffer, verifierPem: string,
  blame: 'CA' | 'log', onProgress?: (l: string) => void): Promise<Omit<SignedDsse, 'leafDer' | 'publicKeyPem'>> {
  // keyid is empty, as cosign writes it: the verifier is named by the log entry, not by the envelope.
  const envelope = JSON.stringify({ payloadType, payload: payload.toString('base64'), signatures: [{ keyid: '', sig: signature.toString('base64') }] });
  const spec = { proposedContent: { envelope, verifiers: [Buffer.from(verifierPem).toString('base64')] } };
  // What the log must store, computed here: if the key does not verify our own envelope this throws before we send.
  let expected: unknown;
  try {
    expected = JSON.parse(dsseBody(readDsseSpec(spec)).toString('utf8'));
  } catch (e) {
    throw new SigningError(blame, `the ${blame === 'CA' ? 'certificate' : 'key'} does not verify our own envelope (${(e as Error).message})`);
  }
  const rekorUrl = rekorUrlIn.replace(/\/+$/, '');
  const entry = checkLogResponse(await postJson(fetchImpl, 'log', `${rekorUrl}/api/v1/log/entries`, { apiVersion: '0.0.1', kind: 'dsse', spec }), expected);
  onProgress?.(`Logged as entry ${entry.logIndex} in ${rekorUrl}`);
  return {
    envelope, payload, payloadType, signature, logIndex: entry.logIndex, logId: entry.logId, integratedTime: entry.integratedTime,
    signedEntryTimestamp: entry.set, canonicalizedBody: entry.body, inclusionProof: entry.proof,
  };
}
