import type { Command } from 'commander';
import { addPolicyOptions, addRegistryOptions, policyFrom, registryCredentials, requireOptions, usageFor, type PolicyCliOptions, type RegistryCliOptions } from '../oci/cli-options.ts';
import { createVerifier, VerificationError } from '../verify/index.ts';
import { readInputFile } from './output-files.ts';
import { checkImageReference } from './url-flags.ts';

const usage: (message: string) => never = usageFor('verify-image');

/** A trusted root is tens of kilobytes: a larger file is refused before it is read (as `verify` does). */
const MAX_TRUSTED_ROOT = 16 << 20;

function readTrustedRoot(path: string): string {
  const r = readInputFile(path, 'trusted root', MAX_TRUSTED_ROOT);
  if ('problem' in r) usage(r.problem);
  return r.bytes.toString('utf8');
}

/** `sigstack verify-image REF`: cosign-style verification of the image's signatures, offline. */
export function register(program: Command): void {
  const cmd = program
    .command('verify-image')
    .description('verify the cosign signatures of a container image against a trusted root (no call to the log or CA)')
    .argument('<image>', 'image reference: registry/repository[:tag][@sha256:...]')
    .option('--key <file>', 'verify managed-key signatures with this public key (cosign.pub) instead of identities');
  addRegistryOptions(addPolicyOptions(cmd))
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2))
    .addHelpText('after', `
Example:
  sigstack verify-image registry.internal/app:1.0 --trusted-root trusted_root.json \\
    --certificate-identity alice@example.com --certificate-oidc-issuer https://accounts.example.com

Prints the checks on stderr and the verified payloads as a JSON array on stdout, as cosign does.
Exit codes: 0 verified, 1 no valid signature (or the registry failed), 2 bad usage.`)
    .action(async (image: string, opts: PolicyCliOptions & RegistryCliOptions & { trustedRoot?: string; key?: string }) => {
      const { trustedRoot } = requireOptions(opts, { trustedRoot: '--trusted-root <file>' }, usage);
      await checkImageReference(image, usage);
      let publicKey;
      if (opts.key) {
        const { readVerifyKey } = await import('./key-flags.ts');
        publicKey = await readVerifyKey(opts.key, usage);
      }
      // With --key the key is the policy; the identity flags are for certificates.
      const policy = publicKey ? { identity: 'key', issuer: 'key' } : policyFrom(opts, usage);
      const credentials = await registryCredentials(image, opts, usage);
      let verifier;
      try {
        verifier = createVerifier(readTrustedRoot(trustedRoot));
      } catch (e) {
        usage(`${trustedRoot}: ${(e as Error).message.replace(/^trusted root: /, '')}`);
      }
      const { verifyImage, cosignOutput } = await import('../oci/verify-image.ts');
      try {
        const result = await verifyImage({ image, verifier, policy, publicKey, credentials, insecure: opts.allowInsecureRegistry });
        process.stderr.write(`\nVerification for ${result.reference} --\nThe following checks were performed on each of these signatures:\n` +
          `  - The cosign claims were validated\n  - Existence of the claims in the transparency log was verified offline\n` +
          // cosign's words: with --key there is no certificate, the key itself verified the signatures.
          (publicKey ? '  - The signatures were verified against the specified public key\n' : '  - The code-signing certificate was verified using trusted certificate authority certificates\n'));
        for (const [i, s] of result.signatures.entries()) {
          process.stderr.write(`Signature ${i + 1} (log index ${s.logIndex}):\n${s.checks.map((c) => `    - ${c}\n`).join('')}`);
        }
        process.stdout.write(`\n${JSON.stringify(cosignOutput(result))}\n`);
      } catch (e) {
        const code = e instanceof VerificationError ? ` [${e.code}]` : '';
        process.stderr.write(`Error:${code} ${(e as Error).message}\n`);
        process.exitCode = e instanceof VerificationError && e.code === 'POLICY' ? 2 : 1;
      }
    });
}
