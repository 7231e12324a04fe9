import test from 'ava';
import { readFileSync } from 'node:fs';
import { AsnConvert } from '@peculiar/asn1-schema';
import { DirectoryString } from '@peculiar/asn1-x509';
import { BadRequestError, ForbiddenError } from '../../core/errors.ts';
import { OID } from '../../ca/extensions.ts';
import { enforceClaimPolicy } from '../../ca/claim-policy.ts';
import { principalFromToken, type Principal } from '../../ca/identity/index.ts';
import { parseGoTemplate } from '../../ca/identity/go-template.ts';
import { parseIssuerConfig, type IssuerSettings } from '../../ca/issuers.ts';
import type { VerifiedToken } from '../../ca/token.ts';
import { BUILDKITE_CLAIMS, CODEFRESH_CLAIMS, GITHUB_CLAIMS, GITLAB_CLAIMS, KUBERNETES_CLAIMS, SPIFFE_CLAIMS } from './claims-fixtures.ts';

/** The issuer types added for issue 3: each against realistic claims, with upstream's exact SAN and extensions. */

const ISS = 'https://issuer.example.com';
const NAMES = Object.fromEntries(Object.entries(OID).map(([k, v]) => [v, k]));
const RAW = new Set([OID.issuerV1, OID.githubWorkflowTrigger, OID.githubWorkflowSha, OID.githubWorkflowName, OID.githubWorkflowRepository, OID.githubWorkflowRef]);

function settings(type: string, extra: Record<string, unknown> = {}, top: Record<string, unknown> = {}): IssuerSettings {
  return parseIssuerConfig(JSON.stringify({ OIDCIssuers: { [ISS]: { IssuerURL: ISS, ClientID: 'sigstore', Type: type, ...extra } }, ...top }), 't.json').issuers.get(ISS)!;
}
function token(s: IssuerSettings, claims: Record<string, unknown>, iss = ISS): VerifiedToken {
  // As in a real JWT, a claim given as undefined is absent.
  const present = Object.fromEntries(Object.entries(claims).filter(([, v]) => v !== undefined));
  return { issuer: iss, settings: s, claims: { iss, aud: 'sigstore', ...present } };
}
/** Extensions as {name: string value}, in certificate order (raw ones decoded as bytes, the rest as DER UTF8String). */
function exts(p: Principal): [string, string][] {
  return p.extensions.map((e) => [NAMES[e.oid]!, RAW.has(e.oid as never) ? e.value.toString('utf8') : AsnConvert.parse(e.value, DirectoryString).utf8String!]);
}
function refuses(t: any, fn: () => unknown, message: RegExp) {
  const err = t.throws(fn);
  t.true(err instanceof BadRequestError, String(err));
  t.regex(err.message, message);
}

test('gitlab-pipeline: SAN https://{ci_config_ref_uri}, repository URLs on gitlab.com, as pkg/identity/gitlabcom', (t) => {
  const p = principalFromToken(token(settings('gitlab-pipeline'), GITLAB_CLAIMS));
  const san = 'https://gitlab.example.com/my-group/my-project//.gitlab-ci.yml@refs/heads/main';
  t.is(p.name, GITLAB_CLAIMS.sub);
  t.deepEqual(p.san, { type: 'uri', value: san });
  t.deepEqual(exts(p), [
    ['issuerV1', ISS], ['issuerV2', ISS], ['buildSignerUri', san], ['buildSignerDigest', GITLAB_CLAIMS.sha],
    ['runnerEnvironment', 'self-hosted'], ['sourceRepositoryUri', 'https://gitlab.com/my-group/my-project'],
    ['sourceRepositoryDigest', GITLAB_CLAIMS.sha], ['sourceRepositoryRef', 'refs/heads/feature-branch-1'],
    ['sourceRepositoryIdentifier', '20'], ['sourceRepositoryOwnerUri', 'https://gitlab.com/my-group'],
    ['sourceRepositoryOwnerIdentifier', '72'], ['buildConfigUri', san], ['buildConfigDigest', GITLAB_CLAIMS.sha],
    ['buildTrigger', 'push'], ['runInvocationUri', 'https://gitlab.com/my-group/my-project/-/jobs/302'],
    ['sourceRepositoryVisibilityAtSigning', 'public'], ['tokenSubject', GITLAB_CLAIMS.sub],
  ]);
  const tag = principalFromToken(token(settings('gitlab-pipeline'), { ...GITLAB_CLAIMS, ref_type: 'tag', ref: 'v1.0' }));
  t.true(exts(tag).some(([k, v]) => k === 'sourceRepositoryRef' && v === 'refs/tags/v1.0'));
  const s = settings('gitlab-pipeline');
  refuses(t, () => principalFromToken(token(s, { ...GITLAB_CLAIMS, ref_type: 'merge' })), /unexpected ref_type: merge/);
  refuses(t, () => principalFromToken(token(s, { ...GITLAB_CLAIMS, runner_id: undefined })), /missing runner_id/);
  refuses(t, () => principalFromToken(token(s, { ...GITLAB_CLAIMS, runner_id: '1' })), /runner_id claim must be an integer/);
  refuses(t, () => principalFromToken(token(s, { ...GITLAB_CLAIMS, project_path: undefined })), /missing project_path/);
  refuses(t, () => principalFromToken(token(s, { ...GITLAB_CLAIMS, ci_config_ref_uri: 'evil.com:443/x' })), /not a GitLab config reference/);
});

