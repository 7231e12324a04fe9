import { createHash } from 'node:crypto';
import { closeSync, createReadStream, fstatSync, openSync } from 'node:fs';
import type { Command } from 'commander';
// Only the offline verifier: no HTTP client, no server code, no database is loaded by this command.
import { createVerifier, VerificationError } from '../verify/index.ts';
import { fsReason } from '../../core/fs-reason.ts';
import { readInputFile } from './output-files.ts';
import { policyFrom, requireOptions, type PolicyCliOptions } from './policy-flags.ts';
import { ByteProgress } from './progress.ts';

/** The verifier refuses a bundle over 4 MiB (client/bundle.ts); a trusted root is tens of kilobytes. */
const MAX_BUNDLE = 4 << 20;
const MAX_TRUSTED_ROOT = 16 << 20;

interface VerifyCliOptions extends PolicyCliOptions {
  bundle?: string;
  key?: string;
  trustedRoot?: string;
  json?: boolean;
}

function usage(message: string): never {
  process.stderr.write(`Error: ${message}\nRun "sigstack verify --help" for usage.\n`);
  process.exit(2);
}

/** The bytes of a bundle or trusted root; its size is checked before it is read (a 600 MB file is not read). */
function read(path: string, what: string, maxBytes: number): Buffer {
  const r = readInputFile(path, what, maxBytes);
  if ('problem' in r) usage(r.problem);
  return r.bytes;
}

/**
 * The SHA-256 of the file open at `fd` (or of stdin, for `-`), read as a stream of 1 MiB chunks: the verifier needs
 * only the digest, so a file of any size is verified in a few MiB of memory (readFileSync refuses files over 2 GiB).
 * A line a second on stderr says how far it is when that takes long.
 */
async function sha256OfFile(fd: number | undefined, path: string): Promise<Buffer> {
  const hash = createHash('sha256');
  const size = fd === undefined ? 0 : fstatSync(fd).size;
  const progress = new ByteProgress(fd === undefined ? 'Hashing stdin' : `Hashing ${path}`, size || undefined);
  const input = fd === undefined ? process.stdin : createReadStream(path, { fd, highWaterMark: 1 << 20 });
  try {
    for await (const chunk of input) {
      hash.update(chunk as Buffer);
      progress.add((chunk as Buffer).length);
    }
  } catch (e) {
    usage(`cannot read the file ${fd === undefined ? 'on stdin' : path}: ${fsReason(e)}`);
  }
  return hash.digest();
}

