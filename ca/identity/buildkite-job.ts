import { renderFulcioExtensions } from '../extensions.ts';
import type { VerifiedToken } from '../token.ts';
import { identityError, requireAscii, stringClaim } from './claims.ts';
import type { Principal } from './index.ts';

/**
 * Buildkite job identities (issuer `https://agent.buildkite.com`). Mirrors Fulcio's pkg/identity/buildkite: the
 * SAN is the pipeline URL `https://buildkite.com/{organization_slug}/{pipeline_slug}`, and only the issuer and
 * subject extensions are written (Buildkite's other claims have no upstream mapping).
 */
export function buildkiteJobPrincipal(token: VerifiedToken): Principal {
  const org = stringClaim(token, 'organization_slug', true);
  const pipeline = stringClaim(token, 'pipeline_slug', true);
  const subject = stringClaim(token, 'sub') ?? '';
  // Slugs are [a-z0-9-]; anything that would need escaping (or change the path) is not a Buildkite slug.
  if (/[\s/?#%\\]/.test(org) || /[\s/?#%\\]/.test(pipeline)) throw identityError('organization_slug and pipeline_slug must be slugs');
  const url = requireAscii(`https://buildkite.com/${org}/${pipeline}`, 'pipeline URL');
  return {
    name: subject,
    san: { type: 'uri', value: url },
    extensions: renderFulcioExtensions({ issuer: token.issuer, tokenSubject: subject }),
  };
}
