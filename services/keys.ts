import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { generateKeyPairSync, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { dirname, join } from 'node:path';
import { signerFromPem, type Signer } from '../core/signer.ts';

/**
 * Key files in the data folder: created on first start (mode 0600, PKCS#8 PEM), reused after.
 * The cores never read files: they get Signers from here.
 */
export type KeyName = 'ca-root' | 'ca-intermediate' | 'rekor' | 'ct' | 'dev-oidc';

export function keysDir(dataDir: string): string {
  return join(dataDir, 'keys');
}

/** Loads the named P-256 key, creating it on first use. Returns whether it was created now. */
export function loadOrCreateKey(dataDir: string, name: KeyName): { signer: Signer; created: boolean } {
  return loadOrCreateKeyFile(join(keysDir(dataDir), `${name}.key.pem`));
}

/** The same for a key file by path (the Rekor tree keys `keys/rekor-<tree id>.key.pem` after a rotation). */
export function loadOrCreateKeyFile(file: string): { signer: Signer; created: boolean } {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  if (existsSync(file)) return { signer: loadKeyFile(file), created: false };
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  writeFileAtomic(file, pem, 0o600);
  return { signer: signerFromPem(pem), created: true };
}

/** An existing key file; throws if it is missing (a frozen tree's key is never re-created). */
export function loadKeyFile(file: string): Signer {
  if (!existsSync(file)) throw new Error(`key file ${file} is missing`);
  const pem = readFileSync(file, 'utf8');
  // `sigstack ca init` writes the intermediate encrypted: its passphrase comes from the environment.
  if (pem.includes('ENCRYPTED PRIVATE KEY')) {
    try {
      return signerFromPem(pem, keyPassphrase(file));
    } catch (err) {
      if ((err as Error).message.includes('SIGSTACK_CA_PASSPHRASE')) throw err;
      throw new Error(`cannot decrypt ${file}: wrong passphrase (SIGSTACK_CA_PASSPHRASE or SIGSTACK_CA_PASSPHRASE_FILE)`);
    }
  }
  return signerFromPem(pem);
}

/** Writes via a temporary file and rename, so a crash never leaves a half-written key or certificate. */
export function writeFileAtomic(file: string, data: string | Buffer, mode = 0o644): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, data, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, file);
}

/** The passphrase of an encrypted key file: SIGSTACK_CA_PASSPHRASE, or the first line of SIGSTACK_CA_PASSPHRASE_FILE. */
export function keyPassphrase(file: string, env: NodeJS.ProcessEnv = process.env): string {
  if (env.SIGSTACK_CA_PASSPHRASE) return env.SIGSTACK_CA_PASSPHRASE;
  if (env.SIGSTACK_CA_PASSPHRASE_FILE) return readFileSync(env.SIGSTACK_CA_PASSPHRASE_FILE, 'utf8').split(/\r?\n/)[0]!;
  throw new Error(`${file} is encrypted: give its passphrase in SIGSTACK_CA_PASSPHRASE or SIGSTACK_CA_PASSPHRASE_FILE`);
}

/**
 * Readiness: `signer` signs a fresh probe that verifies with `publicKey` (by default its own; the CA passes its
 * certificate's, so a key that no longer matches its certificate is caught too). A key that cannot sign (a lost
 * HSM session, a corrupted file) fails readiness instead of the next request.
 */
export function probeKey(name: string, signer: Signer, publicKey: KeyObject = signer.publicKey): void {
  const probe = Buffer.from(`sigstack readiness probe ${Date.now()}`);
  let ok = false;
  try {
    ok = cryptoVerify('sha256', probe, publicKey, signer.sign(probe));
  } catch (err) {
    throw new Error(`the ${name} key cannot sign: ${(err as Error).message}`);
  }
  if (!ok) throw new Error(`the ${name} key's signature does not verify with its published public key`);
}
