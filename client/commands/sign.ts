import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';

/** Exit codes: 0 signed, 1 signing failed (the message names the step), 2 bad usage. */
function usage(message: string): never {
  process.stderr.write(`Error: ${message}\nRun "sigstack sign --help" for usage.\n`);
  process.exit(2);
}

/** cosign accepts the token itself or a file holding it; so do we. */
function readToken(value: string): string {
  const v = value.trim();
  return v.split('.').length !== 3 && existsSync(v) ? readFileSync(v, 'utf8').trim() : v;
}

interface SignCliOptions {
  bundle?: string;
  identityToken?: string;
  url?: string;
  fulcioUrl?: string;
  rekorUrl?: string;
  signingConfig?: string;
  key?: string;
}

/** `sigstack sign FILE --bundle OUT`: keyless signing (or with --key, a managed key) into a Sigstore bundle v0.3. */
export function register(program: Command): void {
  program
    .command('sign')
    .description('sign a file keylessly (CA certificate + transparency log entry) and write a Sigstore bundle v0.3')
    .argument('<file>', 'the file to sign')
    .requiredOption('--bundle <out>', 'where to write the bundle (JSON)')
    .option('--identity-token <token>', 'OIDC identity token, or a file holding one (default: $SIGSTORE_ID_TOKEN)')
    .option('--url <url>', 'a Sigstack server running the CA and the log on one port')
    .option('--fulcio-url <url>', 'the CA (Fulcio v2 API), when it is not at --url')
    .option('--rekor-url <url>', 'the transparency log (Rekor v1 API), when it is not at --url')
    .option('--signing-config <file>', 'take the CA and log URLs from a signing_config.json (v0.2)')
    .option('--key <file>', 'sign with a managed key (cosign.key; password from $COSIGN_PASSWORD, the terminal or stdin) instead of keylessly; only the log is needed')
    // Commander's own usage errors (missing option, unknown flag) exit 2 like ours; --help exits 0.
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2))
    .addHelpText('after', `
Examples:
  SIGSTORE_ID_TOKEN=$(get-token) sigstack sign release.tar.gz --bundle release.tar.gz.sigstore.json --url https://sigstack.internal
  sigstack sign app.bin --bundle app.bin.sigstore.json --identity-token token.txt --signing-config signing_config.json
  COSIGN_PASSWORD=... sigstack sign app.bin --bundle app.bin.sigstore.json --key cosign.key --rekor-url https://sigstack.internal

Progress goes to stderr; the bundle path is printed on stdout. Exit codes: 0 signed, 1 failed, 2 bad usage.`)
    .action(async (file: string, opts: SignCliOptions) => {
      const rawToken = opts.identityToken ?? process.env.SIGSTORE_ID_TOKEN;
      if (opts.key && opts.identityToken) usage('--key and --identity-token exclude each other: sign with a managed key or keylessly');
      if (!opts.key && !rawToken) usage('no identity token: pass --identity-token or set SIGSTORE_ID_TOKEN (or sign with --key)');
      let fulcioUrl = opts.fulcioUrl ?? opts.url;
      let rekorUrl = opts.rekorUrl ?? opts.url;
      if (opts.signingConfig) {
        const { parseSigningConfig } = await import('../trusted-root.ts');
        let services;
        try {
          services = parseSigningConfig(readFileSync(opts.signingConfig, 'utf8'));
        } catch (e) {
          usage(`${opts.signingConfig}: ${(e as Error).message}`);
        }
        fulcioUrl ??= services.caUrl;
        rekorUrl ??= services.rekorUrl;
      }
      if (opts.key ? !rekorUrl : !fulcioUrl || !rekorUrl) {
        usage(opts.key ? 'say where the log is: --rekor-url, --url or --signing-config' : 'say where the CA and the log are: --url, or --fulcio-url and --rekor-url, or --signing-config');
      }
      let artifact: Buffer;
      try {
        artifact = readFileSync(file);
      } catch (e) {
        usage(`cannot read ${file}: ${(e as Error).message}`);
      }
      const progress = (line: string) => process.stderr.write(`${line}\n`);
      let sign: () => Promise<unknown>;
      if (opts.key) {
        const { readSigningKey } = await import('./key-flags.ts');
        const key = await readSigningKey(opts.key, usage);
        const { signArtifactWithKey } = await import('../sign-key.ts');
        progress(`Signing ${file} with the key ${opts.key}`);
        sign = () => signArtifactWithKey({ artifact, key, rekorUrl: rekorUrl!, onProgress: progress });
      } else {
        const { signArtifact } = await import('../sign.ts');
        progress(`Signing ${file} with an ephemeral key (kept in memory only)`);
        sign = () => signArtifact({ artifact, identityToken: readToken(rawToken!), fulcioUrl: fulcioUrl!, rekorUrl: rekorUrl!, onProgress: progress });
      }
      try {
        const bundle = await sign();
        writeFileSync(opts.bundle!, `${JSON.stringify(bundle, null, 2)}\n`);
      } catch (e) {
        process.stderr.write(`Error: signing failed: ${(e as Error).message}\n`);
        process.exitCode = 1;
        return;
      }
      progress(`Wrote bundle to ${opts.bundle}`);
      process.stdout.write(`${opts.bundle}\n`);
    });
}
