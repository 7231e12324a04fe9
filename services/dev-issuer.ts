import Router from '@koa/router';
import { exportJWK, SignJWT, type JWK } from 'jose';
import { createHash } from 'node:crypto';
import { BadRequestError } from '../core/errors.ts';
import type { Signer } from '../core/signer.ts';
import '../core/koa-augment.ts';

/**
 * Development OIDC issuers for test harnesses and the quick start: anyone who can reach them gets a token for any
 * identity, so they are only on when asked for (`serve --dev-oidc`) and the server says so loudly. One issuer per
 * kind, each trusted by the CA with its own Fulcio type: `/dev-oidc` (email), `/dev-oidc/github`,
 * `/dev-oidc/gitlab`, `/dev-oidc/buildkite`, `/dev-oidc/codefresh`, minting tokens with realistic claims of that CI
 * system (its public documentation's examples) that the request can override. ES256, audience `sigstore`, 10 minutes.
 */
export const DEV_ISSUER_PATH = '/dev-oidc';

export const DEV_ISSUER_KINDS = {
  email: { path: '', type: 'email' },
  github: { path: '/github', type: 'github-workflow' },
  gitlab: { path: '/gitlab', type: 'gitlab-pipeline' },
  buildkite: { path: '/buildkite', type: 'buildkite-job' },
  codefresh: { path: '/codefresh', type: 'codefresh-workflow' },
} as const;
export type DevIssuerKind = keyof typeof DEV_ISSUER_KINDS;

/** The issuer URL of each kind under the stack's public URL. */
export function devIssuerUrls(publicUrl: string): Record<DevIssuerKind, string> {
  const out = {} as Record<DevIssuerKind, string>;
  for (const [kind, { path }] of Object.entries(DEV_ISSUER_KINDS)) out[kind as DevIssuerKind] = `${publicUrl}${DEV_ISSUER_PATH}${path}`;
  return out;
}

const SHA = '0123456789abcdef0123456789abcdef01234567';

/** Claims each kind's tokens carry unless the request overrides them. */
const DEFAULT_CLAIMS: Record<DevIssuerKind, Record<string, unknown>> = {
  email: { email: 'dev@sigstack.local', email_verified: true },
  github: {
    sub: 'repo:octo-org/octo-repo:ref:refs/heads/main', repository: 'octo-org/octo-repo', repository_id: '74',
    repository_owner: 'octo-org', repository_owner_id: '65', repository_visibility: 'private', ref: 'refs/heads/main',
    ref_type: 'branch', sha: SHA, event_name: 'push', workflow: 'release', workflow_ref: 'octo-org/octo-repo/.github/workflows/release.yml@refs/heads/main',
    workflow_sha: SHA, job_workflow_ref: 'octo-org/octo-repo/.github/workflows/release.yml@refs/heads/main', job_workflow_sha: SHA,
    run_id: '1', run_number: '1', run_attempt: '1', runner_environment: 'github-hosted', actor: 'octocat', actor_id: '1',
  },
  gitlab: {
    sub: 'project_path:my-group/my-project:ref_type:branch:ref:main', namespace_id: '72', namespace_path: 'my-group',
    project_id: '20', project_path: 'my-group/my-project', user_id: '1', user_login: 'sample-user', pipeline_id: '574',
    pipeline_source: 'push', job_id: '302', ref: 'main', ref_type: 'branch', ref_path: 'refs/heads/main', ref_protected: 'true',
    runner_id: 1, runner_environment: 'gitlab-hosted', sha: SHA, project_visibility: 'private',
    ci_config_ref_uri: 'gitlab.com/my-group/my-project//.gitlab-ci.yml@refs/heads/main', ci_config_sha: SHA,
  },
  buildkite: {
    sub: `organization:acme-inc:pipeline:super-duper-app:ref:refs/heads/main:commit:${SHA}:step:build`,
    organization_slug: 'acme-inc', pipeline_slug: 'super-duper-app', build_number: 1, build_branch: 'main', build_commit: SHA,
    step_key: 'build', job_id: '0184990a-477b-4fa8-9968-496074483cee', agent_id: '0184990a-4782-42b5-afc1-16715b10b8ff',
  },
  codefresh: {
    sub: 'account:628a80b693a15c0f9c13ab75:pipeline:65e5a53e52853dc51a5b0cc1:initiator:codefresh-user',
    account_id: '628a80b693a15c0f9c13ab75', account_name: 'codefresh-account', pipeline_id: '65e5a53e52853dc51a5b0cc1',
    pipeline_name: 'oidc-test/get-token', workflow_id: '65e6d5551e5c4ad9b8f4a5df', initiator: 'codefresh-user',
    scm_repo_url: 'https://github.com/codefresh-user/oidc-test', scm_ref: 'main', runner_environment: 'saas', platform_url: 'https://g.codefresh.io',
  },
};

const RESERVED = new Set(['iss', 'iat', 'nbf', 'exp']);

/** The routers of every dev issuer kind, all under /dev-oidc, signing with one key. */
export async function devIssuerRouter(opts: { publicUrl: string; signer: Signer }): Promise<Router> {
  const jwk: JWK = { ...(await exportJWK(opts.signer.publicKey)), alg: 'ES256', use: 'sig' };
  jwk.kid = createHash('sha256').update(opts.signer.publicKeyDer).digest('hex').slice(0, 16);
  const urls = devIssuerUrls(opts.publicUrl);
  const router = new Router({ prefix: DEV_ISSUER_PATH });
  for (const kind of Object.keys(DEV_ISSUER_KINDS) as DevIssuerKind[]) {
    const path = DEV_ISSUER_KINDS[kind].path;
    const issuerUrl = urls[kind];
    router.get(`${path}/.well-known/openid-configuration`, (ctx) => {
      ctx.body = {
        issuer: issuerUrl,
        jwks_uri: `${issuerUrl}/jwks`,
        token_endpoint: `${issuerUrl}/token`,
        response_types_supported: ['id_token'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['ES256'],
      };
    });
    router.get(`${path}/jwks`, (ctx) => {
      ctx.body = { keys: [jwk] };
    });
    router.post(`${path}/token`, async (ctx) => {
      const body = ctx.request.body ?? {};
      if (typeof body !== 'object' || Array.isArray(body) || body === null) throw new BadRequestError('token request must be a JSON object of claims');
      const given = body as Record<string, unknown>;
      for (const k of Object.keys(given)) if (RESERVED.has(k)) throw new BadRequestError(`claim "${k}" is set by the issuer`);
      const claims: Record<string, unknown> = { ...DEFAULT_CLAIMS[kind], ...given };
      // null removes a claim (to make a token that lacks it), including the ones derived below: those are
      // filled in only when the request left them out, never when it asked for them gone
      for (const [k, v] of Object.entries(claims)) if (v === null) delete claims[k];
      if (kind === 'email' && given.email !== undefined && given.email_verified === undefined) claims.email_verified = true;
      if (!('sub' in given) && claims.sub === undefined && typeof claims.email === 'string') claims.sub = claims.email;
      if (!('aud' in given)) claims.aud = 'sigstore';
      const now = Math.floor(Date.now() / 1000);
      const token = await new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', kid: jwk.kid, typ: 'JWT' })
        .setIssuer(issuerUrl)
        .setIssuedAt(now)
        .setNotBefore(now)
        .setExpirationTime(now + 600)
        .sign(opts.signer.privateKey);
      ctx.body = { id_token: token, token_type: 'Bearer', expires_in: 600 };
    });
  }
  return router;
}
