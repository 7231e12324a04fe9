/** The options every image command shares: registry credentials, the identity policy, and usage errors. */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { credentialsFromDockerConfig, loadDockerConfig, type Credentials } from './credentials.ts';
import { parseReference } from './reference.ts';
import type { PolicyCliOptions } from '../commands/policy-flags.ts';
export { policyFrom, requireOptions, type PolicyCliOptions } from '../commands/policy-flags.ts';

export interface RegistryCliOptions {
  registryUsername?: string;
  registryPassword?: string;
  allowInsecureRegistry?: boolean;
}

export function usageFor(command: string): (message: string) => never {
  return (message: string) => {
    process.stderr.write(`Error: ${message}\nRun "sigstack ${command} --help" for usage.\n`);
    process.exit(2);
  };
}

export function addRegistryOptions(cmd: Command): Command {
  return cmd
    .option('--registry-username <user>', 'registry user name (default: ~/.docker/config.json: its credential helper for this host, or its entry for exactly this host)')
    .option('--registry-password <password>', 'registry password or token (or $SIGSTACK_REGISTRY_PASSWORD)')
    .option('--allow-insecure-registry', 'speak plain HTTP to the registry (loopback registries always are)');
}

export function addPolicyOptions(cmd: Command): Command {
  return cmd
    // Required, but checked in the action (requireOptions) so that an unknown option is reported first.
    .option('--trusted-root <file>', 'trusted_root.json of the deployment (see `sigstack trusted-root`); required')
    .option('--certificate-identity <id>', 'the signer identity that must be in the certificate')
    .option('--certificate-identity-regexp <re>', 'a regular expression the WHOLE identity must match')
    .option('--certificate-oidc-issuer <url>', 'the OIDC issuer that must have vouched for the identity')
    .option('--certificate-oidc-issuer-regexp <re>', 'a regular expression the WHOLE issuer must match');
}

/** The registry an image reference names; a reference that does not parse exits through `usage`. */
export function registryOf(image: string, usage: (m: string) => never): string {
  try {
    return parseReference(image).registry;
  } catch (e) {
    usage((e as Error).message);
  }
}

/** Flags first; else docker's config.json entry for exactly this registry. */
export async function registryCredentials(image: string, opts: RegistryCliOptions, usage: (m: string) => never): Promise<Credentials | undefined> {
  const password = opts.registryPassword ?? process.env.SIGSTACK_REGISTRY_PASSWORD;
  if (opts.registryUsername !== undefined) {
    if (password === undefined) usage('--registry-username needs --registry-password (or $SIGSTACK_REGISTRY_PASSWORD)');
    return { username: opts.registryUsername, password };
  }
  const registry = registryOf(image, usage);
  try {
    return await credentialsFromDockerConfig(loadDockerConfig(), registry);
  } catch (e) {
    usage(`registry credentials for ${registry}: ${(e as Error).message}`);
  }
}

export function readText(path: string, what: string, usage: (m: string) => never): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    usage(`cannot read the ${what} ${path}: ${(e as Error).message}`);
  }
}
