import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { fingerprint, MIN_PASSPHRASE_LENGTH } from '../../ca/ceremony.ts';
import { initCaFiles, pkcs11FromEnv, rotateCaFiles } from '../../services/ca-files.ts';
import { keyPassphraseFrom } from '../../services/keys.ts';
import { ConfigError } from '../../services/startup-errors.ts';

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

function usage(command: string, message: string): never {
  process.stderr.write(`Error: ${message}\nRun "sigstack ca ${command} --help" for usage.\n`);
  process.exit(2);
}

function readInput(command: string, path: string, flag: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    usage(command, `cannot read ${flag} ${path}: ${(e as Error).message}`);
  }
}

/** The passphrase of the CA keys: --passphrase-file, else the variables `sigstack serve` reads too. */
function passphrase(command: string, opts: CaOptions): string {
  const env = process.env;
  if (!opts.passphraseFile && !env.SIGSTACK_CA_PASSPHRASE && !env.SIGSTACK_CA_PASSPHRASE_FILE) {
    usage(command, `the CA keys are ${command === 'init' ? 'written' : 'read'} encrypted: give their passphrase with --passphrase-file FILE, SIGSTACK_CA_PASSPHRASE or SIGSTACK_CA_PASSPHRASE_FILE`);
  }
  let value: string;
  let source: string;
  if (opts.passphraseFile) {
    value = readInput(command, opts.passphraseFile, '--passphrase-file').split(/\r?\n/)[0]!;
    source = `--passphrase-file ${opts.passphraseFile}`;
  } else {
    try {
      ({ passphrase: value, source } = keyPassphraseFrom('the CA keys'));
    } catch (err) {
      // an unreadable SIGSTACK_CA_PASSPHRASE_FILE is named as such, not taken for a wrong passphrase
      if (err instanceof ConfigError) usage(command, err.message);
      throw err;
    }
  }
  if (value === '') usage(command, `the passphrase ${opts.passphraseFile ? `in ${opts.passphraseFile} (its first line) ` : ''}is empty`);
  // the ceremony refuses it too, but as a failure (exit 1): it is the setting that is wrong
  if (value.length < MIN_PASSPHRASE_LENGTH) usage(command, `the passphrase from ${source} has ${value.length} characters: a CA passphrase needs at least ${MIN_PASSPHRASE_LENGTH}`);
  return value;
}

const EXIT_CODES = '\nExit codes: 0 done, 1 failed (the message says why), 2 bad usage (a missing passphrase, an unreadable file).';

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
    .option('--passphrase-file <file>', 'file whose first line is the passphrase (else SIGSTACK_CA_PASSPHRASE or SIGSTACK_CA_PASSPHRASE_FILE)')
    .addHelpText('after', EXIT_CODES)
    .action((opts: CaOptions) => {
      const dataDir = resolve(opts.dataDir);
      const rootKeyOut = resolve(opts.rootKeyOut ?? join(dataDir, 'offline', 'ca-root.key.pem'));
      // With SIGSTACK_CA_PKCS11_* set, the intermediate key is generated inside the HSM and never leaves it.
      const r = initCaFiles({ dataDir, rootKeyOut, passphrase: passphrase('init', opts), organization: opts.organization, pkcs11: pkcs11FromEnv() });
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
    .option('--passphrase-file <file>', 'file whose first line is the passphrase (else SIGSTACK_CA_PASSPHRASE or SIGSTACK_CA_PASSPHRASE_FILE)')
    .addHelpText('after', EXIT_CODES)
    .action((opts: CaOptions) => {
      const r = rotateCaFiles({ dataDir: resolve(opts.dataDir), rootKeyPem: readInput('rotate', opts.rootKey!, '--root-key'), passphrase: passphrase('rotate', opts), organization: opts.organization });
      process.stdout.write(describe('previous intermediate', r.previousDer) + describe('new intermediate', r.intermediateDer));
      process.stderr.write('Restart the CA to issue under the new intermediate; hand verifiers the new trusted_root.json.\n');
    });
}
