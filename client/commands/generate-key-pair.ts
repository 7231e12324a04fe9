import { chmodSync, existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';

function usage(message: string): never {
  process.stderr.write(`Error: ${message}\nRun "sigstack generate-key-pair --help" for usage.\n`);
  process.exit(2);
}

/** `sigstack generate-key-pair`: cosign.key (encrypted, mode 0600) and cosign.pub, as cosign writes them. */
export function register(program: Command): void {
  program
    .command('generate-key-pair')
    .description('write cosign.key (scrypt + secretbox encrypted, as cosign) and cosign.pub, for signing with a managed key')
    .option('--output-key-prefix <prefix>', 'file name prefix', 'cosign')
    .option('--dir <dir>', 'where to write the files', '.')
    .option('--force', 'overwrite existing files')
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2))
    .addHelpText('after', '\nThe password is read as cosign reads it: $COSIGN_PASSWORD when set (it may be empty), else typed twice at the terminal, else piped on stdin.' +
      '\nThe private key is written mode 0600, also over an existing file. Exit codes: 0 written, 1 failed, 2 bad usage.')
    .action(async (opts: { outputKeyPrefix: string; dir: string; force?: boolean }) => {
      const keyPath = join(opts.dir, `${opts.outputKeyPrefix}.key`);
      const pubPath = join(opts.dir, `${opts.outputKeyPrefix}.pub`);
      // before the password prompt: nobody should type a password twice only to be told the files exist
      if (!existsSync(opts.dir) || !statSync(opts.dir).isDirectory()) usage(`--dir ${opts.dir} is not a folder`);
      if (!opts.force && (existsSync(keyPath) || existsSync(pubPath))) usage(`${keyPath} or ${pubPath} exists; pass --force to overwrite`);
      const { newKeyPassword } = await import('./key-flags.ts');
      let password: string;
      try {
        password = await newKeyPassword();
      } catch (e) {
        usage((e as Error).message);
      }
      const { generateKeyFiles } = await import('../oci/cosign-key.ts');
      const { privatePem, publicPem } = generateKeyFiles(password);
      // writeFileSync's mode applies only when it creates the file: an existing 0644 cosign.key is closed first,
      // so the new private key is never readable by others, not even between the write and a later chmod
      if (existsSync(keyPath)) chmodSync(keyPath, 0o600);
      writeFileSync(keyPath, privatePem, { mode: 0o600 });
      chmodSync(keyPath, 0o600);
      writeFileSync(pubPath, publicPem);
      process.stderr.write(`Private key written to ${keyPath}\nPublic key written to ${pubPath}\n`);
    });
}
