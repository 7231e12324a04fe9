/**
 * What the sign, verify and trusted-root commands do with bad output paths, bad options, bad trust documents and
 * servers that never answer, as a user runs them against the real stack: each is refused with a message naming
 * the problem, and a refusal that can be known up front costs no certificate and no log entry.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeOutputFile } from '../../client/commands/key-flags.ts';
import { CLI, collect, ROOT, runCli } from '../helpers/cli.ts';
import { startStack, TEST_EMAIL, type TestStack } from '../helpers/stack.ts';

let stack: TestStack;
let dir: string;
const file = (name: string) => join(dir, name);
const ARTIFACT = 'signed file contents\n';

test.before(async () => {
  stack = await startStack();
  dir = mkdtempSync(join(tmpdir(), 'sigstack-outputs-'));
  writeFileSync(file('artifact.txt'), ARTIFACT);
  writeFileSync(file('trusted_root.json'), JSON.stringify(stack.trustedRoot));
  mkdirSync(file('folder'));
  symlinkSync(file('artifact.txt'), file('symlink.txt'));
  linkSync(file('artifact.txt'), file('hardlink.txt'));
});
test.after.always(async () => {
  await stack?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function treeSize(): Promise<number> {
  return ((await (await fetch(`${stack.url}/api/v1/log`)).json()) as { treeSize: number }).treeSize;
}

test.serial('sign refuses an output it could not write before asking the CA or the log: no certificate, no entry, the artifact intact; a writable one gets the bundle whole', async (t) => {
  const token = await stack.mintToken();
  const before = await treeSize();
  const cases: [string, RegExp][] = [
    [file('no-such-folder/x.json'), /--bundle .*no-such-folder\/x\.json: the folder .*no-such-folder does not exist/],
    [file('folder'), /--bundle .*folder is a folder: give a file path/],
    [file('artifact.txt'), /--bundle .*artifact\.txt is the file to sign itself/],
    [join(dir, '.', 'folder', '..', 'artifact.txt'), /is the file to sign itself/],
    [file('symlink.txt'), /--bundle .*symlink\.txt is the file to sign itself/],
    [file('hardlink.txt'), /--bundle .*hardlink\.txt is the file to sign itself/],
  ];
  for (const [out, message] of cases) {
    const r = await runCli(['sign', file('artifact.txt'), '--bundle', out, '--url', stack.url, '--identity-token', token]);
    t.is(r.code, 2, `${out}: ${r.stderr}`);
    t.regex(r.stderr, message);
    t.notRegex(r.stderr, /Received a signing certificate|Logged as entry/);
  }
  t.is(await treeSize(), before, 'nothing was logged');
  t.is(readFileSync(file('artifact.txt'), 'utf8'), ARTIFACT);

  // The same path as the identity token file is refused too: the token would be overwritten by the bundle.
  writeFileSync(file('token.txt'), token);
  const onToken = await runCli(['sign', file('artifact.txt'), '--bundle', file('token.txt'), '--url', stack.url, '--identity-token', file('token.txt')]);
  t.is(onToken.code, 2);
  t.regex(onToken.stderr, /is the identity token file itself/);
  t.is(await treeSize(), before);

  // A writable path: the bundle replaces the older one there, whole, and verifies.
  writeFileSync(file('old.sigstore.json'), 'an older bundle');
  const r = await runCli(['sign', file('artifact.txt'), '--bundle', file('old.sigstore.json'), '--url', stack.url, '--identity-token', await stack.mintToken()]);
  t.is(r.code, 0, r.stderr);
  const v = await runCli(['verify', file('artifact.txt'), '--bundle', file('old.sigstore.json'), '--trusted-root', file('trusted_root.json'),
    '--certificate-identity', TEST_EMAIL, '--certificate-oidc-issuer', stack.issuer]);
  t.is(v.code, 0, v.stderr);
  t.deepEqual(readdirSync(dir).filter((n) => n.endsWith('.tmp')), [], 'no temporary file is left behind');
});

test('writeOutputFile replaces a file whole and keeps its permissions', (t) => {
  const path = file('perm.json');
  writeFileSync(path, 'x'.repeat(10_000), { mode: 0o640 });
  writeOutputFile(path, '{"short":true}\n');
  t.is(readFileSync(path, 'utf8'), '{"short":true}\n');
  t.is(statSync(path).mode & 0o777, 0o640);
});

test('a write cut short (file size limit) leaves the previous bundle as it was, not half of the new one', async (t) => {
  const path = file('cut.json');
  writeFileSync(path, 'the previous bundle');
  // RLIMIT_FSIZE of 4 KiB: the write of 100 KB fails (EFBIG or SIGXFSZ) part way, as a full disk would.
  const script = `import { writeOutputFile } from ${JSON.stringify(join(ROOT, 'client/commands/key-flags.ts'))}; writeOutputFile(${JSON.stringify(path)}, 'x'.repeat(100_000));`;
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn('bash', ['-c', 'ulimit -f 4; exec "$0" --import tsx --input-type=module -e "$1"', process.execPath, script], { cwd: ROOT, stdio: 'ignore' });
    child.on('error', reject);
    child.on('close', (c) => resolve(c));
  });
  t.not(code, 0);
  t.is(readFileSync(path, 'utf8'), 'the previous bundle');
});

test.serial('a bundle that cannot be written after the entry is logged is printed on stdout, not lost; the old file stays whole', async (t) => {
  const out = file('limited.sigstore.json');
  writeFileSync(out, 'the previous bundle');
  const token = await stack.mintToken();
  // A 2 KiB file size limit: the pipes to us are not files, so only the bundle (several KB) fails to be written.
  const r = await collect(spawn('bash', ['-c', 'ulimit -f 2; exec "$@"', 'sh', process.execPath, '--import', 'tsx', CLI, 'sign', file('artifact.txt'), '--bundle', out,
    '--url', stack.url, '--identity-token', token], { cwd: ROOT }));
  t.is(r.code, 1, r.stderr);
  t.regex(r.stderr, /Logged as entry \d+[\s\S]*Error: the signature is logged, but the bundle could not be written to .*limited\.sigstore\.json: EFBIG/);
  t.is(readFileSync(out, 'utf8'), 'the previous bundle');
  writeFileSync(file('rescued.json'), r.stdout);
  const v = await runCli(['verify', file('artifact.txt'), '--bundle', file('rescued.json'), '--trusted-root', file('trusted_root.json'),
    '--certificate-identity', TEST_EMAIL, '--certificate-oidc-issuer', stack.issuer]);
  t.is(v.code, 0, v.stderr);
});

test.serial('trusted-root refuses one path for --out and --signing-config before fetching anything', async (t) => {
  const r = await runCli(['trusted-root', '--url', stack.url, '--out', file('both.json'), '--signing-config', file('both.json')]);
  t.is(r.code, 2);
  t.regex(r.stderr, /--signing-config .*both\.json is the trusted root output \(--out\) itself/);
  t.false(existsSync(file('both.json')));
  symlinkSync(file('root-target.json'), file('root-link.json'));
  const linked = await runCli(['trusted-root', '--url', stack.url, '--out', file('root-target.json'), '--signing-config', file('root-link.json')]);
  t.is(linked.code, 2, linked.stderr);
  const folder = await runCli(['trusted-root', '--url', stack.url, '--out', file('folder')]);
  t.is(folder.code, 2);
  t.regex(folder.stderr, /--out .*folder is a folder/);
  const ok = await runCli(['trusted-root', '--url', stack.url, '--out', file('tr.json'), '--signing-config', file('sc.json')]);
  t.is(ok.code, 0, ok.stderr);
  t.deepEqual(JSON.parse(readFileSync(file('tr.json'), 'utf8')), stack.trustedRoot);
  t.deepEqual(JSON.parse(readFileSync(file('sc.json'), 'utf8')), stack.signingConfig);
});

test('an unknown option is reported as such, before a missing required one', async (t) => {
  for (const args of [['sign', file('artifact.txt'), '--foo', 'x'], ['verify', file('artifact.txt'), '--foo', 'x'],
    ['attest', 'localhost:5000/app:1', '--foo', 'x'], ['verify-image', 'localhost:5000/app:1', '--foo', 'x']]) {
    const r = await runCli(args);
    t.is(r.code, 2, args.join(' '));
    t.regex(r.stderr, /unknown option '--foo'/, args.join(' '));
    t.notRegex(r.stderr, /required option/);
  }
  const missing = await runCli(['sign', file('artifact.txt'), '--url', stack.url]);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /required option '--bundle <out>' not specified/);
});

test('verify names the trusted root file and the field that is wrong, never a JavaScript error', async (t) => {
  const cases: [unknown, string][] = [
    [{}, 'mediaType is missing (expected application/vnd.dev.sigstore.trustedroot+json;version=0.1)'],
    [{ ...stack.trustedRoot, certificateAuthorities: [null] }, 'certificateAuthorities[0]: expected an object, got nothing'],
    [{ ...stack.trustedRoot, tlogs: [null] }, 'tlogs[0]: expected an object, got nothing'],
  ];
  for (const [doc, message] of cases) {
    writeFileSync(file('bad_root.json'), JSON.stringify(doc));
    const r = await runCli(['verify', file('artifact.txt'), '--bundle', file('artifact.txt'), '--trusted-root', file('bad_root.json'),
      '--certificate-identity', TEST_EMAIL, '--certificate-oidc-issuer', stack.issuer]);
    t.is(r.code, 1);
    t.is(r.stderr, `Error: cannot verify: [TRUSTED_ROOT] ${file('bad_root.json')}: ${message}\n`);
  }
  writeFileSync(file('bad_config.json'), JSON.stringify({ ...stack.signingConfig, caUrls: [null] }));
  const r = await runCli(['sign', file('artifact.txt'), '--bundle', file('x.json'), '--signing-config', file('bad_config.json'), '--identity-token', await stack.mintToken()]);
  t.is(r.code, 2);
  t.regex(r.stderr, /bad_config\.json: signing config: caUrls\[0\]: expected an object, got nothing/);
});

/** A server that accepts connections and never answers (or, with `headersOnly`, sends headers and then nothing). */
async function silentServer(headersOnly = false): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    if (headersOnly) res.writeHead(201, { 'content-type': 'application/json' }).write('{');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

