import type { CertExtension, SubjectAltName } from '../extensions.ts';
import type { VerifiedToken } from '../token.ts';
import { buildkiteJobPrincipal } from './buildkite-job.ts';
import { chainguardIdentityPrincipal } from './chainguard-identity.ts';
import { ciProviderPrincipal } from './ci-provider.ts';
import { codefreshWorkflowPrincipal } from './codefresh-workflow.ts';
import { emailPrincipal } from './email.ts';
import { githubWorkflowPrincipal } from './github-workflow.ts';
import { gitlabPipelinePrincipal } from './gitlab-pipeline.ts';
import { kubernetesPrincipal } from './kubernetes.ts';
import { spiffePrincipal } from './spiffe.ts';
import { uriPrincipal } from './uri.ts';
import { usernamePrincipal } from './username.ts';

/**
 * Who a certificate is for, derived from a verified token by the rules of the issuer's type (one file each).
 * Pure functions of the claims and the issuer settings: no I/O.
 */
export interface Principal {
  /** What the client signs as proof of possession (Fulcio's Principal.Name(): email or `sub`). */
  name: string;
  /** The one Subject Alternative Name of the certificate. */
  san: SubjectAltName;
  /** Fulcio's extensions (1.3.6.1.4.1.57264.1.*), in upstream's order, DER extnValue contents. */
  extensions: CertExtension[];
}

export type PrincipalRule = (token: VerifiedToken) => Principal;

const RULES: Record<VerifiedToken['settings']['type'], PrincipalRule> = {
  email: emailPrincipal,
  uri: uriPrincipal,
  username: usernamePrincipal,
  'github-workflow': githubWorkflowPrincipal,
  'gitlab-pipeline': gitlabPipelinePrincipal,
  'buildkite-job': buildkiteJobPrincipal,
  'codefresh-workflow': codefreshWorkflowPrincipal,
  kubernetes: kubernetesPrincipal,
  spiffe: spiffePrincipal,
  'ci-provider': ciProviderPrincipal,
  'chainguard-identity': chainguardIdentityPrincipal,
};

/** Builds the principal for a verified token; throws BadRequestError (400, as Fulcio v2) when the claims do not fit the type. */
export function principalFromToken(token: VerifiedToken): Principal {
  return RULES[token.settings.type](token);
}
