import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import { fsReason } from '../../core/fs-reason.ts';
import { checkOutputPath, isStdout, readInputFile, writeOutputFile } from './output-files.ts';
import { requireOptions } from './policy-flags.ts';
import { ByteProgress } from './progress.ts';
import { checkUrlFlags, serverUrlProblem } from './url-flags.ts';

/** The signing code takes bytes or a file; stdin is read into memory, so it is bounded (a file is streamed). */
const MAX_STDIN = 1 << 30;

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
    usage(`cannot read the identity token file ${v}: ${fsReason(e)}`);
  }
}

/** The file to sign from stdin (`sign -`, as cosign), with progress when it takes more than a second. */
async function readStdin(): Promise<Buffer> {
  if (process.stdin.isTTY) process.stderr.write('Reading the file to sign from the terminal: end it with Ctrl-D\n');
  const progress = new ByteProgress('Reading stdin', undefined);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of process.stdin) {
    total += (chunk as Buffer).length;
    if (total > MAX_STDIN) usage('stdin holds more than 1 GiB: give the file\'s path instead (a file is streamed, whatever its size)');
    chunks.push(chunk as Buffer);
    progress.add((chunk as Buffer).length);
  }
  return Buffer.concat(chunks, total);
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
    .argument('<file>', 'the file to sign, or - to read it from stdin')
    .option('--bundle <out>', 'where to write the bundle (JSON), or - for stdout; required')
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

Progress goes to stderr; the bundle path is printed on stdout, unless the bundle itself goes there (--bundle -).
Hashing a large file reports its progress on stderr every second. Exit codes: 0 signed, 1 failed, 2 bad usage.`)
    .action(async (file: string, opts: SignCliOptions) => {
      const { bundle: out } = requireOptions(opts, { bundle: '--bundle <out>' }, usage);
      const rawToken = opts.identityToken ?? process.env.SIGSTORE_ID_TOKEN;
      if (opts.key && opts.identityToken) usage('--key and --identity-token exclude each other: sign with a managed key or keylessly');
      if (!opts.key && !rawToken) usage('no identity token: pass --identity-token or set SIGSTORE_ID_TOKEN (or sign with --key)');
      checkUrlFlags(opts, usage);
      // the password of --key is read from stdin when it is not in the environment: stdin cannot be both
      if (file === '-' && opts.key && process.env.COSIGN_PASSWORD === undefined) usage('the file is read from stdin (-): give the password of --key in $COSIGN_PASSWORD');
      let fulcioUrl = opts.fulcioUrl ?? opts.url;
      let rekorUrl = opts.rekorUrl ?? opts.url;
      if (opts.signingConfig) {
        const { parseSigningConfig } = await import('../trusted-root.ts');
        const read = readInputFile(opts.signingConfig, 'signing config', 1 << 20);
        if ('problem' in read) usage(read.problem);
        let services;
        try {
          services = parseSigningConfig(read.bytes.toString('utf8'));
        } catch (e) {
          usage(`${opts.signingConfig}: ${(e as Error).message}`);
        }
        const problem = serverUrlProblem(`${opts.signingConfig}: its CA URL`, services.caUrl) ?? serverUrlProblem(`${opts.signingConfig}: its log URL`, services.rekorUrl);
        if (problem) usage(problem);
        fulcioUrl ??= services.caUrl;
        rekorUrl ??= services.rekorUrl;
      }
      if (opts.key ? !rekorUrl : !fulcioUrl || !rekorUrl) {
        usage(opts.key ? 'say where the log is: --rekor-url, --url or --signing-config' : 'say where the CA and the log are: --url, or --fulcio-url and --rekor-url, or --signing-config');
      }
      let size = 0;
      if (file !== '-') {
        try {
          const st = statSync(file);
          if (st.isDirectory()) usage(`${file} is a folder: give the file to sign`);
          accessSync(file, constants.R_OK);
          size = st.isFile() ? st.size : 0;
        } catch (e) {
          usage(`cannot read ${file}: ${fsReason(e)}`);
        }
      }
      const token = opts.key ? undefined : readToken(rawToken!);
      // Everything that can make the bundle unwritable is checked now: once the log has the entry it is permanent.
      const outputProblem = checkOutputPath(out, '--bundle', [
        { path: file, what: 'file to sign' }, { path: opts.key, what: 'signing key' }, { path: opts.signingConfig, what: 'signing config' },
        { path: token?.file, what: 'identity token file' },
      ]);
      if (outputProblem) usage(outputProblem);
      const toStdout = isStdout(out);
      const progress = (line: string) => process.stderr.write(`${line}\n`);
      // read now, before any key is asked for: a failure here costs no certificate and no entry
      const artifact = file === '-' ? await readStdin() : { path: file };
      const name = file === '-' ? 'stdin' : file;
      // hashing a large file takes a while: a line a second says how far it is
      const hashing = size > 0 ? new ByteProgress(`Hashing ${file}`, size) : undefined;
      const onRead = hashing && ((bytes: number) => hashing.add(bytes));
      let sign: () => Promise<unknown>;
      if (opts.key) {
        const { readSigningKey } = await import('./key-flags.ts');
        const key = await readSigningKey(opts.key, usage);
        const { signArtifactWithKey } = await import('../sign-key.ts');
        progress(`Signing ${name} with the key ${opts.key}`);
        // Streamed, as keyless signing: hashed and signed in one pass, so a file of any size can be signed.
        sign = () => signArtifactWithKey({ artifact, key, rekorUrl: rekorUrl!, onProgress: progress, onRead });
      } else {
        const { signArtifact } = await import('../sign.ts');
        progress(`Signing ${name} with an ephemeral key (kept in memory only)`);
        sign = () => signArtifact({ artifact, identityToken: token!.token, fulcioUrl: fulcioUrl!, rekorUrl: rekorUrl!, onProgress: progress, onRead });
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
        // The entry is in the log for good: hand the bundle over on the other stream rather than lose it.
        const why = toStdout ? `could not be written (${(e as Error).message})` : `could not be written to ${out}: ${(e as Error).message}`;
        process.stderr.write(`Error: the signature is logged, but the bundle ${why}\n` +
          `The bundle follows on ${toStdout ? 'stderr' : 'stdout'}: save it.\n`);
        (toStdout ? process.stderr : process.stdout).write(text);
        process.exitCode = 1;
        return;
      }
      progress(`Wrote bundle to ${toStdout ? 'stdout' : out}`);
      if (!toStdout) process.stdout.write(`${out}\n`);
    });
}
