/**
 * The sign, verify and trusted-root commands as a user runs them, against the real stack.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, ROOT, runCli } from '../helpers/cli.ts';
import { startStack, TEST_EMAIL, type TestStack } from '../helpers/stack.ts';

let stack: TestStack;
let dir: string;
const file = (name: string) => join(dir, name);

test.before(async () => {
  stack = await startStack();
  dir = mkdtempSync(join(tmpdir(), 'sigstack-cli-'));
  writeFileSync(file('artifact.txt'), 'hello from the CLI\n');
});
test.after.always(async () => {
  await stack?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const verifyArgs = (bundle: string, extra: string[]) => ['verify', file('artifact.txt'), '--bundle', bundle, '--trusted-root', file('trusted_root.json'), ...extra];

test.serial('trusted-root --url writes the trusted root and the signing config', async (t) => {
  const r = await runCli(['trusted-root', '--url', stack.url, '--out', file('trusted_root.json'), '--signing-config', file('signing_config.json')]);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(JSON.parse(readFileSync(file('trusted_root.json'), 'utf8')), stack.trustedRoot);
  t.deepEqual(JSON.parse(readFileSync(file('signing_config.json'), 'utf8')), stack.signingConfig);
  t.regex(r.stderr, /SHA-256 [0-9a-f]{64}/);
});

test.serial('sign writes a bundle; verify checks it offline and prints what it checked', async (t) => {
  const signed = await runCli(['sign', file('artifact.txt'), '--bundle', file('artifact.sigstore.json'), '--signing-config', file('signing_config.json')],
    { env: { SIGSTORE_ID_TOKEN: await stack.mintToken() } });
  t.is(signed.code, 0, signed.stderr);
  t.is(signed.stdout.trim(), file('artifact.sigstore.json'));
  t.regex(signed.stderr, /signing certificate for alice@example.com[\s\S]*Logged as entry \d+/);

  const ok = await runCli(verifyArgs(file('artifact.sigstore.json'), ['--certificate-identity', TEST_EMAIL, '--certificate-oidc-issuer', stack.issuer, '--json']));
  t.is(ok.code, 0, ok.stderr);
  t.regex(ok.stderr, /^Verified OK\nThe following checks were performed:\n {2}- bundle:/);
  t.regex(ok.stderr, /Certificate identity: alice@example.com\nCertificate issuer: http:\/\/127\.0\.0\.1:\d+/);
  t.is(JSON.parse(ok.stdout).identity, TEST_EMAIL);

  const wrong = await runCli(verifyArgs(file('artifact.sigstore.json'), ['--certificate-identity', 'bob@example.com', '--certificate-oidc-issuer-regexp', '.*']));
  t.is(wrong.code, 1);
  t.regex(wrong.stderr, /^Error: verification failed: \[IDENTITY\] certificate identity "alice@example.com" does not match "bob@example.com"/);
  t.is(wrong.stdout, '');

  writeFileSync(file('tampered.txt'), 'hello from the CLI!\n');
  const tampered = await runCli(['verify', file('tampered.txt'), '--bundle', file('artifact.sigstore.json'), '--trusted-root', file('trusted_root.json'), '--certificate-identity', TEST_EMAIL, '--certificate-oidc-issuer', stack.issuer]);
  t.is(tampered.code, 1);
  t.regex(tampered.stderr, /\[DIGEST\]/);
});

test.serial('verify: usage errors exit 2 with a clear message', async (t) => {
  const r = await runCli(verifyArgs(file('artifact.sigstore.json'), ['--certificate-identity', TEST_EMAIL]));
  t.is(r.code, 2);
  t.regex(r.stderr, /exactly one of --certificate-oidc-issuer and --certificate-oidc-issuer-regexp/);
  const missing = await runCli(['verify', file('nope.txt'), '--bundle', file('artifact.sigstore.json'), '--trusted-root', file('trusted_root.json'), '--certificate-identity', TEST_EMAIL, '--certificate-oidc-issuer', stack.issuer]);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /cannot read the file/);
});

test.serial('sign: a refused token fails with the step named, exit 1; no token is a usage error', async (t) => {
  const r = await runCli(['sign', file('artifact.txt'), '--bundle', file('x.json'), '--url', stack.url, '--identity-token', await stack.mintToken({ email_verified: false })]);
  t.is(r.code, 1);
  t.regex(r.stderr, /Error: signing failed: token: /);
  const none = await runCli(['sign', file('artifact.txt'), '--bundle', file('x.json'), '--url', stack.url], { env: { SIGSTORE_ID_TOKEN: '' } });
  t.is(none.code, 2);
  t.regex(none.stderr, /no identity token/);
});

test.serial('trusted-root --data-dir builds the same document offline', async (t) => {
  const r = await runCli(['trusted-root', '--data-dir', stack.dataDir]);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(JSON.parse(r.stdout), stack.trustedRoot);
  const bad = await runCli(['trusted-root']);
  t.is(bad.code, 2);
});

test.serial('verify loads no network or server module: it is offline by construction', async (t) => {
  // Run the real command in a process that reports which built-in modules the command itself loaded.
  const script = `
    const before = new Set(process.moduleLoadList);
    process.on('exit', () => {
      const added = process.moduleLoadList.filter((m) => !before.has(m));
      const cjs = Object.keys(require('node:module')._cache ?? {});
      console.log(JSON.stringify({ added, cjs }));
    });
    process.argv = [process.argv[0], 'cli', ...${JSON.stringify(verifyArgs(file('artifact.sigstore.json'), ['--certificate-identity', TEST_EMAIL, '--certificate-oidc-issuer', stack.issuer]))}];
    await import(${JSON.stringify(CLI)});`;
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', `import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);${script}`], { cwd: ROOT });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.on('error', reject);
    child.on('close', () => resolve(stdout));
  });
  const report = JSON.parse(out.trim().split('\n').at(-1)!) as { added: string[]; cjs: string[] };
  t.deepEqual(report.added.filter((m) => /NativeModule (http|https|http2|net|tls|dgram|dns|undici)\b/.test(m)), []);
  t.deepEqual(report.cjs.filter((p) => /koa|better-sqlite3|undici|make-fetch-happen|[\\/]services[\\/]/.test(p)), []);
  t.true(report.added.length > 0, 'the report saw the command load modules');
});
