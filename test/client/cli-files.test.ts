/**
 * Files the client commands read and write, as a user gives them: `-` and /dev/stdout for outputs (into a shell
 * pipe, and into the socket Node's child_process gives, which cannot be opened by name), `-` for the artifact (stdin),
 * oversized trust documents refused before they are read, and generate-key-pair checking both keys before writing.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, collect, ROOT, runCli, type CliResult } from '../helpers/cli.ts';
import { startStack, TEST_EMAIL, type TestStack } from '../helpers/stack.ts';

let stack: TestStack;
let dir: string;
const file = (name: string) => join(dir, name);
const ARTIFACT = 'signed through pipes\n';
const policy = () => ['--certificate-identity', TEST_EMAIL, '--certificate-oidc-issuer', stack.issuer];

test.before(async () => {
  stack = await startStack();
  dir = mkdtempSync(join(tmpdir(), 'sigstack-files-'));
  writeFileSync(file('artifact.txt'), ARTIFACT);
  writeFileSync(file('trusted_root.json'), JSON.stringify(stack.trustedRoot));
});
test.after.always(async () => {
  await stack?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  rmSync(join(ROOT, '-'), { force: true }); // what the commands wrote for `-` before they took it for stdout
});

async function treeSize(): Promise<number> {
  return ((await (await fetch(`${stack.url}/api/v1/log`)).json()) as { treeSize: number }).treeSize;
}

/** `sigstack ARGS | cat > OUT` in bash with pipefail: stdout is a real pipe, as in a terminal. */
function throughPipe(args: string[], out: string): Promise<CliResult> {
  return collect(spawn('bash', ['-c', 'set -o pipefail; out="$1"; shift; "$@" | cat > "$out"', 'sh', out, process.execPath, '--import', 'tsx', CLI, ...args],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] }));
}

test.serial('sign --bundle /dev/stdout into a shell pipe writes the bundle there, and only the bundle', async (t) => {
  const r = await throughPipe(['sign', file('artifact.txt'), '--bundle', '/dev/stdout', '--url', stack.url, '--identity-token', await stack.mintToken()], file('piped.json'));
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /Logged as entry \d+[\s\S]*Wrote bundle to stdout/);
  const v = await runCli(['verify', file('artifact.txt'), '--bundle', file('piped.json'), '--trusted-root', file('trusted_root.json'), ...policy()]);
  t.is(v.code, 0, v.stderr);
  t.deepEqual(readdirSync(dir).filter((n) => n.endsWith('.tmp')), []);
});

test.serial('trusted-root --out /dev/stdout and --out - write the document on stdout (a pipe, and a socket)', async (t) => {
  const piped = await throughPipe(['trusted-root', '--url', stack.url, '--out', '/dev/stdout'], file('tr-piped.json'));
  t.is(piped.code, 0, piped.stderr);
  t.deepEqual(JSON.parse(readFileSync(file('tr-piped.json'), 'utf8')), stack.trustedRoot);
  for (const out of ['-', '/dev/stdout', '/dev/fd/1']) {
    const r = await runCli(['trusted-root', '--url', stack.url, '--out', out]);
    t.is(r.code, 0, `${out}: ${r.stderr}`);
    t.deepEqual(JSON.parse(r.stdout), stack.trustedRoot, out);
  }
  const twice = await runCli(['trusted-root', '--url', stack.url, '--signing-config', '-']);
  t.is(twice.code, 2);
  t.regex(twice.stderr, /--signing-config - goes where the trusted root goes \(stdout\)/);
  t.false(existsSync(join(ROOT, '-')), 'no file named -');
});

test.serial('sign - reads the file from stdin and --bundle - writes the bundle on stdout; verify - reads stdin', async (t) => {
  const r = await runCli(['sign', '-', '--bundle', '-', '--url', stack.url, '--identity-token', await stack.mintToken()], { input: ARTIFACT });
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /Signing stdin with an ephemeral key[\s\S]*Wrote bundle to stdout/);
  t.false(existsSync(join(ROOT, '-')), 'no file named -');
  writeFileSync(file('stdin.json'), r.stdout); // stdout holds the bundle alone: it parses as one document
  t.is(JSON.parse(r.stdout).mediaType, 'application/vnd.dev.sigstore.bundle.v0.3+json');
  const v = await runCli(['verify', '-', '--bundle', file('stdin.json'), '--trusted-root', file('trusted_root.json'), ...policy()], { input: ARTIFACT });
  t.is(v.code, 0, v.stderr);
  const other = await runCli(['verify', '-', '--bundle', file('stdin.json'), '--trusted-root', file('trusted_root.json'), ...policy()], { input: 'another file\n' });
  t.is(other.code, 1);
  t.regex(other.stderr, /\[DIGEST\]/);
});