/** `sigstack verify FILE --bundle B --trusted-root R <identity> <issuer>`: offline verification. */
export function register(program: Command): void {
  program
    .command('verify')
    .description('verify a file against its Sigstore bundle and a trusted root, fully offline')
    .argument('<file>', 'the signed file, or - to read it from stdin')
    .option('--bundle <file>', 'the Sigstore bundle (v0.3, or v0.2 as written by sigstore-js); required')
    .option('--trusted-root <file>', 'trusted_root.json of the deployment (see `sigstack trusted-root`); required')
    .option('--certificate-identity <id>', 'the signer identity (email, URI or username) that must be in the certificate')
    .option('--certificate-identity-regexp <re>', 'a regular expression the WHOLE identity must match (it is anchored)')
    .option('--certificate-oidc-issuer <url>', 'the OIDC issuer that must have vouched for the identity')
    .option('--certificate-oidc-issuer-regexp <re>', 'a regular expression the WHOLE issuer must match (it is anchored)')
    .option('--key <file>', 'the bundle was signed with a managed key: verify with this public key (cosign.pub) instead of identities')
    .option('--json', 'on success, also print the verification result as JSON on stdout')
    // Commander's own usage errors (missing option, unknown flag) exit 2 like ours; --help exits 0.
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2))
    .addHelpText('after', `
Exactly one identity option and one issuer option are required, except with --key, which replaces them.
Example:
  sigstack verify release.tar.gz --bundle release.tar.gz.sigstore.json --trusted-root trusted_root.json \\
    --certificate-identity alice@example.com --certificate-oidc-issuer https://accounts.example.com
  sigstack verify app.bin --bundle app.bin.sigstore.json --trusted-root trusted_root.json --key cosign.pub

Hashing a large file reports its progress on stderr every second.
Exit codes: 0 verified, 1 verification failed (the message names the failed check), 2 bad usage.`)
    .action(async (file: string, opts: VerifyCliOptions) => {
      const { bundle: bundlePath, trustedRoot: trustedRootPath } = requireOptions(opts, { bundle: '--bundle <file>', trustedRoot: '--trusted-root <file>' }, usage);
      let publicKey;
      if (opts.key) {
        const { readVerifyKey, refuseIdentityFlags } = await import('./key-flags.ts');
        refuseIdentityFlags(opts, usage);
        publicKey = await readVerifyKey(opts.key, usage);
      }
      const policy = publicKey ? undefined : policyFrom(opts, usage);
      // Opened first, so a missing file is still the first thing reported; hashed after the trust material is
      // read and parsed, so a wrong --bundle or --trusted-root is said at once, not after hashing gigabytes.
      let fd: number | undefined;
      if (file !== '-') {
        try {
          fd = openSync(file, 'r');
          if (fstatSync(fd).isDirectory()) usage(`cannot read the file ${file}: it is a folder`);
        } catch (e) {
          usage(`cannot read the file ${file}: ${fsReason(e)}`);
        }
      }
      const bundle = read(bundlePath, 'bundle', MAX_BUNDLE);
      const trustedRoot = read(trustedRootPath, 'trusted root', MAX_TRUSTED_ROOT).toString('utf8');
      let verifier;
      try {
        verifier = createVerifier(trustedRoot);
      } catch (e) {
        if (!(e instanceof VerificationError)) throw e;
        // Name the file the user gave, not the document type: "r.json: mediaType is missing".
        process.stderr.write(`Error: cannot verify: [${e.code}] ${trustedRootPath}: ${e.message.replace(/^trusted root: /, '')}\n`);
        process.exitCode = 1;
        if (fd !== undefined) closeSync(fd);
        return;
      }
      // The stream closes the descriptor when it ends or fails.
      const artifact = { sha256: await sha256OfFile(fd, file) };
      try {
        if (publicKey) {
          const result = verifier.verifyWithKey({ artifact, bundle, publicKey });
          process.stderr.write(`Verified OK\nThe following checks were performed:\n${result.checks.map((c) => `  - ${c}\n`).join('')}`);
          process.stderr.write(`Signed with the key ${opts.key} (SHA-256 ${Buffer.from(result.keyHint, 'base64').toString('hex')})\n` +
            `Logged at: ${new Date(result.integratedTime * 1000).toISOString()} (log index ${result.logIndex})\n`);
          if (opts.json) process.stdout.write(`${JSON.stringify(result)}\n`);
          return;
        }
        const result = verifier.verify({ artifact, bundle, policy: policy! });
        process.stderr.write(`Verified OK\nThe following checks were performed:\n${result.checks.map((c) => `  - ${c}\n`).join('')}`);
        process.stderr.write(`Certificate identity: ${result.identity}\nCertificate issuer: ${result.issuer}\n` +
          `Logged at: ${new Date(result.integratedTime * 1000).toISOString()} (log index ${result.logIndex})\n`);
        if (opts.json) process.stdout.write(`${JSON.stringify(result)}\n`);
      } catch (e) {
        if (!(e instanceof VerificationError)) throw e;
        const what = e.code === 'POLICY' || e.code === 'TRUSTED_ROOT' ? 'cannot verify' : 'verification failed';
        process.stderr.write(`Error: ${what}: [${e.code}] ${e.message}\n`);
        process.exitCode = e.code === 'POLICY' ? 2 : 1;
      }
    });
}
