import { existsSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { addRegistryOptions, readText, registryCredentials, usageFor, type RegistryCliOptions } from '../oci/cli-options.ts';
import { checkImageReference, checkUrlFlags } from './url-flags.ts';

interface SignImageCliOptions extends RegistryCliOptions {
  identityToken?: string;
  url?: string;
  fulcioUrl?: string;
  rekorUrl?: string;
  signingConfig?: string;
  newBundleFormat?: boolean;
  key?: string;
}

const usage: (message: string) => never = usageFor('sign-image');

/** `sigstack sign-image REF`: keyless cosign-compatible signature of the image's manifest digest. */
export function register(program: Command): void {
  const cmd = program
    .command('sign-image')
    .description('sign a container image in an OCI registry keylessly, stored as cosign does (tag sha256-<digest>.sig)')
    .argument('<image>', 'image reference: registry/repository[:tag][@sha256:...]')
    .option('--identity-token <token>', 'OIDC identity token, or a file holding one (default: $SIGSTORE_ID_TOKEN)')
    .option('--url <url>', 'a Sigstack server running the CA and the log on one port')
    .option('--fulcio-url <url>', 'the CA (Fulcio v2 API), when it is not at --url')
    .option('--rekor-url <url>', 'the transparency log (Rekor v1 API), when it is not at --url')
    .option('--signing-config <file>', 'take the CA and log URLs from a signing_config.json (v0.2)')
    .option('--key <file>', 'sign with a managed key (cosign.key; password from $COSIGN_PASSWORD, the terminal or stdin) instead of keylessly')
    .option('--new-bundle-format', 'attach a Sigstore bundle as an OCI 1.1 referrer (referrers tag schema fallback) instead of the .sig tag');
  addRegistryOptions(cmd)
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2))
    .addHelpText('after', `
The tag is resolved to the manifest digest once; the digest is what is signed.
Example:
  sigstack sign-image registry.internal/app:1.0 --url https://sigstack.internal --identity-token token.txt

Exit codes: 0 signed, 1 failed, 2 bad usage.`)
    .action(async (image: string, opts: SignImageCliOptions) => {
      checkUrlFlags(opts, usage);
      await checkImageReference(image, usage);
      let key;
      if (opts.key) {
        const { readSigningKey } = await import('./key-flags.ts');
        key = await readSigningKey(opts.key, usage);
        if (opts.newBundleFormat) usage('--new-bundle-format is for keyless signing');
      }
      const rawToken = (opts.identityToken ?? process.env.SIGSTORE_ID_TOKEN)?.trim();
      if (!rawToken && !key) usage('no identity token: pass --identity-token or set SIGSTORE_ID_TOKEN (or sign with --key)');
      const token = !rawToken ? '' : rawToken.split('.').length !== 3 && existsSync(rawToken) ? readText(rawToken, 'identity token file', usage).trim() : rawToken;
      let fulcioUrl = opts.fulcioUrl ?? opts.url;
      let rekorUrl = opts.rekorUrl ?? opts.url;
      if (opts.signingConfig) {
        const { parseSigningConfig } = await import('../trusted-root.ts');
        try {
          const services = parseSigningConfig(readFileSync(opts.signingConfig, 'utf8'));
          fulcioUrl ??= services.caUrl;
          rekorUrl ??= services.rekorUrl;
        } catch (e) {
          usage(`${opts.signingConfig}: ${(e as Error).message}`);
        }
      }
      if (key && rekorUrl) fulcioUrl ??= rekorUrl;
      if (!fulcioUrl || !rekorUrl) usage('say where the CA and the log are: --url, or --fulcio-url and --rekor-url, or --signing-config');
      const credentials = await registryCredentials(image, opts, usage);
      const { signImage } = await import('../oci/sign-image.ts');
      try {
        const signed = await signImage({
          image, identityToken: token, fulcioUrl, rekorUrl, credentials, insecure: opts.allowInsecureRegistry, newBundleFormat: opts.newBundleFormat, key,
          onProgress: (line) => process.stderr.write(`${line}\n`),
        });
        process.stdout.write(`${signed.reference}\n`);
      } catch (e) {
        process.stderr.write(`Error: signing ${image} failed: ${(e as Error).message}\n`);
        process.exitCode = 1;
      }
    });
}
