import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signArtifact } from '../../client/sign.ts';
import { createVerifier } from '../../client/verify/index.ts';
import { generateSigner } from '../../core/signer.ts';
import { devIssuerRouter } from '../../services/dev-issuer.ts';
import { runCli, startServer } from '../helpers/cli.ts';
import { serveRouters } from '../helpers/http.ts';

/**
 * `sigstack serve --dev-oidc` + `sigstack dev-token`: mint each kind of token, sign with it, and verify with the
 * identity and issuer a verifier would pin for that CI system.
 */

const artifact = Buffer.from('dev oidc harness\n');

test('serve --dev-oidc: each kind mints, signs and verifies with its own identity and issuer', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sigstack-devoidc-'));
  const server = await startServer(['--data-dir', dataDir, '--dev-oidc']);
  t.teardown(() => {
    server.child.kill();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const u = server.url;
  const cases = [
    { args: ['--email', 'alice@example.com'], issuer: `${u}/dev-oidc`, identity: 'alice@example.com' },
    { args: ['--kind', 'github'], issuer: `${u}/dev-oidc/github`, identity: 'https://github.com/octo-org/octo-repo/.github/workflows/release.yml@refs/heads/main' },
    { args: ['--kind', 'gitlab'], issuer: `${u}/dev-oidc/gitlab`, identity: 'https://gitlab.com/my-group/my-project//.gitlab-ci.yml@refs/heads/main' },
    { args: ['--kind', 'buildkite', '--claim', 'pipeline_slug=release-app'], issuer: `${u}/dev-oidc/buildkite`, identity: 'https://buildkite.com/acme-inc/release-app' },
    { args: ['--kind', 'codefresh'], issuer: `${u}/dev-oidc/codefresh`, identity: 'https://g.codefresh.io/codefresh-account/oidc-test/get-token:628a80b693a15c0f9c13ab75/65e5a53e52853dc51a5b0cc1' },
  ];
  const tokens = await Promise.all(cases.map((c) => runCli(['dev-token', '--url', u, ...c.args])));
  const trustedRoot = await (await fetch(`${u}/sigstack/v1/trusted_root.json`)).json();
  const verifier = createVerifier(trustedRoot);
  for (const [i, c] of cases.entries()) {
    const out = tokens[i]!;
    t.is(out.code, 0, out.stderr);
    t.regex(out.stdout, /^[\w-]+\.[\w-]+\.[\w-]+\n$/, 'the JWT alone on stdout');
    const bundle = await signArtifact({ artifact, identityToken: out.stdout.trim(), fulcioUrl: u, rekorUrl: u });
    t.is(verifier.verify({ artifact, bundle, policy: { identity: c.identity, issuer: c.issuer } }).identity, c.identity);
    // the same identity from another dev issuer kind does not pass
    const other = cases[(i + 1) % cases.length]!.issuer;
    t.throws(() => verifier.verify({ artifact, bundle, policy: { identity: c.identity, issuer: other } }), { message: /issuer/i });
    if (i === 1) {
      // and once through the CLI, with the flags a harness would use
      const dir = mkdtempSync(join(dataDir, 'v-'));
      writeFileSync(join(dir, 'a.txt'), artifact);
      writeFileSync(join(dir, 'b.json'), JSON.stringify(bundle));
      writeFileSync(join(dir, 'root.json'), JSON.stringify(trustedRoot));
      const v = await runCli(['verify', join(dir, 'a.txt'), '--bundle', join(dir, 'b.json'), '--trusted-root', join(dir, 'root.json'),
        '--certificate-identity', c.identity, '--certificate-oidc-issuer', c.issuer]);
      t.is(v.code, 0, v.stderr);
      t.regex(v.stderr, /Verified OK/);
    }
  }
  // usage errors exit 2; an unknown kind is refused before any request
  const bad = await runCli(['dev-token', '--url', u, '--kind', 'jenkins']);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /--kind must be one of/);
});

test('dev-token --claim key:=null drops the claim, also sub and aud, which are otherwise filled in', async (t) => {
  const server = await serveRouters(await devIssuerRouter({ publicUrl: 'http://127.0.0.1', signer: generateSigner() }));
  t.teardown(server.close);
  const claims = async (...args: string[]) => {
    const r = await runCli(['dev-token', '--url', server.url, ...args]);
    t.is(r.code, 0, r.stderr);
    return JSON.parse(Buffer.from(r.stdout.trim().split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
  };
  const plain = await claims('--email', 'alice@example.com');
  t.is(plain.sub, 'alice@example.com', 'sub defaults to the email');
  t.is(plain.aud, 'sigstore');
  const dropped = await claims('--email', 'alice@example.com', '--claim', 'sub:=null', '--claim', 'aud:=null');
  t.false('sub' in dropped, JSON.stringify(dropped));
  t.false('aud' in dropped, JSON.stringify(dropped));
  t.is(dropped.email, 'alice@example.com');
  const github = await claims('--kind', 'github', '--claim', 'sub:=null');
  t.false('sub' in github);
});
