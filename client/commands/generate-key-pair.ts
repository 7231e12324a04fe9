import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, linkSync, lstatSync, openSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Command } from 'commander';
import { checkOutputPath } from './output-files.ts';

function usage(message: string): never {
  process.stderr.write(`Error: ${message}\nRun "sigstack generate-key-pair --help" for usage.\n`);
  process.exit(2);
}

/** A new file beside `path`, written and flushed, mode `mode` from its creation; its name is returned. */
function writeTemporary(path: string, text: string, mode: number): string {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', mode);
  try {
    writeFileSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return tmp;
}

/**
 * Puts both keys in place, or neither: both are written to temporaries first, then renamed over the old files. The
 * old private key is kept under a second name until the public key is in place too, and put back if that fails,
 * so a failure never leaves a new private key without its public key, nor loses the old one.
 */
function installKeyPair(keyPath: string, privatePem: string, pubPath: string, publicPem: string): void {
  const temporaries: string[] = [];
  let oldKey: string | undefined;
  let keyReplaced = false;
  try {
    temporaries.push(writeTemporary(keyPath, privatePem, 0o600));
    temporaries.push(writeTemporary(pubPath, publicPem, 0o644));
    if (existsSync(keyPath)) {
      oldKey = `${keyPath}.${process.pid}.${randomBytes(6).toString('hex')}.old`;
      linkSync(keyPath, oldKey);
    }
    renameSync(temporaries[0]!, keyPath);
    keyReplaced = true;
    renameSync(temporaries[1]!, pubPath);
  } catch (e) {
    if (keyReplaced) {
      if (oldKey) renameSync(oldKey, keyPath);
      else rmSync(keyPath, { force: true });
      oldKey = undefined;
    }
    throw e;
  } finally {
    for (const tmp of temporaries) rmSync(tmp, { force: true });
    if (oldKey) rmSync(oldKey, { force: true });
  }
}

/** What is wrong with writing a key file at `path`, or undefined; checked for both files before either is written. */
function keyFileProblem(path: string, what: string, force: boolean | undefined): string | undefined {
  let exists = false;
  try {
    const st = lstatSync(path);
    exists = true;
    // a key is renamed into place: a device or a pipe cannot take it, and a link would be replaced, not followed
    if (!st.isFile() && !st.isDirectory()) return `the ${what} ${path} exists and is not a regular file (a link, a device...): give another --output-key-prefix or --dir`;
  } catch {
    // absent: checked below like any new output file
  }
  const problem = checkOutputPath(path, `the ${what}`);
  if (problem) return problem;
  if (exists && statSync(path).isFile() && !force) return `${path} exists; pass --force to overwrite`;
  return undefined;
}

/** `sigstack generate-key-pair`: cosign.key (encrypted, mode 0600) and cosign.pub, as cosign writes them. */
export function register(program: Command): void {
  program
    .command('generate-key-pair')
    .description('write cosign.key (scrypt + secretbox encrypted, as cosign) and cosign.pub, for signing with a managed key')
    .option('--output-key-prefix <prefix>', 'file name prefix (may hold a path, whose folder must exist)', 'cosign')
    .option('--dir <dir>', 'where to write the files', '.')
    .option('--force', 'overwrite existing files')
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2))
    .addHelpText('after', '\nThe password is read as cosign reads it: $COSIGN_PASSWORD when set (it may be empty), else typed twice at the terminal, else piped on stdin.' +
      '\nBoth files are checked before either is written, and written whole: a failure leaves the old pair as it was.' +
      '\nThe private key is written mode 0600, also over an existing file. Exit codes: 0 written, 1 failed, 2 bad usage.')
    .action(async (opts: { outputKeyPrefix: string; dir: string; force?: boolean }) => {
      const name = basename(opts.outputKeyPrefix);
      // "" or "sub/" would write the hidden files .key and .pub
      if (name === '' || name === '.' || name === '..' || opts.outputKeyPrefix.endsWith('/')) {
        usage(`--output-key-prefix "${opts.outputKeyPrefix}" names no file: give a name such as cosign`);
      }
      const keyPath = join(opts.dir, `${opts.outputKeyPrefix}.key`);
      const pubPath = join(opts.dir, `${opts.outputKeyPrefix}.pub`);
      // before the password prompt: nobody should type a password twice only to be told the files exist
      if (!existsSync(opts.dir) || !statSync(opts.dir).isDirectory()) usage(`--dir ${opts.dir} is not a folder`);
      const problem = keyFileProblem(keyPath, 'private key', opts.force) ?? keyFileProblem(pubPath, 'public key', opts.force);
      if (problem) usage(problem);
      const { newKeyPassword } = await import('./key-flags.ts');
      let password: string;
      try {
        password = await newKeyPassword();
      } catch (e) {
        usage((e as Error).message);
      }
      const { generateKeyFiles } = await import('../oci/cosign-key.ts');
      const { privatePem, publicPem } = generateKeyFiles(password);
      try {
        installKeyPair(keyPath, privatePem, pubPath, publicPem);
      } catch (e) {
        process.stderr.write(`Error: cannot write the key pair (nothing was replaced): ${(e as Error).message}\n`);
        process.exitCode = 1;
        return;
      }
      process.stderr.write(`Private key written to ${keyPath}\nPublic key written to ${pubPath}\n`);
    });
}
