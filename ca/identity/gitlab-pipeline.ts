import { renderFulcioExtensions } from '../extensions.ts';
import type { VerifiedToken } from '../token.ts';
import { identityError, requireAscii, stringClaim } from './claims.ts';
import { goEscapedPath, goJoinPath } from './go-join-path.ts';
import type { Principal } from './index.ts';

/**
 * GitLab CI job identities (gitlab.com or a self-managed GitLab's `CI_JOB_JWT_V2`/`id_tokens`). Mirrors Fulcio's
 * pkg/identity/gitlabcom: the SAN is `https://` + `ci_config_ref_uri` (the pipeline definition at its ref), and the
 * repository URLs are built on `https://gitlab.com/`, which upstream hard-codes even for self-managed instances.
 */

const GITLAB = 'https://gitlab.com';

/** Required claims, in upstream's order, so that errors name the same first missing claim. */
const REQUIRED = [
  'project_path', 'pipeline_source', 'pipeline_id', 'ci_config_ref_uri', 'job_id', 'ref', 'ref_type', 'namespace_path',
  'namespace_id', 'project_id', 'sha', 'runner_environment',
] as const;

/** `ci_config_ref_uri` has no scheme (`gitlab.com/group/project//.gitlab-ci.yml@refs/heads/main`); Go parses it as a path. */
function configRefUrl(ref: string): string {
  // A '?', '#' or a ':' before the first '/' would make Go read a query, fragment or scheme: not a GitLab ref.
  if (/[?#]/.test(ref) || /^[^/]*:/.test(ref)) throw identityError('ci_config_ref_uri claim is not a GitLab config reference');
  let path: string;
  try {
    path = goEscapedPath(ref);
  } catch {
    throw identityError('ci_config_ref_uri claim has an invalid escape');
  }
  return requireAscii(`https://${path}`, 'ci_config_ref_uri');
}

export function gitlabPipelinePrincipal(token: VerifiedToken): Principal {
  const c = {} as Record<(typeof REQUIRED)[number], string>;
  for (const name of REQUIRED) c[name] = stringClaim(token, name, true);
  const runnerId = token.claims.runner_id;
  if (runnerId === undefined || runnerId === 0) throw identityError('missing runner_id claim in ID token');
  if (typeof runnerId !== 'number' || !Number.isInteger(runnerId)) throw identityError('runner_id claim must be an integer');
  let ref: string;
  if (c.ref_type === 'branch') ref = `refs/heads/${c.ref}`;
  else if (c.ref_type === 'tag') ref = `refs/tags/${c.ref}`;
  else throw identityError(`unexpected ref_type: ${c.ref_type}`);
  const subject = stringClaim(token, 'sub') ?? '';
  const configUrl = configRefUrl(c.ci_config_ref_uri);
  const configSha = stringClaim(token, 'ci_config_sha');
  return {
    name: subject,
    san: { type: 'uri', value: configUrl },
    extensions: renderFulcioExtensions({
      issuer: token.issuer,
      tokenSubject: subject,
      buildConfigUri: configUrl,
      buildConfigDigest: configSha,
      buildSignerUri: configUrl,
      buildSignerDigest: configSha,
      runnerEnvironment: c.runner_environment,
      sourceRepositoryUri: goJoinPath(GITLAB, c.project_path),
      sourceRepositoryDigest: c.sha,
      sourceRepositoryRef: ref,
      sourceRepositoryIdentifier: c.project_id,
      sourceRepositoryOwnerUri: goJoinPath(GITLAB, c.namespace_path),
      sourceRepositoryOwnerIdentifier: c.namespace_id,
      buildTrigger: c.pipeline_source,
      runInvocationUri: goJoinPath(GITLAB, c.project_path, '/-/jobs/', c.job_id),
      sourceRepositoryVisibilityAtSigning: stringClaim(token, 'project_visibility'),
    }),
  };
}
