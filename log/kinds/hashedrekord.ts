import { BadRequestError } from '../../core/errors.ts';
import { canonicalJson } from './canonical-json.ts';
import type { EntryKind } from './index.ts';
import { DIGEST_SIZE, verifyPrehashed, type DigestAlgorithm } from './prehashed-verify.ts';
import { decodeBase64, decodeLowerHex, readObject, readString } from './strict-json.ts';
import { parseVerifierKey } from './verifier-key.ts';

/**
 * hashedrekord v0.0.1: a signature over an artifact digest, with the key or certificate that made it.
 * Wire shape (upstream hashedrekord_v0_0_1_schema.json):
 *   spec: { signature: { content: b64 sig, publicKey: { content: b64 PEM } },
 *           data: { hash: { algorithm: sha256|sha384|sha512, value: hex } } }
 * The log verifies the signature over the digest before accepting the entry, so everything in it was
 * signed by the key it names. The canonical body keeps exactly what Rekor keeps: the signature, the PEM
 * re-encoded from its DER, and the hash; RFC 8785 serialization makes it byte-identical to Rekor's.
 */

const ALGORITHMS: readonly DigestAlgorithm[] = ['sha256', 'sha384', 'sha512'];

export interface HashedRekordContent {
  signature: Buffer;
  /** Canonical PEM of the certificate or public key. */
  publicKeyPem: string;
  algorithm: DigestAlgorithm;
  digest: Buffer;
}

/** Reads and verifies a hashedrekord v0.0.1 spec. Throws BadRequestError naming the offending field. */
export function readHashedRekordSpec(spec: unknown): HashedRekordContent {
  const s = readObject(spec, 'spec', ['signature', 'data'], ['signature', 'data']);
  const sig = readObject(s.signature, 'spec.signature', ['content', 'publicKey'], ['content', 'publicKey']);
  const signature = decodeBase64(readString(sig.content, 'spec.signature.content'), 'spec.signature.content');
  const pk = readObject(sig.publicKey, 'spec.signature.publicKey', ['content'], ['content']);
  const pemBytes = decodeBase64(readString(pk.content, 'spec.signature.publicKey.content'), 'spec.signature.publicKey.content');

  const data = readObject(s.data, 'spec.data', ['hash'], ['hash']);
  const hash = readObject(data.hash, 'spec.data.hash', ['algorithm', 'value'], ['algorithm', 'value']);
  const algorithm = readString(hash.algorithm, 'spec.data.hash.algorithm');
  if (!(ALGORITHMS as readonly string[]).includes(algorithm)) {
    throw new BadRequestError(`spec.data.hash.algorithm must be one of ${ALGORITHMS.join(', ')}`);
  }
  const alg = algorithm as DigestAlgorithm;
  const digest = decodeLowerHex(readString(hash.value, 'spec.data.hash.value'), 'spec.data.hash.value', DIGEST_SIZE[alg]);

  const key = parseVerifierKey(pemBytes, 'spec.signature.publicKey.content');
  if (!verifyPrehashed(key.publicKey, alg, digest, signature, key.form)) {
    throw new BadRequestError('spec.signature.content: signature does not verify with spec.signature.publicKey over spec.data.hash',
      'INVALID_SIGNATURE');
  }
  return { signature, publicKeyPem: key.canonicalPem, algorithm: alg, digest };
}

/** The canonical body: RFC 8785 JSON of Rekor's canonicalized hashedrekord (no URLs, no data content). */
export function hashedRekordBody(content: HashedRekordContent): Buffer {
  const body = {
    apiVersion: '0.0.1',
    kind: 'hashedrekord',
    spec: {
      data: { hash: { algorithm: content.algorithm, value: content.digest.toString('hex') } },
      signature: {
        content: content.signature.toString('base64'),
        publicKey: { content: Buffer.from(content.publicKeyPem, 'utf8').toString('base64') },
      },
    },
  };
  return canonicalJson(body);
}

export const hashedrekordV001: EntryKind = {
  kind: 'hashedrekord',
  apiVersion: '0.0.1',
  canonicalize: (spec) => hashedRekordBody(readHashedRekordSpec(spec)),
};
