/**
 * `sigstack generate-key-pair` writing over files: the existing files are checked before the password is asked
 * for, and with --force the new private key is 0600 whatever the mode of the file it replaces.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decryptPrivateKey } from '../../client/oci/cosign-key.ts';
import { CLI, ROOT, runCli } from '../helpers/cli.ts';

const tmp = (t: import('ava').ExecutionContext) => {
  const dir = mkdtempSync(join(tmpdir(), 'sigstack-keypair-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
};

test('--force over a 0644 cosign.key leaves the new private key 0600', async (t) => {
  const dir = tmp(t);
  const key = join(dir, 'cosign.key');
  writeFileSync(key, 'old key');
  chmodSync(key, 0o644);
  const r = await runCli(['generate-key-pair', '--dir', dir, '--force'], { env: { COSIGN_PASSWORD: 'pw' } });
  t.is(r.code, 0, r.stderr);
  t.is(statSync(key).mode & 0o777, 0o600);
  t.is(decryptPrivateKey(readFileSync(key, 'utf8'), 'pw').asymmetricKeyType, 'ec');
});

test('existing files are refused before the password is read', async (t) => {
  const dir = tmp(t);
  writeFileSync(join(dir, 'cosign.pub'), 'old pub');
  // no $COSIGN_PASSWORD and stdin left open: a command that asked for the password first would wait for it
  const env = { ...process.env };
  delete env.COSIGN_PASSWORD;
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'generate-key-pair', '--dir', dir], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill(), 8_000);
  const [code] = await once(child, 'close') as [number | null];
  clearTimeout(timer);
  t.is(code, 2, `it waited for a password: ${stderr}`);
  t.regex(stderr, /cosign\.pub exists; pass --force to overwrite/);
  t.is(readFileSync(join(dir, 'cosign.pub'), 'utf8'), 'old pub');
});

test('a --dir that is not a folder is named', async (t) => {
  const r = await runCli(['generate-key-pair', '--dir', join(tmp(t), 'missing')], { env: { COSIGN_PASSWORD: 'pw' } });
  t.is(r.code, 2);
  t.regex(r.stderr, /--dir \S+missing is not a folder/);
});