test('buildkite-job: SAN https://buildkite.com/{org}/{pipeline}, issuer and subject extensions only', (t) => {
  const p = principalFromToken(token(settings('buildkite-job'), BUILDKITE_CLAIMS, 'https://agent.buildkite.com'));
  t.deepEqual(p.san, { type: 'uri', value: 'https://buildkite.com/acme-inc/super-duper-app' });
  t.deepEqual(exts(p), [['issuerV1', 'https://agent.buildkite.com'], ['issuerV2', 'https://agent.buildkite.com'], ['tokenSubject', BUILDKITE_CLAIMS.sub]]);
  const s = settings('buildkite-job');
  refuses(t, () => principalFromToken(token(s, { ...BUILDKITE_CLAIMS, pipeline_slug: undefined })), /missing pipeline_slug/);
  refuses(t, () => principalFromToken(token(s, { ...BUILDKITE_CLAIMS, organization_slug: 'acme/../other' })), /must be slugs/);
});

test('codefresh-workflow: SAN {platform}/{account}/{pipeline}:{account id}/{pipeline id}, build URLs', (t) => {
  const p = principalFromToken(token(settings('codefresh-workflow'), CODEFRESH_CLAIMS, 'https://oidc.codefresh.io'));
  t.deepEqual(p.san, { type: 'uri', value: 'https://g.codefresh.io/codefresh-account/oidc-test/get-token:628a80b693a15c0f9c13ab75/65e5a53e52853dc51a5b0cc1' });
  t.deepEqual(exts(p), [
    ['issuerV1', 'https://oidc.codefresh.io'], ['issuerV2', 'https://oidc.codefresh.io'],
    ['buildSignerUri', 'https://g.codefresh.io/build/65e6d5551e5c4ad9b8f4a5df'], ['runnerEnvironment', 'saas'],
    ['sourceRepositoryUri', 'https://github.com/codefresh-user/oidc-test'], ['sourceRepositoryRef', 'main'],
    ['buildConfigUri', 'https://g.codefresh.io/api/pipelines/65e5a53e52853dc51a5b0cc1'],
    ['runInvocationUri', 'https://g.codefresh.io/build/65e6d5551e5c4ad9b8f4a5df'], ['tokenSubject', CODEFRESH_CLAIMS.sub],
  ]);
  // No platform_url: Codefresh's SaaS URL, as upstream's default.
  const q = principalFromToken(token(settings('codefresh-workflow'), { ...CODEFRESH_CLAIMS, platform_url: undefined }));
  t.true(q.san.value.startsWith('https://g.codefresh.io/codefresh-account/'));
  const onPrem = principalFromToken(token(settings('codefresh-workflow'), { ...CODEFRESH_CLAIMS, platform_url: 'https://cf.corp.example/codefresh' }));
  t.is(onPrem.san.value, 'https://cf.corp.example/codefresh/codefresh-account/oidc-test/get-token:628a80b693a15c0f9c13ab75/65e5a53e52853dc51a5b0cc1');
  refuses(t, () => principalFromToken(token(settings('codefresh-workflow'), { ...CODEFRESH_CLAIMS, workflow_id: undefined })), /missing workflow_id/);
});

test('kubernetes: SAN https://kubernetes.io/namespaces/{ns}/serviceaccounts/{sa}', (t) => {
  const p = principalFromToken(token(settings('kubernetes'), KUBERNETES_CLAIMS));
  t.deepEqual(p.san, { type: 'uri', value: 'https://kubernetes.io/namespaces/default/serviceaccounts/default' });
  t.deepEqual(exts(p), [['issuerV1', ISS], ['issuerV2', ISS], ['tokenSubject', KUBERNETES_CLAIMS.sub]]);
  refuses(t, () => principalFromToken(token(settings('kubernetes'), { sub: 'x' })), /missing kubernetes.io/);
  refuses(t, () => principalFromToken(token(settings('kubernetes'), { sub: 'x', 'kubernetes.io': { namespace: 'a/../b', serviceaccount: { name: 'd' } } })), /namespace/);
});

