/**
 * `sigstack serve admission` refuses bad flags as `serve` does: a port that is not a whole number in 0..65535 and
 * TLS files that are not PEM are named, with exit 2, instead of Node's or OpenSSL's raw messages, and never end
 * in a webhook listening on a port nobody asked for.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, ROOT, type CliResult } from '../helpers/cli.ts';
import { startStack, TEST_EMAIL, type TestStack } from '../helpers/stack.ts';
import { selfSignedTls } from './fixtures.ts';

let stack: TestStack;
let dir: string;
let base: string[];

test.before(async () => {
  stack = await startStack();
  dir = mkdtempSync(join(tmpdir(), 'sigstack-admission-flags-'));
  const tls = await selfSignedTls();
  writeFileSync(join(dir, 'tls.crt'), tls.cert);
  writeFileSync(join(dir, 'tls.key'), tls.key);
  writeFileSync(join(dir, 'other.key'), (await selfSignedTls()).key);
  writeFileSync(join(dir, 'trusted_root.json'), JSON.stringify(stack.trustedRoot));
  writeFileSync(join(dir, 'policy.yaml'), `policies:\n  - namespaces: [prod]\n    identity: ${TEST_EMAIL}\n    issuer: ${stack.issuer}\n`);
  writeFileSync(join(dir, 'notacert.txt'), 'hello\n');
  base = ['serve', 'admission', '--policy', join(dir, 'policy.yaml'), '--trusted-root', join(dir, 'trusted_root.json'), '--host', '127.0.0.1'];
});
test.after.always(async () => {
  await stack?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Runs the command until it exits, or stops it once it says it is ready (a refusal that did not happen). */
function run(args: string[]): Promise<CliResult & { listened: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let listened = false;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (/ready at/.test(stderr) && !listened) {
        listened = true;
        child.kill('SIGTERM');
      }
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, listened }));
  });
}

const tls = (cert = 'tls.crt', key = 'tls.key') => ['--tls-cert', join(dir, cert), '--tls-key', join(dir, key)];

for (const [port, message] of [
  ['abc', /--port: "abc" is not a whole number/],
  ['-1', /--port: "-1" is not a whole number/],
  ['99999', /--port: 99999 is outside 0\.\.65535/],
  ['1.5', /--port: "1\.5" is not a whole number/],
  ['', /--port: "" is not a whole number/],
] as const) {
  test(`--port "${port}" is refused, naming the flag, exit 2`, async (t) => {
    const r = await run([...base, ...tls(), '--port', port]);
    t.false(r.listened, 'it must not listen on some other port');
    t.is(r.code, 2, r.stderr);
    t.regex(r.stderr, message);
    t.notRegex(r.stderr, /options\.port|ERR_SOCKET_BAD_PORT/);
  });
}

test('a --tls-cert that is not a PEM certificate is named, exit 2', async (t) => {
  const r = await run([...base, ...tls('notacert.txt'), '--port', '0']);
  t.false(r.listened);
  t.is(r.code, 2, r.stderr);
  t.regex(r.stderr, /--tls-cert \S+notacert\.txt holds no PEM certificate/);
  t.notRegex(r.stderr, /routines/);
});

test('a --tls-key that is not a PEM key, or not the certificate\'s, is named, exit 2', async (t) => {
  const notKey = await run([...base, ...tls('tls.crt', 'notacert.txt'), '--port', '0']);
  t.is(notKey.code, 2, notKey.stderr);
  t.regex(notKey.stderr, /--tls-key \S+notacert\.txt holds no PEM private key/);
  const mismatch = await run([...base, ...tls('tls.crt', 'other.key'), '--port', '0']);
  t.false(mismatch.listened);
  t.is(mismatch.code, 2, mismatch.stderr);
  t.regex(mismatch.stderr, /--tls-cert \S+tls\.crt \/ --tls-key \S+other\.key: /);
});

test('a valid call still starts the webhook', async (t) => {
  const r = await run([...base, ...tls(), '--port', '0']);
  t.true(r.listened, r.stderr);
  t.regex(r.stderr, /ready at https:\/\/127\.0\.0\.1:\d+/);
});
