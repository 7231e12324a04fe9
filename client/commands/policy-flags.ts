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
