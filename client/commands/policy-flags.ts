import type { Policy } from '../verify/index.ts';

/** The cosign-style identity flags shared by every verify command. */
export interface PolicyCliOptions {
  certificateIdentity?: string;
  certificateIdentityRegexp?: string;
  certificateOidcIssuer?: string;
  certificateOidcIssuerRegexp?: string;
}

/** The verifier policy from the flags: exactly one identity and one issuer option, else a usage error. */
export function policyFrom(opts: PolicyCliOptions, usage: (m: string) => never): Policy {
  const policy: Policy = {
    identity: opts.certificateIdentity,
    identityRegexp: opts.certificateIdentityRegexp,
    issuer: opts.certificateOidcIssuer,
    issuerRegexp: opts.certificateOidcIssuerRegexp,
  };
  if ((policy.identity === undefined) === (policy.identityRegexp === undefined)) usage('give exactly one of --certificate-identity and --certificate-identity-regexp');
  if ((policy.issuer === undefined) === (policy.issuerRegexp === undefined)) usage('give exactly one of --certificate-oidc-issuer and --certificate-oidc-issuer-regexp');
  return policy;
}

/**
 * Options a command cannot run without, checked in its action instead of with commander's requiredOption:
 * commander reports a missing required option before an unknown one, so `sign FILE --foo x` would complain about
 * --bundle rather than the misspelt flag. Commander has rejected unknown options by the time an action runs.
 */
export function requireOptions<O extends object, K extends keyof O & string>(opts: O, flags: Record<K, string>, usage: (m: string) => never): { [P in K]-?: NonNullable<O[P]> } {
  for (const [key, flag] of Object.entries(flags) as [K, string][]) {
    if (opts[key] === undefined || opts[key] === null) usage(`required option '${flag}' not specified`);
  }
  return opts as unknown as { [P in K]-?: NonNullable<O[P]> };
}
