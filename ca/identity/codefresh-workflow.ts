import { renderFulcioExtensions } from '../extensions.ts';
import type { VerifiedToken } from '../token.ts';
import { identityError, requireAscii, stringClaim } from './claims.ts';
import { goJoinPath } from './go-join-path.ts';
import type { Principal } from './index.ts';

/**
 * Codefresh workflow identities (issuer `https://oidc.codefresh.io`). Mirrors Fulcio's pkg/identity/codefresh:
 * SAN `{platform_url}/{account_name}/{pipeline_name}:{account_id}/{pipeline_id}` (names may change, IDs do not,
 * so verifiers can pin either half with a regexp), build URLs under the platform URL.
 */
export const CODEFRESH_PLATFORM_URL = 'https://g.codefresh.io';

export function codefreshWorkflowPrincipal(token: VerifiedToken): Principal {
  const accountId = stringClaim(token, 'account_id', true);
  const pipelineId = stringClaim(token, 'pipeline_id', true);
  const workflowId = stringClaim(token, 'workflow_id', true);
  const accountName = stringClaim(token, 'account_name') ?? '';
  const pipelineName = stringClaim(token, 'pipeline_name') ?? '';
  const platform = stringClaim(token, 'platform_url') ?? CODEFRESH_PLATFORM_URL;
  let base: URL;
  try {
    base = new URL(platform);
  } catch {
    throw identityError('platform_url claim is not a URL');
  }
  if (base.protocol !== 'https:' && base.protocol !== 'http:') throw identityError('platform_url claim must be an http(s) URL');
  // Go's baseURL.JoinPath keeps the platform URL's own path as the first element.
  const join = (...elems: string[]) => requireAscii(goJoinPath(base.origin, base.pathname, ...elems), 'Codefresh URL');
  const subject = stringClaim(token, 'sub') ?? '';
  const buildUrl = join('build', workflowId);
  return {
    name: subject,
    san: { type: 'uri', value: join(accountName, `${pipelineName}:${accountId}/${pipelineId}`) },
    extensions: renderFulcioExtensions({
      issuer: token.issuer,
      tokenSubject: subject,
      buildSignerUri: buildUrl,
      runnerEnvironment: stringClaim(token, 'runner_environment'),
      sourceRepositoryUri: stringClaim(token, 'scm_repo_url'),
      sourceRepositoryRef: stringClaim(token, 'scm_ref'),
      buildConfigUri: join('api', 'pipelines', pipelineId),
      runInvocationUri: buildUrl,
    }),
  };
}
