import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { signerFromKeyObject, signerFromPem, type Signer } from '../core/signer.ts';
import { createCaHierarchy, createIntermediate } from './hierarchy.ts';

/**
 * The key ceremony, without any file system: `sigstack ca init` makes an offline root and an intermediate,
 * `sigstack ca rotate` a new intermediate under the same root. Keys leave here only as encrypted PKCS#8
 * (PBES2, AES-256-CBC), so a copied data folder does not give away a CA key without its passphrase.
 */

/** A passphrase shorter than this is refused: it is all that protects a CA key at rest. */
export const MIN_PASSPHRASE_LENGTH = 12;

export function checkPassphrase(passphrase: string): void {
  if (passphrase.length < MIN_PASSPHRASE_LENGTH) throw new Error(`the CA passphrase must have at least ${MIN_PASSPHRASE_LENGTH} characters`);
}

export function encryptKey(key: KeyObject, passphrase: string): string {
  checkPassphrase(passphrase);
  return key.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase }) as string;
}

/** Decrypts an encrypted PKCS#8 PEM; the error says "wrong passphrase" rather than OpenSSL's words. */
export function decryptKey(pem: string, passphrase: string, what: string): Signer {
  try {
    return signerFromPem(pem, passphrase);
  } catch {
    throw new Error(`cannot decrypt ${what}: wrong passphrase or not an encrypted PKCS#8 key`);
  }
}

export function fingerprint(der: Buffer): string {
  return createHash('sha256').update(der).digest('hex').toUpperCase().replace(/(..)(?!$)/g, '$1:');
}

function newKey(): KeyObject {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
}

export interface CeremonyResult {
  rootDer: Buffer;
  intermediateDer: Buffer;
  /** Encrypted PKCS#8 PEM: to be carried offline. */
  rootKeyPem: string;
  /** Encrypted PKCS#8 PEM: the only key the running CA holds (none when it is in an HSM). */
  intermediateKeyPem?: string;
}

/** `hsmIntermediate`: an intermediate key made in an HSM (PKCS#11); then no intermediate key leaves here at all. */
export function initCa(opts: { passphrase: string; organization?: string; now?: Date; hsmIntermediate?: Signer }): CeremonyResult {
  checkPassphrase(opts.passphrase);
  const rootKey = newKey();
  const intermediateKey = opts.hsmIntermediate ? undefined : newKey();
  const { rootDer, intermediateDer } = createCaHierarchy({
    rootSigner: signerFromKeyObject(rootKey),
    intermediateSigner: opts.hsmIntermediate ?? signerFromKeyObject(intermediateKey!),
    organization: opts.organization,
    now: opts.now,
  });
  return {
    rootDer,
    intermediateDer,
    rootKeyPem: encryptKey(rootKey, opts.passphrase),
    intermediateKeyPem: intermediateKey ? encryptKey(intermediateKey, opts.passphrase) : undefined,
  };
}

export function rotateIntermediate(opts: { rootKeyPem: string; rootDer: Buffer; passphrase: string; organization?: string; now?: Date }): { intermediateDer: Buffer; intermediateKeyPem: string } {
  const rootSigner = decryptKey(opts.rootKeyPem, opts.passphrase, 'the root key');
  const key = newKey();
  const intermediateDer = createIntermediate({ rootSigner, rootDer: opts.rootDer, intermediateSigner: signerFromKeyObject(key), organization: opts.organization, now: opts.now });
  return { intermediateDer, intermediateKeyPem: encryptKey(key, opts.passphrase) };
}
