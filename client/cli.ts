#!/usr/bin/env node
/**
 * The `sigstack` command. Each subcommand lives in client/commands/<name>.ts and is imported only when it
 * runs, so `verify` never loads the servers, SQLite or Koa.
 *
 * Exit codes, the same for every command: 0 success, 1 the work failed, 2 bad usage (commander's own errors too).
 * A command may add its own (log audit tells "the log is bad" from "could not audit"), documented in its --help.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';

const USAGE_EXIT = 2;

const program = new Command();
program
  .name('sigstack')
  .description('A private Sigstore stack: keyless signing CA, transparency log, CT log and offline verifier')
  .version(packageVersion(), '-V, --version', 'print the sigstack version')
  .showHelpAfterError()
  .enablePositionalOptions()
  // Inherited by every command registered after this line: commander's usage errors exit 2, as ours do.
  .exitOverride()
  .addHelpText('after', '\nRun "sigstack help COMMAND" or "sigstack COMMAND --help" for its options.\n' +
    'Exit codes: 0 success, 1 failure, 2 bad usage (some commands add their own: see their --help).');

type Register = (program: Command) => void;
/** name -> [one-line description, loader]. The loader is called for the command that runs (and for its help). */
const commands: Record<string, [string, () => Promise<{ register: Register }>]> = {
  serve: ['run the stack (CA, Rekor API, CT log) or one service of it', () => import('./commands/serve.ts')],
  sign: ['sign a file keylessly and write a Sigstore bundle', () => import('./commands/sign.ts')],
  verify: ['verify a file against a bundle and a trusted root, offline', () => import('./commands/verify.ts')],
  'trusted-root': ['write the deployment trusted_root.json (and signing_config.json)', () => import('./commands/trusted-root.ts')],
  config: ['check a YAML configuration file (sigstack config check FILE)', () => import('./commands/config.ts')],
  'sign-image': ['sign a container image in an OCI registry (cosign layout)', () => import('./commands/sign-image.ts')],
  'verify-image': ['verify the cosign signatures of a container image, offline', () => import('./commands/verify-image.ts')],
  attest: ['attach a signed in-toto attestation to a container image', () => import('./commands/attest.ts')],
  'verify-attestation': ['verify the attestations of a container image, offline', () => import('./commands/verify-attestation.ts')],
  'serve-admission': ['run the Kubernetes admission webhook that admits only verified images', () => import('../admission/command.ts')],
  'generate-key-pair': ['write cosign.key and cosign.pub for signing with a managed key', () => import('./commands/generate-key-pair.ts')],
  'dev-token': ['mint a token from the dev OIDC issuer of `serve --dev-oidc` (test harnesses)', () => import('./commands/dev-token.ts')],
  log: ['audit a transparency log, fill one for tests, back it up and restore it, rotate its key', () => import('./commands/log.ts')],
  ca: ['CA key ceremony: `ca init` (offline root + intermediate) and `ca rotate`', () => import('./commands/ca.ts')],
};

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/**
 * `help X [sub]` becomes `X [sub] --help`: commander's own help command would show X's lazily registered stub
 * (no options) and ignores [sub]. `serve admission` is the webhook's own command with its own options.
 */
export function normalizeArgv(argv: string[]): string[] {
  let args = argv.slice(2);
  // an unknown X is left bare, so commander names it ("unknown command") instead of printing the top-level help
  if (args[0] === 'help' && args[1]) args = commands[args[1]] ? [...args.slice(1), '--help'] : args.slice(1);
  if (args[0] === 'serve' && args[1] === 'admission') args = ['serve-admission', ...args.slice(2)];
  return [argv[0]!, argv[1]!, ...args];
}

async function main(argv: string[]): Promise<void> {
  argv = normalizeArgv(argv);
  const wanted = argv[2];
  if (wanted && commands[wanted]) {
    (await commands[wanted][1]()).register(program);
  } else {
    // top-level help, --version or an unknown command: list every command without loading any of them
    for (const [name, [description]] of Object.entries(commands)) program.command(name).description(description);
  }
  await program.parseAsync(argv);
}

main(process.argv).catch((err: unknown) => {
  if (err instanceof CommanderError) {
    // help and --version "fail" with exit code 0; commander has already printed the message
    process.exitCode = err.exitCode === 0 ? 0 : USAGE_EXIT;
    return;
  }
  const e = err as { message?: string; code?: string };
  process.stderr.write(`Error: ${e.message ?? String(err)}\n`);
  process.exitCode = 1;
});
