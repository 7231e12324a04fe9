import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import { checkOutputPath, writeOutputFile } from './key-flags.ts';
import { requireOptions } from './policy-flags.ts';

/** Exit codes: 0 signed, 1 signing failed (the message names the step), 2 bad usage. */
function usage(message: string): never {
  process.stderr.write(`Error: ${message}\nRun "sigstack sign --help" for usage.\n`);
  process.exit(2);
}

/** cosign accepts the token itself or a file holding it; so do we. `file` says which file it came from. */
function readToken(value: string): { token: string; file?: string } {
  const v = value.trim();
  if (v.split('.').length === 3 || !existsSync(v)) return { token: v };
  try {
    return { token: readFileSync(v, 'utf8').trim(), file: v };
  } catch (e) {
    usage(`cannot read the identity token file ${v}: ${(e as Error).message}`);
  }
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
    .option('--bundle <out>', 'where to write the bundle (JSON); required')
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
      const { bundle: out } = requireOptions(opts, { bundle: '--bundle <out>' }, usage);
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
      try {
        if (statSync(file).isDirectory()) usage(`${file} is a folder: give the file to sign`);
        accessSync(file, constants.R_OK);
      } catch (e) {
        usage(`cannot read ${file}: ${(e as Error).message}`);
      }
      const token = opts.key ? undefined : readToken(rawToken!);
      // Everything that can make the bundle unwritable is checked now: once the log has the entry it is permanent.
      const outputProblem = checkOutputPath(out, '--bundle', [
        { path: file, what: 'file to sign' }, { path: opts.key, what: 'signing key' }, { path: opts.signingConfig, what: 'signing config' },
        { path: token?.file, what: 'identity token file' },
      ]);
      if (outputProblem) usage(outputProblem);
      const progress = (line: string) => process.stderr.write(`${line}\n`);
      let sign: () => Promise<unknown>;
      if (opts.key) {
        const { readSigningKey } = await import('./key-flags.ts');
        const key = await readSigningKey(opts.key, usage);
        const { signArtifactWithKey } = await import('../sign-key.ts');
        progress(`Signing ${file} with the key ${opts.key}`);
        // Streamed, as keyless signing: hashed and signed in one pass, so a file of any size can be signed.
        sign = () => signArtifactWithKey({ artifact: { path: file }, key, rekorUrl: rekorUrl!, onProgress: progress });
      } else {
        const { signArtifact } = await import('../sign.ts');
        progress(`Signing ${file} with an ephemeral key (kept in memory only)`);
        sign = () => signArtifact({ artifact: { path: file }, identityToken: token!.token, fulcioUrl: fulcioUrl!, rekorUrl: rekorUrl!, onProgress: progress });
      }
      let text: string;
      try {
        text = `${JSON.stringify(await sign(), null, 2)}\n`;
      } catch (e) {
        process.stderr.write(`Error: signing failed: ${(e as Error).message}\n`);
        process.exitCode = 1;
        return;
      }
      try {
        writeOutputFile(out, text);
      } catch (e) {
        // The entry is in the log for good: hand the bundle over on stdout rather than lose it.
        process.stderr.write(`Error: the signature is logged, but the bundle could not be written to ${out}: ${(e as Error).message}\n` +
          'The bundle follows on stdout: save it.\n');
        process.stdout.write(text);
        process.exitCode = 1;
        return;
      }
      progress(`Wrote bundle to ${out}`);
      process.stdout.write(`${out}\n`);
    });
}
