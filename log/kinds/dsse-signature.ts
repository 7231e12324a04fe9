import { verify as cryptoVerify, type KeyObject } from 'node:crypto';

/** DSSE v1 pre-authentication encoding: "DSSEv1" SP len(type) SP type SP len(body) SP body. */
export function preAuthEncoding(payloadType: string, payload: Buffer): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `), type, Buffer.from(` ${payload.length} `), payload]);
}

/** One envelope signature over the PAE; false (never a throw) for any key or signature it cannot check. */
export function verifiesEnvelopeSignature(key: KeyObject, data: Buffer, signature: Buffer): boolean {
  try {
    // Ed25519 signs the message itself; ECDSA and RSA (PKCS#1 v1.5) over SHA-256, as Rekor's LoadVerifier(SHA256).
    return cryptoVerify(key.asymmetricKeyType === 'ed25519' ? null : 'sha256', data, key, signature);
  } catch {
    return false;
  }
}
