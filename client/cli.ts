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
};

async function main(argv: string[]): Promise<void> {
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
