import type { Command } from 'commander';
import { addPolicyOptions, addRegistryOptions, policyFrom, registryCredentials, requireOptions, usageFor, type PolicyCliOptions, type RegistryCliOptions } from '../oci/cli-options.ts';
import { createVerifier, VerificationError } from '../verify/index.ts';
import { readInputFile } from './output-files.ts';
import { checkImageReference } from './url-flags.ts';

const usage: (message: string) => never = usageFor('verify-attestation');

/** A trusted root is tens of kilobytes: a larger file is refused before it is read (as `verify` does). */
const MAX_TRUSTED_ROOT = 16 << 20;

function readTrustedRoot(path: string): string {
  const r = readInputFile(path, 'trusted root', MAX_TRUSTED_ROOT);
  if ('problem' in r) usage(r.problem);
  return r.bytes.toString('utf8');
}

/** `sigstack verify-attestation REF --type T`: verify the image's attestations of that type, offline. */
export function register(program: Command): void {
  const cmd = program
    .command('verify-attestation')
    .description('verify the in-toto attestations of a container image against a trusted root, offline')
    .argument('<image>', 'image reference: registry/repository[:tag][@sha256:...]')
    .option('--type <type>', 'the predicate type that must be attested (name or URI)', 'custom')
    .option('--key <file>', 'verify key-signed attestations with this public key (cosign.pub) instead of identities');
  addRegistryOptions(addPolicyOptions(cmd))
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2))
    .addHelpText('after', '\nPrints the checks on stderr and each verified attestation as one JSON line on stdout (as cosign).\nExit codes: 0 verified, 1 none valid, 2 bad usage.')
    .action(async (image: string, opts: PolicyCliOptions & RegistryCliOptions & { trustedRoot?: string; type: string; key?: string }) => {
      const { trustedRoot } = requireOptions(opts, { trustedRoot: '--trusted-root <file>' }, usage);
      await checkImageReference(image, usage);
      let publicKey;
      if (opts.key) {
        const { readVerifyKey, refuseIdentityFlags } = await import('./key-flags.ts');
        refuseIdentityFlags(opts, usage);
        publicKey = await readVerifyKey(opts.key, usage);
      }
      // With --key the key is the policy; the identity flags are for certificates.
      const policy = publicKey ? { identity: 'key', issuer: 'key' } : policyFrom(opts, usage);
      const { verifyImageAttestations, predicateTypeUri } = await import('../oci/attest.ts');
      try {
        predicateTypeUri(opts.type);
      } catch (e) {
        usage((e as Error).message);
      }
      const credentials = await registryCredentials(image, opts, usage);
      let trust;
      try {
        trust = createVerifier(readTrustedRoot(trustedRoot)).trust;
      } catch (e) {
        usage(`${trustedRoot}: ${(e as Error).message.replace(/^trusted root: /, '')}`);
      }
      try {
        const r = await verifyImageAttestations({ image, type: opts.type, trust, policy, publicKey, credentials, insecure: opts.allowInsecureRegistry });
        process.stderr.write(`\nVerification for ${r.reference} --\nThe following checks were performed on each of these signatures:\n` +
          '  - The cosign claims were validated\n  - Existence of the claims in the transparency log was verified offline\n' +
          (publicKey ? '  - The signatures were verified against the specified public key\n' : '  - The code-signing certificate was verified using trusted certificate authority certificates\n'));
        for (const a of r.attestations) {
          const signer = publicKey ? `Signed with the key ${opts.key}\n` : `Certificate subject: ${a.identity}\nCertificate issuer URL: ${a.issuer}\n`;
          process.stderr.write(`${signer}${a.checks.map((c) => `    - ${c}\n`).join('')}`);
          const out = publicKey ? { payloadType: 'application/vnd.in-toto+json', statement: a.statement } : { payloadType: 'application/vnd.in-toto+json', statement: a.statement, Issuer: a.issuer, Subject: a.identity };
          process.stdout.write(`${JSON.stringify(out)}\n`);
        }
      } catch (e) {
        const code = e instanceof VerificationError ? ` [${e.code}]` : '';
        process.stderr.write(`Error:${code} ${(e as Error).message}\n`);
        process.exitCode = e instanceof VerificationError && e.code === 'POLICY' ? 2 : 1;
      }
    });
}