test('spiffe: sub as SAN, trust domain must EQUAL the configured one (fulcio#588)', (t) => {
  const s = settings('spiffe', { SPIFFETrustDomain: 'example.org' });
  const p = principalFromToken(token(s, SPIFFE_CLAIMS));
  t.deepEqual(p.san, { type: 'uri', value: 'spiffe://example.org/ns/prod/sa/api' });
  t.deepEqual(exts(p), [['issuerV1', ISS], ['issuerV2', ISS], ['tokenSubject', SPIFFE_CLAIMS.sub]]);
  t.is(principalFromToken(token(settings('spiffe', { SPIFFETrustDomain: 'spiffe://example.org' }), SPIFFE_CLAIMS)).name, SPIFFE_CLAIMS.sub);
  for (const sub of ['spiffe://evil-example.org/x', 'spiffe://example.org.evil/x', 'spiffe://sub.example.org/x', 'spiffe://xexample.org/x']) {
    refuses(t, () => principalFromToken(token(s, { sub })), /doesn't match configured trust domain example\.org/);
  }
  for (const sub of ['https://example.org/x', 'spiffe://Example.org/x', 'spiffe://example.org/', 'spiffe://example.org//x', 'spiffe://example.org/a/../b', 'spiffe://user@example.org/x', 'spiffe://example.org:8080/x', 'spiffe://example.org/x?y']) {
    refuses(t, () => principalFromToken(token(s, { sub })), /invalid spiffe ID/);
  }
});

test('ci-provider: a claim nested deeper than any token needs is a 400 naming it, not a stack overflow (500)', (t) => {
  const config = parseIssuerConfig(readFileSync(new URL('./fixtures/ci-providers.yaml', import.meta.url), 'utf8'), 'ci.yaml');
  const gh = config.issuers.get('https://github-ci.example.com')!;
  let deep: unknown = 'x';
  for (let i = 0; i < 5000; i++) deep = [deep];
  refuses(t, () => principalFromToken(token(gh, { ...GITHUB_CLAIMS, extra: deep }, gh.issuerUrl)), /claim "extra": a claim nested more than 64 deep/);
  let fine: unknown = 'x';
  for (let i = 0; i < 60; i++) fine = { k: fine };
  t.notThrows(() => principalFromToken(token(gh, { ...GITHUB_CLAIMS, extra: fine }, gh.issuerUrl)));
});

test('ci-provider with upstream\'s GitHub and GitLab metadata certifies exactly what the dedicated types do', (t) => {
  const config = parseIssuerConfig(readFileSync(new URL('./fixtures/ci-providers.yaml', import.meta.url), 'utf8'), 'ci.yaml');
  const gh = config.issuers.get('https://github-ci.example.com')!;
  const viaTemplates = principalFromToken(token(gh, GITHUB_CLAIMS, gh.issuerUrl));
  const dedicated = principalFromToken(token(settings('github-workflow'), GITHUB_CLAIMS, gh.issuerUrl));
  t.deepEqual(viaTemplates, dedicated);
  const gl = config.issuers.get('https://gitlab-ci.example.com')!;
  // The dedicated types predate 1.23; upstream's templates also write the deployment environment when there is one.
  const noEnv = { ...GITLAB_CLAIMS, environment: undefined };
  t.deepEqual(principalFromToken(token(gl, noEnv, gl.issuerUrl)), principalFromToken(token(settings('gitlab-pipeline'), noEnv, gl.issuerUrl)));
  t.true(exts(principalFromToken(token(gl, GITLAB_CLAIMS, gl.issuerUrl))).some(([k, v]) => k === 'deploymentEnvironment' && v === 'test-environment2'));
  const tag = principalFromToken(token(gl, { ...GITLAB_CLAIMS, ref_type: 'tag', ref: 'v2' }, gl.issuerUrl));
  t.true(exts(tag).some(([k, v]) => k === 'sourceRepositoryRef' && v === 'refs/tags/v2'));
  // A claim the templates need is missing: 400 naming it, never a certificate with a hole.
  refuses(t, () => principalFromToken(token(gh, { ...GITHUB_CLAIMS, job_workflow_ref: undefined }, gh.issuerUrl)), /job_workflow_ref/);
  // Numbers are rendered as Go's %v of a float64 would be (upstream's mapValuesToString).
  const numeric = principalFromToken(token(gh, { ...GITHUB_CLAIMS, run_id: 1234567890123, run_attempt: 1 }, gh.issuerUrl));
  t.true(exts(numeric).some(([k, v]) => k === 'runInvocationUri' && v.endsWith('/actions/runs/1234567890123/attempts/1')));
});

test('Go templates: text/template semantics, no HTML escaping (fulcio#2023), unsupported syntax refused at parse', (t) => {
  t.is(parseGoTemplate('{{ .url }}/{{.repo}}?a=1&b=<2>').execute({ url: 'https://x', repo: "o'neil&co" }), "https://x/o'neil&co?a=1&b=<2>");
  const ref = parseGoTemplate('refs/{{if eq .ref_type "branch"}}heads/{{ else }}tags/{{end}}{{ .ref }}');
  t.is(ref.execute({ ref_type: 'branch', ref: 'main' }), 'refs/heads/main');
  t.is(ref.execute({ ref_type: 'tag', ref: 'v1' }), 'refs/tags/v1');
  t.is(parseGoTemplate('a {{- .x -}} b{{if .y}}Y{{end}}').execute({ x: 'X', y: '' }), 'aXb');
  t.throws(() => parseGoTemplate('{{ .a }}').execute({}), { message: /no entry for key "a"/ });
  for (const bad of ['{{ .a ', '{{ printf "%s" .a }}', '{{if .a}}x', '{{end}}', '{{ .a | html }}', '{{ template "x" }}']) {
    t.throws(() => parseGoTemplate(bad), undefined, bad);
  }
});

test('configuration: every new field validated at start, naming the key and the YAML line', (t) => {
  const bad = (yaml: string, message: RegExp) => t.throws(() => parseIssuerConfig(yaml, 'f.yaml'), { message });
  bad('oidc-issuers:\n  https://a.example.com:\n    issuer-url: https://a.example.com\n    client-id: x\n    type: spiffe\n', /spiffe issuer must have SPIFFETrustDomain set \(line 2\)/);
  bad('oidc-issuers:\n  https://a.example.com:\n    issuer-url: https://a.example.com\n    client-id: x\n    type: email\n    bogus: 1\n', /unknown key "bogus" \(line 6\)/);
  bad('oidc-issuers:\n  https://a.example.com:\n    issuer-url: https://a.example.com\n    client-id: x\n    type: ci-provider\n    ci-provider: nope\n', /CIProvider "nope" has no entry in CIIssuerMetadata \(line 2\)/);
  bad('meta-issuers:\n  https://*.example.com:\n    client-id: x\n    type: spiffe\n    spiffe-trust-domain: example.org\n', /SPIFFE meta issuers are not supported/);
  bad('oidc-issuers:\n  https://a.example.com:\n    client-id: x\n   type: email\n', /not valid JSON or YAML: line 4/);
  bad('ci-issuer-metadata:\n  p:\n    subject-alternative-name-template: "{{ .a"\n', /unclosed action \(line 1\)/);
  const pretty = JSON.stringify({ OIDCIssuers: { 'https://a.example.com': { IssuerURL: 'https://a.example.com', ClientID: 'x', Type: 'kubernete' } } }, null, 2);
  t.throws(() => parseIssuerConfig(pretty, 'f.json'), { message: /unknown issuer type "kubernete" \(line 3\)/ });
  const j = (fields: Record<string, unknown>, message: RegExp) => t.throws(() => settings('email', fields), { message });
  j({ SPIFFETrustDomain: 'Bad Domain', Type: 'spiffe' }, /SPIFFETrustDomain "Bad Domain" is invalid/);
  j({ CACert: 'not a pem' }, /CACert holds no PEM certificate/);
  j({ JWKSFile: '/nonexistent/x.json' }, /JWKSFile \/nonexistent\/x\.json: ENOENT/);
  j({ IssuancePolicy: [{ Claim: 'email', In: ['a'], Matches: 'b' }] }, /exactly one of In, Matches and EmailDomain/);
  j({ IssuancePolicy: [{ Claim: 'email', Matches: '(' }] }, /Matches is not a valid regular expression/);
  j({ IssuancePolicy: [{ Claim: 'email', Within: ['a'] }] }, /IssuancePolicy\[0\]: unknown key "Within"/);
  j({ IssuancePolicy: { Claim: 'email' } }, /must be a list of rules/);
  t.is(settings('ci-provider', { CIProvider: 'p' }, { CIIssuerMetadata: { p: { SubjectAlternativeNameTemplate: '{{ .sub }}' } } }).ciProvider, 'p');
  t.throws(() => settings('email', { CIProvider: 'p' }), { message: /CIProvider is only for ci-provider issuers/ });
});

test('issuance policy: in a list, whole-value regexp, email domain; 403 naming the rule', (t) => {
  const s = settings('github-workflow', {
    IssuancePolicy: [
      { Name: 'acme org only', Claim: 'repository_owner', In: ['octo-org', 'acme'] },
      { Claim: 'ref', Matches: 'refs/(heads/main|tags/v.*)' },
      { Claim: ['nested', 'team'], In: 'release' },
    ],
  });
  const ok = { ...GITHUB_CLAIMS, nested: { team: 'release' } };
  t.notThrows(() => enforceClaimPolicy(s.policy, ok, ISS));
  const denied = (claims: Record<string, unknown>, message: RegExp) => {
    const err = t.throws(() => enforceClaimPolicy(s.policy, claims, ISS));
    t.true(err instanceof ForbiddenError);
    t.regex(err!.message, message);
  };
  denied({ ...ok, repository_owner: 'octo-org-evil' }, /rule "acme org only" \(repository_owner in \["octo-org","acme"\]\) not met, claim is "octo-org-evil"/);
  denied({ ...ok, repository_owner: undefined }, /rule "acme org only".*claim is absent/);
  denied({ ...ok, ref: 'refs/heads/main-evil' }, /rule "rule 2" \(ref matches/);
  denied({ ...ok, ref: 'xrefs/heads/main' }, /rule "rule 2"/);
  denied({ ...ok, nested: { team: ['release'] } }, /rule "rule 3"/);
  const email = settings('email', { IssuancePolicy: [{ Claim: 'email', EmailDomain: ['Example.com'] }] });
  t.notThrows(() => enforceClaimPolicy(email.policy, { email: 'alice@example.COM' }, ISS));
  for (const bad of ['alice@evil.com', 'alice@sub.example.com', 'alice@example.com@evil.com', 'example.com']) {
    t.throws(() => enforceClaimPolicy(email.policy, { email: bad }, ISS), { instanceOf: ForbiddenError }, bad);
  }
});

test('the shape of Fulcio\'s own config.yaml: define: anchors, alias keys written *name:, index . "odd/key"', (t) => {
  const yaml = [
    'define:',
    '  - &acme-type "acme-ci"',
    'oidc-issuers:',
    '  https://ci.acme.example:',
    '    issuer-url: https://ci.acme.example',
    '    client-id: sigstore',
    '    type: ci-provider',
    '    ci-provider: *acme-type',
    'ci-issuer-metadata:',
    '  *acme-type:',
    '    extension-templates:',
    '      build-config-uri: "{{ .url }}/pipeline/{{(index . \\"ci.acme.example/pipeline-id\\")}}/config"',
    '    default-template-values:',
    '      url: https://ci.acme.example',
    '    subject-alternative-name-template: "{{ .url }}/{{ index . \\"ci.acme.example/project\\" }}"',
  ].join('\n');
  const s = parseIssuerConfig(yaml, 'f.yaml').issuers.get('https://ci.acme.example')!;
  t.is(s.ciProvider, 'acme-ci');
  const p = principalFromToken(token(s, { sub: 'x', 'ci.acme.example/pipeline-id': 'p-9', 'ci.acme.example/project': 'app' }, s.issuerUrl));
  t.is(p.san.value, 'https://ci.acme.example/app');
  t.true(exts(p).some(([k, v]) => k === 'buildConfigUri' && v === 'https://ci.acme.example/pipeline/p-9/config'));
});

test('chainguard-identity: SAN = issuer URL joined with sub', (t) => {
  const p = principalFromToken(token(settings('chainguard-identity'), { sub: 'abc123/def456', act: { iss: 'https://token.actions.githubusercontent.com' } }, 'https://issuer.enforce.dev'));
  t.deepEqual(p.san, { type: 'uri', value: 'https://issuer.enforce.dev/abc123/def456' });
  t.deepEqual(exts(p), [['issuerV1', 'https://issuer.enforce.dev'], ['issuerV2', 'https://issuer.enforce.dev'], ['tokenSubject', 'abc123/def456']]);
  refuses(t, () => principalFromToken(token(settings('chainguard-identity'), { sub: 'a', act: { n: 1 } })), /act claim/);
});
