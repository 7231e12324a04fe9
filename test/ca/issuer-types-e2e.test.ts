import test from 'ava';
import { signArtifact } from '../../client/sign.ts';
import { createVerifier, type Policy } from '../../client/verify/index.ts';
import { startStack, type TestStack } from '../helpers/stack.ts';
import { BUILDKITE_CLAIMS, CODEFRESH_CLAIMS, GITHUB_CLAIMS, GITLAB_CLAIMS, KUBERNETES_CLAIMS, SPIFFE_CLAIMS } from './claims-fixtures.ts';

/**
 * Each issuer type through the real stack: a token with realistic claims is signed with, and a verifier policy
 * that pins the certified identity passes, while near misses (a prefix, another account, another issuer) fail.
 */

const artifact = Buffer.from('issuer types e2e\n');
const NO_EMAIL = { email: undefined, email_verified: undefined };

interface Case {
  type: string;
  fields?: Record<string, unknown>;
  config?: Record<string, unknown>;
  claims: Record<string, unknown>;
  pin: (issuer: string) => Policy;
  nearMisses: Omit<Policy, 'issuer'>[];
}

const CASES: Case[] = [
  {
    type: 'gitlab-pipeline',
    claims: GITLAB_CLAIMS,
    pin: (issuer) => ({ identity: 'https://gitlab.example.com/my-group/my-project//.gitlab-ci.yml@refs/heads/main', issuer }),
    nearMisses: [{ identity: 'https://gitlab.example.com/my-group/my-project' }, { identityRegexp: 'https://gitlab.example.com/other-group/.*' }],
  },
  {
    type: 'buildkite-job',
    claims: BUILDKITE_CLAIMS,
    pin: (issuer) => ({ identity: 'https://buildkite.com/acme-inc/super-duper-app', issuer }),
    nearMisses: [{ identity: 'https://buildkite.com/acme-inc/super-duper' }, { identity: 'https://buildkite.com/acme/super-duper-app' }],
  },
  {
    type: 'codefresh-workflow',
    claims: CODEFRESH_CLAIMS,
    // pinned by IDs, which cannot be renamed: any account/pipeline name, this account and pipeline
    pin: (issuer) => ({ identityRegexp: 'https://g\\.codefresh\\.io/.*:628a80b693a15c0f9c13ab75/65e5a53e52853dc51a5b0cc1', issuer }),
    nearMisses: [{ identityRegexp: 'https://g\\.codefresh\\.io/.*:628a80b693a15c0f9c13ab76/65e5a53e52853dc51a5b0cc1' }, { identityRegexp: 'https://g\\.codefresh\\.io/.*:628a80b693a15c0f9c13ab75' }],
  },
  {
    type: 'kubernetes',
    claims: KUBERNETES_CLAIMS,
    pin: (issuer) => ({ identity: 'https://kubernetes.io/namespaces/default/serviceaccounts/default', issuer }),
    nearMisses: [{ identity: 'https://kubernetes.io/namespaces/kube-system/serviceaccounts/default' }],
  },
  {
    type: 'spiffe',
    fields: { SPIFFETrustDomain: 'example.org' },
    claims: SPIFFE_CLAIMS,
    pin: (issuer) => ({ identity: 'spiffe://example.org/ns/prod/sa/api', issuer }),
    nearMisses: [{ identity: 'spiffe://example.org/ns/prod' }, { identityRegexp: 'spiffe://example\\.org/ns/dev/.*' }],
  },
  {
    type: 'ci-provider',
    fields: { CIProvider: 'acme-ci' },
    config: {
      CIIssuerMetadata: {
        'acme-ci': {
          DefaultTemplateValues: { url: 'https://ci.acme.example' },
          ExtensionTemplates: { BuildSignerURI: '{{ .url }}/{{ .repository }}/jobs/{{ .job }}', SourceRepositoryRef: 'ref' },
          SubjectAlternativeNameTemplate: '{{ .url }}/{{ .repository }}',
        },
      },
    },
    claims: { sub: 'repo:acme/app', repository: 'acme/app', job: '7', ref: 'refs/heads/main' },
    pin: (issuer) => ({ identity: 'https://ci.acme.example/acme/app', issuer }),
    nearMisses: [{ identity: 'https://ci.acme.example/acme' }, { identityRegexp: 'https://ci\\.acme\\.example/evil/.*' }],
  },
];

for (const c of CASES) {
  test(`${c.type}: sign with realistic claims; the pinned policy passes, near misses fail`, async (t) => {
    const stack: TestStack = await startStack({ issuerType: c.type, issuerFields: c.fields, issuerConfig: c.config });
    try {
      const bundle = await signArtifact({ artifact, identityToken: await stack.mintToken({ ...NO_EMAIL, ...c.claims }), fulcioUrl: stack.url, rekorUrl: stack.url });
      const verifier = createVerifier(stack.trustedRoot);
      const policy = c.pin(stack.issuer);
      const result = verifier.verify({ artifact, bundle, policy });
      t.is(result.issuer, stack.issuer);
      for (const miss of c.nearMisses) {
        t.throws(() => verifier.verify({ artifact, bundle, policy: { ...miss, issuer: stack.issuer } }), { message: /identity/i }, JSON.stringify(miss));
      }
      t.throws(() => verifier.verify({ artifact, bundle, policy: { ...policy, issuer: `${stack.issuer}/other` } }), { message: /issuer/i });
    } finally {
      await stack.close();
    }
  });
}

test('github-workflow with an issuance policy: the right org signs, another org gets 403 naming the rule', async (t) => {
  const stack = await startStack({
    issuerType: 'github-workflow',
    issuerFields: { IssuancePolicy: [{ Name: 'octo-org only', Claim: 'repository_owner', In: ['octo-org'] }] },
  });
  try {
    const sign = async (claims: Record<string, unknown>) => signArtifact({ artifact, identityToken: await stack.mintToken({ ...NO_EMAIL, ...GITHUB_CLAIMS, ...claims }), fulcioUrl: stack.url, rekorUrl: stack.url });
    const bundle = await sign({});
    const identity = 'https://github.com/octo-org/octo-automation/.github/workflows/oidc.yml@refs/heads/main';
    t.is(createVerifier(stack.trustedRoot).verify({ artifact, bundle, policy: { identity, issuer: stack.issuer } }).identity, identity);
    await t.throwsAsync(sign({ repository_owner: 'octo-org-evil' }), { message: /403.*octo-org only.*octo-org-evil/ });
    // and nothing was issued: the log holds only the one honest entry
    const log = (await (await fetch(`${stack.url}/api/v1/log`)).json()) as { treeSize: number };
    t.is(log.treeSize, 1);
  } finally {
    await stack.close();
  }
});
