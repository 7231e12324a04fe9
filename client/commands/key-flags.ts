/**
 * The file flags of the sign and verify commands. Output files (--bundle, --out) are checked before anything is
 * signed or logged and written whole or not at all (checkOutputPath, writeOutputFile, below).
 *
 * `--key` is read as cosign reads it: the private key file is decrypted with
 * $COSIGN_PASSWORD when it is set (even empty), else with a password typed at the terminal (not echoed), else
 * with whatever is piped on stdin, byte for byte (cosign's readPasswordFn). The public key is a PEM
 * SubjectPublicKeyInfo (cosign.pub). Any failure is a usage error naming the file.
 */
import { randomBytes, type KeyObject } from 'node:crypto';
import { accessSync, chmodSync, closeSync, constants, fsyncSync, openSync, readFileSync, readlinkSync, realpathSync, renameSync, rmSync, statSync, writeFileSync, type Stats } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

const MAX_PIPED_PASSWORD = 64 * 1024;

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
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (e) {
    usage(`cannot read the ${what} ${path}: ${(e as Error).message}`);
  }
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

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

/**
 * Where `path` really is: symlinks of the file and of its folder resolved. The file need not exist, and a link to
 * a file that does not exist yet is followed by hand: writing through it creates that file, so that is the path.
 */
function canonicalPath(path: string): string {
  let abs = resolve(path);
  for (let hops = 0; hops < 40; hops++) {
    try {
      return realpathSync(abs);
    } catch {
      // absent, or a dangling link: follow the link, if it is one
    }
    try {
      abs = resolve(dirname(abs), readlinkSync(abs));
    } catch {
      break;
    }
  }
  try {
    return join(realpathSync(dirname(abs)), basename(abs));
  } catch {
    return abs;
  }
}

/**
 * Checks, before anything is signed or logged (a log entry is permanent), that `out` can take the output: its
 * folder exists and is writable, it is not a folder, and it is none of `inputs` (the artifact, the key...), by
 * resolved path or by inode, so no hard or symbolic link can make the output overwrite an input.
 * Returns the message saying what is wrong, or undefined.
 */
export function checkOutputPath(out: string, flag: string, inputs: { path: string | undefined; what: string }[] = []): string | undefined {
  const target = canonicalPath(out);
  const st = statOrUndefined(target);
  for (const input of inputs) {
    if (input.path === undefined) continue;
    const other = statOrUndefined(input.path);
    const sameInode = st && other && st.dev === other.dev && st.ino === other.ino;
    if (sameInode || canonicalPath(input.path) === target) return `${flag} ${out} is the ${input.what} itself: give another path`;
  }
  if (st?.isDirectory()) return `${flag} ${out} is a folder: give a file path`;
  // A device or pipe (/dev/stdout) is written in place; only a regular file is replaced through its folder.
  if (st && !st.isFile()) return undefined;
  const dir = dirname(target);
  const dirStat = statOrUndefined(dir);
  if (!dirStat) return `${flag} ${out}: the folder ${dirname(out)} does not exist`;
  if (!dirStat.isDirectory()) return `${flag} ${out}: ${dirname(out)} is not a folder`;
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    return `${flag} ${out}: the folder ${dirname(out)} is not writable`;
  }
  return undefined;
}

/**
 * Writes `text` to `out` whole or not at all: into a temporary file beside it, flushed, then renamed over it, so a
 * full disk or a crash never leaves a half-written bundle (or trusted root) where the old one was.
 */
export function writeOutputFile(out: string, text: string): void {
  const target = canonicalPath(out);
  const st = statOrUndefined(target);
  if (st && !st.isFile()) {
    writeFileSync(target, text);
    return;
  }
  const tmp = join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'wx');
    if (st) chmodSync(tmp, st.mode & 0o777); // replacing a file keeps its permissions
    writeFileSync(fd, text);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, target);
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
}
