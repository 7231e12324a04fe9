import { renderFulcioExtensions } from '../extensions.ts';
import type { VerifiedToken } from '../token.ts';
import { requireAscii, stringClaim } from './claims.ts';
import { goJoinPath } from './go-join-path.ts';
import type { Principal } from './index.ts';

/**
 * GitHub Actions workflow identities (`token.actions.githubusercontent.com` or a GitHub Enterprise issuer):
 * every claim Fulcio's pkg/identity/github requires must be present, and they become the SAN (the reusable
 * workflow's URL) and the build-provenance extensions, exactly as upstream renders them.
 */

const GITHUB = 'https://github.com';

/** Claims upstream refuses to do without, in upstream's order (so errors name the same first missing claim). */
const REQUIRED = [
  'job_workflow_ref', 'sha', 'event_name', 'repository', 'workflow', 'ref', 'job_workflow_sha', 'runner_environment',
  'repository_id', 'repository_owner', 'repository_owner_id', 'repository_visibility', 'workflow_ref', 'workflow_sha',
  'run_id', 'run_attempt',
] as const;

export function githubWorkflowPrincipal(token: VerifiedToken): Principal {
  const c = {} as Record<(typeof REQUIRED)[number], string>;
  for (const name of REQUIRED) c[name] = stringClaim(token, name, true);
  const subject = stringClaim(token, 'sub', true);
  const signerUri = requireAscii(goJoinPath(GITHUB, c.job_workflow_ref), 'job_workflow_ref URL');
  return {
    name: subject,
    san: { type: 'uri', value: signerUri },
    extensions: renderFulcioExtensions({
      issuer: token.issuer,
      tokenSubject: subject,
      githubWorkflowTrigger: c.event_name,
      githubWorkflowSha: c.sha,
      githubWorkflowName: c.workflow,
      githubWorkflowRepository: c.repository,
      githubWorkflowRef: c.ref,
      buildSignerUri: signerUri,
      buildSignerDigest: c.job_workflow_sha,
      runnerEnvironment: c.runner_environment,
      sourceRepositoryUri: goJoinPath(GITHUB, c.repository),
      sourceRepositoryDigest: c.sha,
      sourceRepositoryRef: c.ref,
      sourceRepositoryIdentifier: c.repository_id,
      sourceRepositoryOwnerUri: goJoinPath(GITHUB, c.repository_owner),
      sourceRepositoryOwnerIdentifier: c.repository_owner_id,
      buildConfigUri: goJoinPath(GITHUB, c.workflow_ref),
      buildConfigDigest: c.workflow_sha,
      buildTrigger: c.event_name,
      runInvocationUri: goJoinPath(GITHUB, c.repository, 'actions/runs', c.run_id, 'attempts', c.run_attempt),
      sourceRepositoryVisibilityAtSigning: c.repository_visibility,
    }),
  };
}
