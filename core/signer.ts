import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';

/**
 * A signing key handed to the pure cores (log checkpoints, SETs, SCTs, certificates).
 * The cores never read key files; services/keys.ts loads or creates keys and builds these.
 * All Sigstack keys are ECDSA P-256 with SHA-256, signatures DER-encoded (as Rekor, Fulcio and CT do).
 */
export interface Signer {
  /** DER SubjectPublicKeyInfo of the public key. */
  readonly publicKeyDer: Buffer;
  /** SHA-256 of `publicKeyDer`: Rekor's logID, CT's LogID, Fulcio's key id. */
  readonly keyId: Buffer;
  /** The public key, for verification and PEM export. */
  readonly publicKey: KeyObject;
  /** The private key (node:crypto, for certificate signing helpers). Never logged. */
  readonly privateKey: KeyObject;
  /** ECDSA P-256 / SHA-256 signature over `data`, DER encoded. */
  sign(data: Uint8Array): Buffer;
}

export function signerFromKeyObject(privateKey: KeyObject): Signer {
  if (privateKey.asymmetricKeyType !== 'ec' || privateKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new Error('Sigstack keys must be ECDSA P-256');
  }
  const publicKey = createPublicKey(privateKey);
  const publicKeyDer = publicKey.export({ type: 'spki', format: 'der' });
  return {
    publicKeyDer,
    keyId: createHash('sha256').update(publicKeyDer).digest(),
    publicKey,
    privateKey,
    sign: (data) => sign('sha256', data, privateKey),
  };
}

/** Parses a PKCS#8 PEM private key (optionally encrypted) into a Signer. */
export function signerFromPem(pem: string, passphrase?: string): Signer {
  return signerFromKeyObject(createPrivateKey({ key: pem, format: 'pem', passphrase }));
}

/** A fresh in-memory P-256 key: ephemeral signing keys and test fixtures. */
export function generateSigner(): Signer {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return signerFromKeyObject(privateKey);
}
