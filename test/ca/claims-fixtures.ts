/**
 * Realistic ID-token claims per CI system, after each one's public documentation (GitHub Actions, GitLab
 * `id_tokens`, Buildkite `buildkite-agent oidc request-token`, Codefresh OIDC, Kubernetes projected service
 * account tokens, SPIFFE JWT-SVIDs). `iss`, `aud` and times are added by whoever mints them.
 */
export const GITHUB_CLAIMS = {
  sub: 'repo:octo-org/octo-repo:ref:refs/heads/main',
  job_workflow_ref: 'octo-org/octo-automation/.github/workflows/oidc.yml@refs/heads/main',
  job_workflow_sha: 'b'.repeat(40),
  sha: 'a'.repeat(40),
  event_name: 'push',
  repository: 'octo-org/octo-repo',
  workflow: 'example-workflow',
  ref: 'refs/heads/main',
  runner_environment: 'github-hosted',
  repository_id: '74',
  repository_owner: 'octo-org',
  repository_owner_id: '65',
  repository_visibility: 'private',
  workflow_ref: 'octo-org/octo-repo/.github/workflows/example.yml@refs/heads/main',
  workflow_sha: 'c'.repeat(40),
  run_id: '42',
  run_attempt: '2',
};

export const GITLAB_CLAIMS = {
  namespace_id: '72',
  namespace_path: 'my-group',
  project_id: '20',
  project_path: 'my-group/my-project',
  user_id: '1',
  user_login: 'sample-user',
  user_email: 'sample-user@example.com',
  pipeline_id: '574',
  pipeline_source: 'push',
  job_id: '302',
  ref: 'feature-branch-1',
  ref_type: 'branch',
  ref_path: 'refs/heads/feature-branch-1',
  ref_protected: 'false',
  environment: 'test-environment2',
  environment_protected: 'false',
  deployment_tier: 'testing',
  runner_id: 1,
  runner_environment: 'self-hosted',
  sha: '714a629c0b401fdce83e847fc9589983fc6f46bc',
  project_visibility: 'public',
  ci_config_ref_uri: 'gitlab.example.com/my-group/my-project//.gitlab-ci.yml@refs/heads/main',
  ci_config_sha: '714a629c0b401fdce83e847fc9589983fc6f46bc',
  jti: '235b3a54-b797-45c7-ae9a-f72d7bc6ef5b',
  sub: 'project_path:my-group/my-project:ref_type:branch:ref:feature-branch-1',
};

export const BUILDKITE_CLAIMS = {
  sub: 'organization:acme-inc:pipeline:super-duper-app:ref:refs/heads/main:commit:9f3182061f1e2cca4702c368cbc039b7dc9d4485:step:build',
  organization_slug: 'acme-inc',
  pipeline_slug: 'super-duper-app',
  build_number: 1,
  build_branch: 'main',
  build_commit: '9f3182061f1e2cca4702c368cbc039b7dc9d4485',
  step_key: 'build',
  job_id: '0184990a-477b-4fa8-9968-496074483cee',
  agent_id: '0184990a-4782-42b5-afc1-16715b10b8ff',
};

export const CODEFRESH_CLAIMS = {
  sub: 'account:628a80b693a15c0f9c13ab75:pipeline:65e5a53e52853dc51a5b0cc1:initiator:codefresh-user',
  account_id: '628a80b693a15c0f9c13ab75',
  account_name: 'codefresh-account',
  pipeline_id: '65e5a53e52853dc51a5b0cc1',
  pipeline_name: 'oidc-test/get-token',
  workflow_id: '65e6d5551e5c4ad9b8f4a5df',
  initiator: 'codefresh-user',
  scm_user_name: 'codefresh-user',
  scm_repo_url: 'https://github.com/codefresh-user/oidc-test',
  scm_ref: 'main',
  runner_environment: 'saas',
  platform_url: 'https://g.codefresh.io',
};

export const KUBERNETES_CLAIMS = {
  sub: 'system:serviceaccount:default:default',
  'kubernetes.io': {
    namespace: 'default',
    pod: { name: 'oidc-test', uid: '49ad3572-b3dd-43a6-8d77-5858d3660275' },
    serviceaccount: { name: 'default', uid: 'f5720c1d-e152-4356-a897-11b07aff165d' },
  },
};

export const SPIFFE_CLAIMS = { sub: 'spiffe://example.org/ns/prod/sa/api' };
