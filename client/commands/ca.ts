import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { fingerprint } from '../../ca/ceremony.ts';
import { initCaFiles, pkcs11FromEnv, rotateCaFiles } from '../../services/ca-files.ts';
import { keyPassphrase } from '../../services/keys.ts';

/**
 * `sigstack ca init` and `sigstack ca rotate`: the key ceremony. The root key is written encrypted OUTSIDE the
 * data folder's keys (to be carried offline); the running CA holds only the intermediate, encrypted, and reads its
 * passphrase from SIGSTACK_CA_PASSPHRASE or SIGSTACK_CA_PASSPHRASE_FILE.
 */

interface CaOptions {
  dataDir: string;
  passphraseFile?: string;
  rootKeyOut?: string;
  rootKey?: string;
  organization?: string;
}

function passphrase(opts: CaOptions): string {
  if (opts.passphraseFile) return readFileSync(opts.passphraseFile, 'utf8').split(/\r?\n/)[0]!;
  return keyPassphrase('the CA keys');
}

function describe(label: string, der: Buffer): string {
  return `${label} SHA-256 fingerprint: ${fingerprint(der)}\n`;
}

export function register(program: Command): void {
  const ca = program.command('ca').description('CA key ceremony: create an offline root and an intermediate, or rotate the intermediate');
  ca.command('init')
    .description('create an offline root and an intermediate; keys written encrypted, the chain into the data folder')
    .option('--data-dir <dir>', 'the data folder of `sigstack serve`', './data')
    .option('--root-key-out <file>', 'where to write the encrypted root key (then carry it offline)', undefined)
    .option('--organization <name>', 'O= of the certificates', 'sigstack')
    .option('--passphrase-file <file>', 'file whose first line is the passphrase (else SIGSTACK_CA_PASSPHRASE)')
    .action((opts: CaOptions) => {
      const dataDir = resolve(opts.dataDir);
      const rootKeyOut = resolve(opts.rootKeyOut ?? join(dataDir, 'offline', 'ca-root.key.pem'));
      // With SIGSTACK_CA_PKCS11_* set, the intermediate key is generated inside the HSM and never leaves it.
      const r = initCaFiles({ dataDir, rootKeyOut, passphrase: passphrase(opts), organization: opts.organization, pkcs11: pkcs11FromEnv() });
      process.stdout.write(describe('root', r.rootDer) + describe('intermediate', r.intermediateDer));
      process.stderr.write(`Wrote ${r.files.join(', ')}\n` +
        `Move ${rootKeyOut} offline: \`sigstack serve\` never needs it, \`sigstack ca rotate\` does.\n` +
        'Start the CA with the passphrase in SIGSTACK_CA_PASSPHRASE or SIGSTACK_CA_PASSPHRASE_FILE.\n');
    });
  ca.command('rotate')
    .description('issue a new intermediate under the offline root; the trusted root keeps the old one with its window')
    .option('--data-dir <dir>', 'the data folder of `sigstack serve`', './data')
    .requiredOption('--root-key <file>', 'the encrypted root key written by `ca init`')
    .option('--organization <name>', 'O= of the new intermediate', 'sigstack')
    .option('--passphrase-file <file>', 'file whose first line is the passphrase (else SIGSTACK_CA_PASSPHRASE)')
    .action((opts: CaOptions) => {
      const r = rotateCaFiles({ dataDir: resolve(opts.dataDir), rootKeyPem: readFileSync(opts.rootKey!, 'utf8'), passphrase: passphrase(opts), organization: opts.organization });
      process.stdout.write(describe('previous intermediate', r.previousDer) + describe('new intermediate', r.intermediateDer));
      process.stderr.write('Restart the CA to issue under the new intermediate; hand verifiers the new trusted_root.json.\n');
    });
}