test.serial('outputs that cannot take the bundle are refused before anything is logged; stdin cannot hold both file and password', async (t) => {
  const before = await treeSize();
  const onStdin = await runCli(['sign', file('artifact.txt'), '--bundle', '/dev/stdin', '--url', stack.url, '--identity-token', await stack.mintToken()]);
  t.is(onStdin.code, 2, onStdin.stderr);
  t.regex(onStdin.stderr, /--bundle \/dev\/stdin is the standard input/);
  // Node's own descriptors (3 and up) are open in every process: a bundle written into one crashed the process
  // after the entry was logged (exit 139), or vanished into an internal pipe with exit 0
  for (const out of ['/dev/fd/5', '/dev/fd/7', '/proc/self/fd/12']) {
    const internal = await runCli(['sign', file('artifact.txt'), '--bundle', out, '--url', stack.url, '--identity-token', await stack.mintToken()]);
    t.is(internal.code, 2, `${out}: ${internal.stderr}`);
    t.regex(internal.stderr, /is descriptor \d+: only - \(or \/dev\/stdout\) and \/dev\/stderr are written through a descriptor/);
  }
  const trusted = await runCli(['trusted-root', '--url', stack.url, '--out', '/dev/fd/7']);
  t.is(trusted.code, 2, trusted.stderr);
  // (runCli passes this process's environment, which has no COSIGN_PASSWORD)
  const keyed = await runCli(['sign', '-', '--bundle', file('k.json'), '--key', file('none.key'), '--rekor-url', stack.url], { input: ARTIFACT });
  t.is(keyed.code, 2, keyed.stderr);
  t.regex(keyed.stderr, /stdin \(-\): give the password of --key in \$COSIGN_PASSWORD/);
  t.is(await treeSize(), before, 'nothing was logged');
});

test('a 600 MB --bundle or --trusted-root is refused at once, naming the file and the limit', async (t) => {
  const huge = file('huge.json');
  writeFileSync(huge, '');
  truncateSync(huge, 600 * 1024 * 1024); // sparse: no disk, and any read of it would take seconds and 600 MB of memory
  const cases: [string[], RegExp][] = [
    [['verify', file('artifact.txt'), '--bundle', huge, '--trusted-root', file('trusted_root.json'), ...policy()], /the bundle \S+huge\.json is larger than 4 MiB/],
    [['verify', file('artifact.txt'), '--bundle', file('artifact.txt'), '--trusted-root', huge, ...policy()], /the trusted root \S+huge\.json is larger than 16 MiB/],
    [['verify-image', 'localhost:5000/app:1', '--trusted-root', huge, ...policy()], /the trusted root \S+huge\.json is larger than 16 MiB/],
    [['verify', file('artifact.txt'), '--bundle', dir, '--trusted-root', file('trusted_root.json'), ...policy()], /the bundle \S+ is a folder/],
  ];
  for (const [args, message] of cases) {
    const t0 = Date.now();
    const r = await runCli(args);
    t.is(r.code, 2, `${args[0]}: ${r.stderr}`);
    t.regex(r.stderr, message);
    t.notRegex(r.stderr, /0x1fffffe8|at .*\.ts:\d+/, 'no V8 error, no stack trace');
    t.true(Date.now() - t0 < 15_000);
  }
});

test('generate-key-pair checks both files before writing either: the old private key survives a public key that is a folder', async (t) => {
  const gk = file('gk');
  mkdirSync(join(gk, 'cosign.pub'), { recursive: true });
  writeFileSync(join(gk, 'cosign.key'), 'the old private key');
  const env = { COSIGN_PASSWORD: 'pw' };
  const r = await runCli(['generate-key-pair', '--dir', gk, '--force'], { env });
  t.is(r.code, 2, r.stderr);
  t.regex(r.stderr, /the public key \S+cosign\.pub is a folder/);
  t.is(readFileSync(join(gk, 'cosign.key'), 'utf8'), 'the old private key');

  const nested = await runCli(['generate-key-pair', '--dir', gk, '--output-key-prefix', 'sub/dir/x'], { env });
  t.is(nested.code, 2, nested.stderr);
  t.regex(nested.stderr, /the private key \S+sub\/dir\/x\.key: the folder \S+sub\/dir does not exist/);
  t.notRegex(nested.stderr, /ENOENT/);
  for (const prefix of ['', 'sub/']) {
    const empty = await runCli(['generate-key-pair', '--dir', gk, '--output-key-prefix', prefix], { env });
    t.is(empty.code, 2, empty.stderr);
    t.regex(empty.stderr, /--output-key-prefix "(sub\/)?" names no file/);
  }
  rmSync(join(gk, 'cosign.pub'), { recursive: true });
  const ok = await runCli(['generate-key-pair', '--dir', gk, '--force'], { env });
  t.is(ok.code, 0, ok.stderr);
  t.regex(readFileSync(join(gk, 'cosign.key'), 'utf8'), /ENCRYPTED SIGSTORE PRIVATE KEY/);
  t.regex(readFileSync(join(gk, 'cosign.pub'), 'utf8'), /PUBLIC KEY/);
  t.deepEqual(readdirSync(gk).sort(), ['cosign.key', 'cosign.pub'], 'no temporaries, no hidden .key or .pub');
});
