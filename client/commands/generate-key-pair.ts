import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';

/** `sigstack generate-key-pair`: cosign.key (encrypted, mode 0600) and cosign.pub, as cosign writes them. */
export function register(program: Command): void {
  program
    .command('generate-key-pair')
    .description('write cosign.key (scrypt + secretbox encrypted, as cosign) and cosign.pub, for signing with a managed key')
    .option('--output-key-prefix <prefix>', 'file name prefix', 'cosign')
    .option('--dir <dir>', 'where to write the files', '.')
    .option('--force', 'overwrite existing files')
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2))
    .addHelpText('after', '\nThe password is read as cosign reads it: $COSIGN_PASSWORD when set (it may be empty), else typed twice at the terminal, else piped on stdin.')
    .action(async (opts: { outputKeyPrefix: string; dir: string; force?: boolean }) => {
      const { newKeyPassword } = await import('./key-flags.ts');
      let password: string;
      try {
        password = await newKeyPassword();
      } catch (e) {
        process.stderr.write(`Error: ${(e as Error).message}\n`);
        process.exit(2);
      }
      const keyPath = join(opts.dir, `${opts.outputKeyPrefix}.key`);
      const pubPath = join(opts.dir, `${opts.outputKeyPrefix}.pub`);
      if (!opts.force && (existsSync(keyPath) || existsSync(pubPath))) {
        process.stderr.write(`Error: ${keyPath} or ${pubPath} exists; pass --force to overwrite\n`);
        process.exit(2);
      }
      const { generateKeyFiles } = await import('../oci/cosign-key.ts');
      const { privatePem, publicPem } = generateKeyFiles(password);
      writeFileSync(keyPath, privatePem, { mode: 0o600 });
      writeFileSync(pubPath, publicPem);
      process.stderr.write(`Private key written to ${keyPath}\nPublic key written to ${pubPath}\n`);
    });
}
