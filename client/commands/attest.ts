import { existsSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { addRegistryOptions, readText, registryCredentials, usageFor, type RegistryCliOptions } from '../oci/cli-options.ts';

const usage: (message: string) => never = usageFor('attest');

interface AttestCliOptions extends RegistryCliOptions {
  predicate: string;
  type: string;
  identityToken?: string;
  url?: string;
  fulcioUrl?: string;
  rekorUrl?: string;
}

/** `sigstack attest REF --predicate FILE --type T`: an in-toto attestation about the image digest, as cosign. */
export function register(program: Command): void {
  const cmd = program
    .command('attest')
    .description('attach a signed in-toto attestation (DSSE, logged as dsse) to a container image, as cosign does')
    .argument('<image>', 'image reference: registry/repository[:tag][@sha256:...]')
    .requiredOption('--predicate <file>', 'the predicate (JSON)')
    .option('--type <type>', 'slsaprovenance|slsaprovenance1|spdx|cyclonedx|vuln|custom, or a predicate type URI', 'custom')
    .option('--identity-token <token>', 'OIDC identity token, or a file holding one (default: $SIGSTORE_ID_TOKEN)')
    .option('--url <url>', 'a Sigstack server running the CA and the log on one port')
    .option('--fulcio-url <url>', 'the CA, when it is not at --url')
    .option('--rekor-url <url>', 'the transparency log, when it is not at --url');
  addRegistryOptions(cmd)
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2))
    .action(async (image: string, opts: AttestCliOptions) => {
      const raw = (opts.identityToken ?? process.env.SIGSTORE_ID_TOKEN)?.trim();
      if (!raw) usage('no identity token: pass --identity-token or set SIGSTORE_ID_TOKEN');
      const token = raw.split('.').length !== 3 && existsSync(raw) ? readFileSync(raw, 'utf8').trim() : raw;
      const fulcioUrl = opts.fulcioUrl ?? opts.url;
      const rekorUrl = opts.rekorUrl ?? opts.url;
      if (!fulcioUrl || !rekorUrl) usage('say where the CA and the log are: --url, or --fulcio-url and --rekor-url');
      let predicate: unknown;
      try {
        predicate = JSON.parse(readText(opts.predicate, 'predicate', usage));
      } catch {
        usage(`${opts.predicate} is not JSON`);
      }
      const { attestImage, predicateTypeUri } = await import('../oci/attest.ts');
      try {
        predicateTypeUri(opts.type);
      } catch (e) {
        usage((e as Error).message);
      }
      const credentials = registryCredentials(image, opts, usage);
      try {
        const r = await attestImage({ image, predicate, type: opts.type, identityToken: token, fulcioUrl, rekorUrl, credentials, insecure: opts.allowInsecureRegistry,
          onProgress: (l) => process.stderr.write(`${l}\n`) });
        process.stdout.write(`${r.reference}\n`);
      } catch (e) {
        process.stderr.write(`Error: attesting ${image} failed: ${(e as Error).message}\n`);
        process.exitCode = 1;
      }
    });
}
