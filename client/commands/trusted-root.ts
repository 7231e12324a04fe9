import { createHash } from 'node:crypto';
import type { Command } from 'commander';
import { REQUEST_TIMEOUT_MS, requestFailure } from '../sign.ts';
import { checkOutputPath, descriptorOf, isStdout, writeOutputFile } from './output-files.ts';
import { checkUrlFlags } from './url-flags.ts';

interface TrustedRootCliOptions {
  url?: string;
  dataDir?: string;
  out?: string;
  signingConfig?: string;
}

function usage(message: string): never {
  process.stderr.write(`Error: ${message}\nRun "sigstack trusted-root --help" for usage.\n`);
  process.exit(2);
}

async function getJson(url: string): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url, { redirect: 'error', signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  } catch (e) {
    throw new Error(`cannot reach ${url} (${requestFailure(e)})`);
  }
  if (!res.ok) throw new Error(`${url} said ${res.status}`);
  let text: string;
  try {
    text = await res.text();
  } catch (e) {
    throw new Error(`cannot read the answer of ${url} (${requestFailure(e)})`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`${url} did not return JSON`);
  }
}

async function load(opts: TrustedRootCliOptions): Promise<{ trustedRoot: unknown; signingConfig: unknown; source: string }> {
  if (opts.url) {
    const base = opts.url.replace(/\/+$/, '');
    const [trustedRoot, signingConfig] = await Promise.all([
      getJson(`${base}/sigstack/v1/trusted_root.json`),
      opts.signingConfig ? getJson(`${base}/sigstack/v1/signing_config.json`) : Promise.resolve(undefined),
    ]);
    return { trustedRoot, signingConfig, source: base };
  }
  // Server code is loaded only for this offline form, and only now.
  const { loadTrustDocuments } = await import('../../services/trust.ts');
  return { ...(await loadTrustDocuments(opts.dataDir!)), source: opts.dataDir! };
}

/** `sigstack trusted-root (--url U | --data-dir D)`: write the deployment's trusted_root.json (and signing_config.json). */
export function register(program: Command): void {
  program
    .command('trusted-root')
    .description("write the deployment's trusted_root.json (and signing_config.json) for verifiers and signers")
    .option('--url <url>', 'fetch them from a running Sigstack server (GET /sigstack/v1/trusted_root.json)')
    .option('--data-dir <dir>', "build them offline from a server's data folder")
    .option('--out <file>', 'write the trusted root here instead of stdout (- is stdout)')
    .option('--signing-config <file>', 'also write signing_config.json here (- is stdout, when --out is a file)')
    // Commander's own usage errors (missing option, unknown flag) exit 2 like ours; --help exits 0.
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2))
    .addHelpText('after', `
Fetching over the network trusts whoever answers: compare the SHA-256 printed on stderr with the one the
operator publishes (or use --data-dir on the server itself) before handing the file to verifiers.
Exit codes: 0 written, 1 failed, 2 bad usage.`)
    .action(async (opts: TrustedRootCliOptions) => {
      if (Boolean(opts.url) === Boolean(opts.dataDir)) usage('give exactly one of --url and --data-dir');
      checkUrlFlags(opts, usage);
      // Both outputs are checked before anything is fetched or written: one path for both would leave the signing
      // config where the trusted root (whose hash was just printed) should be.
      const out = opts.out ?? '-';
      const problem = checkOutputPath(out, '--out') ||
        (opts.signingConfig && checkOutputPath(opts.signingConfig, '--signing-config', [{ path: opts.out, what: 'trusted root output (--out)' }]));
      if (problem) usage(problem);
      const fd = descriptorOf(out);
      if (opts.signingConfig && fd !== undefined && descriptorOf(opts.signingConfig) === fd) {
        usage(`--signing-config ${opts.signingConfig} goes where the trusted root goes${opts.out ? ` (--out ${opts.out})` : ' (stdout)'}: give one of them a file`);
      }
      try {
        const { trustedRoot, signingConfig, source } = await load(opts);
        const { parseTrustedRoot, parseSigningConfig } = await import('../trusted-root.ts');
        // Refuse to hand out a trusted root the verifier would refuse, or a signing config the signers would; both
        // are checked before either is written.
        parseTrustedRoot(trustedRoot);
        if (opts.signingConfig) parseSigningConfig(signingConfig);
        const text = `${JSON.stringify(trustedRoot, null, 2)}\n`;
        // stdout too is written through its descriptor: a closed pipe (EPIPE) is an error here, not a crash later
        writeOutputFile(out, text);
        process.stderr.write(`Trusted root from ${source}${isStdout(out) ? '' : ` written to ${out}`}, SHA-256 ${createHash('sha256').update(text).digest('hex')}\n`);
        if (opts.signingConfig) {
          writeOutputFile(opts.signingConfig, `${JSON.stringify(signingConfig, null, 2)}\n`);
          process.stderr.write(`Signing config written to ${opts.signingConfig}\n`);
        }
      } catch (e) {
        process.stderr.write(`Error: ${(e as Error).message}\n`);
        process.exitCode = 1;
      }
    });
}
