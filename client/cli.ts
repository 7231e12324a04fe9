#!/usr/bin/env node
/**
 * The `sigstack` command. Each subcommand lives in client/commands/<name>.ts and is imported only when it
 * runs, so `verify` never loads the servers, SQLite or Koa.
 */
import { Command } from 'commander';

const program = new Command();
program
  .name('sigstack')
  .description('A private Sigstore stack: keyless signing CA, transparency log, CT log and offline verifier')
  .showHelpAfterError()
  .enablePositionalOptions();

type Register = (program: Command) => void;
/** name -> [one-line description, loader]. The loader is called for the command that runs (and for --help). */
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
  log: ['audit a transparency log against its checkpoints, or fill one with entries', () => import('./commands/log.ts')],
  ca: ['CA key ceremony: `ca init` (offline root + intermediate) and `ca rotate`', () => import('./commands/ca.ts')],
};

async function main(argv: string[]): Promise<void> {
  // `sigstack serve admission` is the webhook's own command with its own options (TLS, policy, trusted root)
  if (argv[2] === 'serve' && argv[3] === 'admission') argv = [argv[0]!, argv[1]!, 'serve-admission', ...argv.slice(4)];
  const wanted = argv[2];
  const entries = wanted && commands[wanted] ? [[wanted, commands[wanted]] as const] : Object.entries(commands);
  if (entries.length === 1) {
    const [, [, load]] = entries[0]!;
    (await load()).register(program);
  } else {
    // top-level help or an unknown command: list every command without loading any of them
    for (const [name, [description]] of Object.entries(commands)) program.command(name).description(description);
  }
  await program.parseAsync(argv);
}

main(process.argv).catch((err: unknown) => {
  const e = err as { message?: string; code?: string };
  process.stderr.write(`Error: ${e.message ?? String(err)}\n`);
  process.exitCode = 1;
});
