/**
 * Signing with a managed key (`--key cosign.key`), as `cosign sign-blob --key` does: no certificate and no CA;
 * the signature is logged as a hashedrekord whose `publicKey` is the PEM of the PUBLIC KEY itself, and the bundle
 * names the key only by a hint. The hint is sigstore-go's: base64 of the SHA-256 of the key's DER
 * SubjectPublicKeyInfo. It is a name, not a proof: the verifier is given the key and checks that the logged key
 * is exactly that key. The log's answer is checked as for keyless signing (checkLogResponse).
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import type { SerializedBundle } from '@sigstore/bundle';
import { derToPem } from '../core/pem.ts';
import { bundleOfLoggedEntry, checkLogResponse, digestAndSign, postJson, type LoggedEntry } from './sign.ts';

/** sigstore-go's key hint: base64(SHA-256(DER SubjectPublicKeyInfo)). */
export function publicKeyHint(key: KeyObject): string {
  const spki = (key.type === 'private' ? createPublicKey(key) : key).export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

/** Only what node:crypto signs as ECDSA P-256 over SHA-256: the key type of cosign.key and of our verifier. */
function checkKey(key: KeyObject): void {
  if (key.type !== 'private' || key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new Error('the signing key must be an ECDSA P-256 private key');
  }
}

export interface KeySigned {
  signature: Buffer;
  digest: Buffer;
  entry: LoggedEntry;
}

/** Signs `data` (bytes, or a file read as a stream) with `key` and logs a hashedrekord naming the public key; returns the checked log entry. */
export async function signAndLogWithKey(data: Buffer | { path: string }, key: KeyObject, rekorUrl: string, fetchImpl: typeof fetch = fetch, onRead?: (bytes: number) => void): Promise<KeySigned> {
  checkKey(key);
  const { digest, signature } = await digestAndSign(data, key, onRead);
  const publicPem = derToPem(createPublicKey(key).export({ type: 'spki', format: 'der' }), 'PUBLIC KEY');
  const proposed = {
    apiVersion: '0.0.1',
    kind: 'hashedrekord',
    spec: {
      data: { hash: { algorithm: 'sha256', value: digest.toString('hex') } },
      signature: { content: signature.toString('base64'), publicKey: { content: Buffer.from(publicPem).toString('base64') } },
    },
  };
  const url = `${rekorUrl.replace(/\/+$/, '')}/api/v1/log/entries`;
  return { signature, digest, entry: checkLogResponse(await postJson(fetchImpl, 'log', url, proposed), proposed) };
}

export interface SignWithKeyOptions {
  /** The bytes to sign, or a file, read as a stream: hashed and signed in one pass, never held whole in memory. */
  artifact: Buffer | { path: string };
  /** The decrypted cosign.key. */
  key: KeyObject;
  rekorUrl: string;
  fetch?: typeof fetch;
  onProgress?: (line: string) => void;
  /** Called with the size of each chunk read from a file artifact (the CLI's hashing progress). */
  onRead?: (bytes: number) => void;
}

/** `sigstack sign --key`: a v0.3 bundle whose verification material is `publicKey: {hint}`. */
export async function signArtifactWithKey(opts: SignWithKeyOptions): Promise<SerializedBundle> {
  const rekorUrl = opts.rekorUrl.replace(/\/+$/, '');
  const { signature, digest, entry } = await signAndLogWithKey(opts.artifact, opts.key, rekorUrl, opts.fetch, opts.onRead);
  opts.onProgress?.(`Logged as entry ${entry.logIndex} in ${rekorUrl}`);
  return bundleOfLoggedEntry({ publicKeyHint: publicKeyHint(opts.key) }, digest, signature, entry);
}
