/**
 * The file flags of the sign and verify commands. Output files (--bundle, --out) are checked before anything is
 * signed or logged and written whole or not at all (checkOutputPath, writeOutputFile, in output-files.ts).
 *
 * `--key` is read as cosign reads it: the private key file is decrypted with
 * $COSIGN_PASSWORD when it is set (even empty), else with a password typed at the terminal (not echoed), else
 * with whatever is piped on stdin, byte for byte (cosign's readPasswordFn). The public key is a PEM
 * SubjectPublicKeyInfo (cosign.pub). Any failure is a usage error naming the file.
 */
import type { KeyObject } from 'node:crypto';
import { readInputFile } from './output-files.ts';

// The output checks moved to output-files.ts; importers of this module keep finding them here.
export { checkOutputPath, writeOutputFile } from './output-files.ts';

const MAX_PIPED_PASSWORD = 64 * 1024;
/** A PEM key is a few hundred bytes; a larger file is not one, and is not read whole. */
const MAX_KEY_FILE = 64 * 1024;

function promptPassword(prompt: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.resume();
  return new Promise((resolve, reject) => {
    let password = '';
    const done = () => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
    };
    const onData = (chunk: Buffer) => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') {
          done();
          resolve(password);
          return;
        }
        if (ch === '\u0003') {
          done();
          reject(new Error('interrupted'));
          return;
        }
        if (ch === '\u007f' || ch === '\b') password = password.slice(0, -1);
        else password += ch;
      }
    };
    stdin.on('data', onData);
  });
}

async function readPipedPassword(): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    size += (chunk as Buffer).length;
    if (size > MAX_PIPED_PASSWORD) throw new Error('the password piped on stdin is too long');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export async function keyPassword(): Promise<string> {
  const fromEnv = process.env.COSIGN_PASSWORD;
  if (fromEnv !== undefined) return fromEnv;
  if (process.stdin.isTTY) return promptPassword('Enter password for private key: ');
  return readPipedPassword();
}

/** The password that encrypts a new key: as keyPassword, but typed twice at a terminal (cosign's confirmation). */
export async function newKeyPassword(): Promise<string> {
  if (process.env.COSIGN_PASSWORD !== undefined || !process.stdin.isTTY) return keyPassword();
  const first = await promptPassword('Enter password for private key: ');
  const again = await promptPassword('Enter password for private key again: ');
  if (first !== again) throw new Error('the passwords do not match');
  return first;
}

/** The PEM at `path` turned into a key by `parse`; exits through `usage`, naming the file, when either fails. */
async function readKeyFile(path: string, what: string, parse: (pem: string) => KeyObject | Promise<KeyObject>, usage: (m: string) => never): Promise<KeyObject> {
  const read = readInputFile(path, what, MAX_KEY_FILE);
  if ('problem' in read) usage(read.problem);
  const pem = read.bytes.toString('utf8');
  try {
    return await parse(pem);
  } catch (e) {
    usage(`${path}: ${(e as Error).message}`);
  }
}

/** The decrypted cosign.key at `path`; exits through `usage` when it cannot be read or decrypted. */
export async function readSigningKey(path: string, usage: (m: string) => never): Promise<KeyObject> {
  const { decryptPrivateKey } = await import('../oci/cosign-key.ts');
  return readKeyFile(path, 'key', async (pem) => decryptPrivateKey(pem, await keyPassword()), usage);
}

/** The public key (cosign.pub) at `path`; exits through `usage` when it is not one P-256 PEM public key. */
export async function readVerifyKey(path: string, usage: (m: string) => never): Promise<KeyObject> {
  const { readPublicKey } = await import('../oci/cosign-key.ts');
  return readKeyFile(path, 'public key', readPublicKey, usage);
}

/** With --key the key is the policy: identity flags belong to certificates, and mixing them is refused. */
export function refuseIdentityFlags(opts: object, usage: (m: string) => never): void {
  const flags = ['certificateIdentity', 'certificateIdentityRegexp', 'certificateOidcIssuer', 'certificateOidcIssuerRegexp'];
  const given = flags.filter((f) => (opts as Record<string, unknown>)[f] !== undefined);
  if (given.length > 0) {
    const names = given.map((f) => `--${f.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
    usage(`${names.join(', ')} cannot be used with --key: a managed key has no certificate identity; the key itself is the policy`);
  }
}
