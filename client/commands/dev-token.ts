import type { Command } from 'commander';
import { checkUrlFlags } from './url-flags.ts';

/**
 * `sigstack dev-token`: mints a token from the development OIDC issuers of `sigstack serve --dev-oidc` and prints
 * the JWT alone on stdout, so a harness can do `SIGSTORE_ID_TOKEN=$(sigstack dev-token --url U --kind github)`.
 */

const KINDS = ['github', 'gitlab', 'buildkite', 'codefresh'] as const;

interface DevTokenOptions {
  url: string;
  email?: string;
  kind?: string;
  claim: string[];
}

function usage(message: string): never {
  process.stderr.write(`Error: ${message}\nRun "sigstack dev-token --help" for usage.\n`);
  process.exit(2);
}

/** `key=value` gives a string; `key:=json` a JSON value (number, boolean, object, null to drop a default claim). */
export function parseClaimArg(arg: string): [string, unknown] {
  const json = /^([^=:]+):=(.*)$/s.exec(arg);
  if (json) {
    try {
      return [json[1]!, JSON.parse(json[2]!)];
    } catch {
      usage(`--claim ${arg}: the value after := must be JSON`);
    }
  }
  const eq = arg.indexOf('=');
  if (eq <= 0) usage(`--claim ${arg}: expected key=value or key:=json`);
  return [arg.slice(0, eq), arg.slice(eq + 1)];
}

export function register(program: Command): void {
  program
    .command('dev-token')
    .description('mint a token from the dev OIDC issuer of `sigstack serve --dev-oidc` and print the JWT on stdout')
    .requiredOption('--url <url>', 'the stack URL (as printed by serve)')
    .option('--email <email>', 'an email identity (the default kind)')
    .option('--kind <kind>', `a CI-shaped token with realistic claims: ${KINDS.join(', ')}`)
    .option('--claim <key=value>', 'set a claim (repeatable); key:=json for a non-string value, key:=null to drop one (sub and aud too, which are otherwise filled in)', (v: string, all: string[]) => [...all, v], [] as string[])
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2))
    .addHelpText('after', `
Examples:
  sigstack dev-token --url http://127.0.0.1:3000 --email alice@example.com
  sigstack dev-token --url http://127.0.0.1:3000 --kind gitlab --claim namespace_path=acme --claim runner_id:=7`)
    .action(async (opts: DevTokenOptions) => {
      checkUrlFlags(opts, usage);
      if (opts.email !== undefined && opts.kind !== undefined) usage('give --email or --kind, not both');
      if (opts.kind !== undefined && !(KINDS as readonly string[]).includes(opts.kind)) usage(`--kind must be one of ${KINDS.join(', ')}`);
      const claims: Record<string, unknown> = {};
      if (opts.email !== undefined) claims.email = opts.email;
      for (const arg of opts.claim) {
        const [k, v] = parseClaimArg(arg);
        claims[k] = v;
      }
      const url = `${opts.url.replace(/\/+$/, '')}/dev-oidc${opts.kind ? `/${opts.kind}` : ''}/token`;
      let res: Response;
      try {
        res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(claims), signal: AbortSignal.timeout(15_000) });
      } catch (e) {
        throw new Error(`cannot reach ${url} (${(e as { cause?: Error }).cause?.message ?? (e as Error).message})`);
      }
      const text = await res.text();
      if (res.status === 404) throw new Error(`${url} said 404: is the server running with --dev-oidc?`);
      let body: { id_token?: unknown; message?: unknown };
      try {
        body = JSON.parse(text);
      } catch {
        throw new Error(`${url} said ${res.status} with a body that is not JSON`);
      }
      if (!res.ok || typeof body.id_token !== 'string') throw new Error(`${url} said ${res.status}: ${String(body.message ?? text).slice(0, 300)}`);
      process.stdout.write(`${body.id_token}\n`);
    });
}