for (const headersOnly of [false, true]) {
  test(`sign gives up on a CA that ${headersOnly ? 'sends headers and then nothing' : 'never answers'}, naming its URL`, async (t) => {
    const silent = await silentServer(headersOnly);
    try {
      const t0 = Date.now();
      const r = await runCli(['sign', file('artifact.txt'), '--bundle', file(`never-${headersOnly}.json`), '--url', silent.url, '--identity-token', await stack.mintToken()]);
      t.is(r.code, 1);
      t.regex(r.stderr, new RegExp(`Error: signing failed: CA: cannot reach ${silent.url}/api/v2/signingCert \\(no answer within 15 s\\)`));
      t.true(Date.now() - t0 < 40_000);
    } finally {
      silent.server.closeAllConnections();
      silent.server.close();
    }
  });
}

test('a log that never answers: sign --key names it after 15 s', async (t) => {
  const silent = await silentServer();
  try {
    const gen = await runCli(['generate-key-pair', '--dir', dir, '--output-key-prefix', 'timeout'], { env: { COSIGN_PASSWORD: 'pw' } });
    t.is(gen.code, 0, gen.stderr);
    const r = await runCli(['sign', file('artifact.txt'), '--bundle', file('never-key.json'), '--key', file('timeout.key'), '--rekor-url', silent.url], { env: { COSIGN_PASSWORD: 'pw' } });
    t.is(r.code, 1);
    t.regex(r.stderr, new RegExp(`log: cannot reach ${silent.url}/api/v1/log/entries \\(no answer within 15 s\\)`));
  } finally {
    silent.server.closeAllConnections();
    silent.server.close();
  }
});
