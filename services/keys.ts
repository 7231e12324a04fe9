import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { generateKeyPairSync, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { dirname, join } from 'node:path';
import { signerFromPem, type Signer } from '../core/signer.ts';
import { writeFileAtomic } from '../core/atomic-file.ts';
import { ConfigError, DataFolderError, RESTORE_ADVICE } from './startup-errors.ts';

/**
 * Key files in the data folder: created on the first start of the part of the stack they belong to (mode 0600,
 * PKCS#8 PEM), only read after. A key the folder's records name is never re-created when it has gone (the trusted
 * roots handed out name it): services/data-folder.ts decides which start is a first one.
 * The cores never read files: they get Signers from here.
 */
export type KeyName = 'ca-root' | 'ca-intermediate' | 'rekor' | 'ct' | 'dev-oidc';

export function keysDir(dataDir: string): string {
  return join(dataDir, 'keys');
}

/**
 * A key file the folder's records say must be there, missing or unreadable: `what` is the key, `since` the record
 * (meta.json, the CA chain) that says it exists.
 */
export function keyFileMessage(file: string, what: string, problem = 'is missing', since = 'this data folder\'s meta.json records it'): string {
  return `${file} (${what}) ${problem}, but ${since}: a new key would not match the trusted roots already handed out, ` +
    `so none is made. ${RESTORE_ADVICE[0]!.toUpperCase()}${RESTORE_ADVICE.slice(1)}.`;
}

/** Loads the named P-256 key, creating it if it is not there: only for a part's first start, or the dev issuer. */
export function loadOrCreateKey(dataDir: string, name: KeyName): { signer: Signer; created: boolean } {
  return loadOrCreateKeyFile(join(keysDir(dataDir), `${name}.key.pem`));
}

/** The same for a key file by path (a new Rekor tree's key `keys/rekor-<tree id>.key.pem` at a rotation). */
export function loadOrCreateKeyFile(file: string): { signer: Signer; created: boolean } {
  if (existsSync(file)) return { signer: loadKeyFile(file), created: false };
  return { signer: createKeyFile(file), created: true };
}

/** A new P-256 key written to `file` (its folder made 0700). */
export function createKeyFile(file: string): Signer {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  writeFileAtomic(file, pem, 0o600);
  return signerFromPem(pem);
}

/**
 * An existing key file, never re-created: a missing or unreadable one is a DataFolderError naming it (`what` says
 * which key it is). An encrypted key (`sigstack ca init`) is decrypted with the passphrase from the environment; a
 * passphrase that cannot be had or does not decrypt it is a ConfigError naming the variable.
 */
export function loadKeyFile(file: string, what = 'a key'): Signer {
  let pem: string;
  try {
    if (!statSync(file).isFile()) throw new DataFolderError(keyFileMessage(file, what, 'is not a file'));
    pem = readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof DataFolderError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new DataFolderError(code === 'ENOENT' ? keyFileMessage(file, what) : `cannot read ${file} (${what}): ${code ?? (err as Error).message}`);
  }
  if (pem.includes('ENCRYPTED PRIVATE KEY')) {
    const { passphrase, source } = keyPassphraseFrom(file);
    try {
      return signerFromPem(pem, passphrase);
    } catch {
      throw new ConfigError(`${source}: cannot decrypt ${file} (${what}) with this passphrase: wrong passphrase`);
    }
  }
  try {
    return signerFromPem(pem);
  } catch (err) {
    throw new DataFolderError(`${file} (${what}) holds no readable private key (${(err as Error).message}): the file is damaged; ${RESTORE_ADVICE}`);
  }
}


/**
 * The passphrase of the CA's encrypted keys and where it came from: SIGSTACK_CA_PASSPHRASE, or the first line of
 * the file SIGSTACK_CA_PASSPHRASE_FILE names. Every way it cannot be had is a ConfigError naming the variable (and
 * the file): an unreadable file is not a wrong passphrase.
 */
export function keyPassphraseFrom(file: string, env: NodeJS.ProcessEnv = process.env): { passphrase: string; source: string } {
  if (env.SIGSTACK_CA_PASSPHRASE) return { passphrase: env.SIGSTACK_CA_PASSPHRASE, source: 'SIGSTACK_CA_PASSPHRASE' };
  const path = env.SIGSTACK_CA_PASSPHRASE_FILE;
  if (!path) throw new ConfigError(`${file} is encrypted: give its passphrase in SIGSTACK_CA_PASSPHRASE or SIGSTACK_CA_PASSPHRASE_FILE`);
  const source = `SIGSTACK_CA_PASSPHRASE_FILE (${path})`;
  let text: string;
  try {
    if (statSync(path).isDirectory()) throw new ConfigError(`SIGSTACK_CA_PASSPHRASE_FILE: ${path} is a folder, not a file`);
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : (err as Error).message;
    throw new ConfigError(`SIGSTACK_CA_PASSPHRASE_FILE: cannot read ${path}: ${why}${code ? ` (${code})` : ''}`);
  }
  const passphrase = text.split(/\r?\n/)[0]!;
  if (passphrase === '') throw new ConfigError(`SIGSTACK_CA_PASSPHRASE_FILE: the first line of ${path} (the passphrase) is empty`);
  return { passphrase, source };
}

/**
 * Before a start locks the data folder: an encrypted key file needs a passphrase the variables give. The key is not
 * decrypted here; a missing or unreadable file is the data folder checks' to report.
 */
export function checkKeyPassphrase(file: string, env: NodeJS.ProcessEnv = process.env): void {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch {
    return;
  }
  if (pem.includes('ENCRYPTED PRIVATE KEY')) keyPassphraseFrom(file, env);
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
