import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { addRegistryOptions, readText, registryCredentials, requireOptions, usageFor, type RegistryCliOptions } from '../oci/cli-options.ts';
import { checkImageReference, checkUrlFlags } from './url-flags.ts';

const usage: (message: string) => never = usageFor('attest');

interface AttestCliOptions extends RegistryCliOptions {
  predicate?: string;
  type: string;
  identityToken?: string;
  url?: string;
  fulcioUrl?: string;
  rekorUrl?: string;
  key?: string;
  newBundleFormat?: boolean;
}

/** `sigstack attest REF --predicate FILE --type T`: an in-toto attestation about the image digest, as cosign. */
export function register(program: Command): void {
  const cmd = program
    .command('attest')
    .description('attach a signed in-toto attestation (DSSE, logged as dsse) to a container image, as cosign does')
    .argument('<image>', 'image reference: registry/repository[:tag][@sha256:...]')
    .option('--predicate <file>', 'the predicate (JSON); required')
    .option('--type <type>', 'slsaprovenance|slsaprovenance1|spdx|cyclonedx|vuln|custom, or a predicate type URI', 'custom')
    .option('--identity-token <token>', 'OIDC identity token, or a file holding one (default: $SIGSTORE_ID_TOKEN)')
    .option('--url <url>', 'a Sigstack server running the CA and the log on one port')
    .option('--fulcio-url <url>', 'the CA, when it is not at --url')
    .option('--rekor-url <url>', 'the transparency log, when it is not at --url')
    .option('--key <file>', 'sign with a managed key (cosign.key; password from $COSIGN_PASSWORD, the terminal or stdin) instead of keylessly')
    .option('--new-bundle-format', 'attach a Sigstore bundle (DSSE) as an OCI 1.1 referrer (referrers tag schema fallback) instead of a layer of the .att tag');
  addRegistryOptions(cmd)
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2))
    .addHelpText('after', `
Examples:
  sigstack attest registry.internal/app:1.0 --predicate provenance.json --type slsaprovenance --url https://sigstack.internal --identity-token token.txt
  COSIGN_PASSWORD=... sigstack attest registry.internal/app:1.0 --predicate sbom.json --type spdx --key cosign.key --rekor-url https://sigstack.internal

Exit codes: 0 attested, 1 failed, 2 bad usage.`)
    .action(async (image: string, opts: AttestCliOptions) => {
      const { predicate: predicateFile } = requireOptions(opts, { predicate: '--predicate <file>' }, usage);
      checkUrlFlags(opts, usage);
      await checkImageReference(image, usage);
      if (opts.key && opts.identityToken) usage('--key and --identity-token exclude each other: attest with a managed key or keylessly');
      if (opts.key && opts.newBundleFormat) usage('--new-bundle-format is for keyless attestations');
      const raw = opts.key ? undefined : (opts.identityToken ?? process.env.SIGSTORE_ID_TOKEN)?.trim();
      if (!opts.key && !raw) usage('no identity token: pass --identity-token or set SIGSTORE_ID_TOKEN (or attest with --key)');
      const token = !raw ? '' : raw.split('.').length !== 3 && existsSync(raw) ? readText(raw, 'identity token file', usage).trim() : raw;
      const rekorUrl = opts.rekorUrl ?? opts.url;
      const fulcioUrl = opts.fulcioUrl ?? opts.url ?? (opts.key ? rekorUrl : undefined);
      if (!fulcioUrl || !rekorUrl) usage(opts.key ? 'say where the log is: --rekor-url or --url' : 'say where the CA and the log are: --url, or --fulcio-url and --rekor-url');
      let predicate: unknown;
      try {
        predicate = JSON.parse(readText(predicateFile, 'predicate', usage));
      } catch {
        usage(`${predicateFile} is not JSON`);
      }
      const { attestImage, predicateTypeUri } = await import('../oci/attest.ts');
      try {
        predicateTypeUri(opts.type);
      } catch (e) {
        usage((e as Error).message);
      }
      const credentials = await registryCredentials(image, opts, usage);
      let key;
      if (opts.key) {
        const { readSigningKey } = await import('./key-flags.ts');
        key = await readSigningKey(opts.key, usage);
      }
      try {
        const r = await attestImage({ image, predicate, type: opts.type, identityToken: token, key, newBundleFormat: opts.newBundleFormat, fulcioUrl, rekorUrl, credentials,
          insecure: opts.allowInsecureRegistry, onProgress: (l) => process.stderr.write(`${l}\n`) });
        process.stdout.write(`${r.reference}\n`);
      } catch (e) {
        process.stderr.write(`Error: attesting ${image} failed: ${(e as Error).message}\n`);
        process.exitCode = 1;
      }
    });
}
