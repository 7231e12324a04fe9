/**
 * `sigstack ca init` / `ca rotate` without a usable passphrase: a usage error (exit 2) that says every way to give
 * one, before anything is written.
 */
import test from 'ava';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.ts';

const noPassphrase = { SIGSTACK_CA_PASSPHRASE: '', SIGSTACK_CA_PASSPHRASE_FILE: '' };

test('ca init without a passphrase names --passphrase-file and both variables, and writes nothing', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sigstack-ca-pass-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const dataDir = join(dir, 'data');
  const r = await runCli(['ca', 'init', '--data-dir', dataDir], { env: noPassphrase });
  t.is(r.code, 2, r.stderr);
  t.regex(r.stderr, /^Error: the CA keys are written encrypted: give their passphrase with --passphrase-file FILE, SIGSTACK_CA_PASSPHRASE or SIGSTACK_CA_PASSPHRASE_FILE\n/);
  t.false(existsSync(dataDir));

  const missing = await runCli(['ca', 'init', '--data-dir', dataDir, '--passphrase-file', join(dir, 'nope.txt')], { env: noPassphrase });
  t.is(missing.code, 2);
  t.regex(missing.stderr, /cannot read --passphrase-file \S+nope\.txt/);
  writeFileSync(join(dir, 'empty.txt'), '\nsecond line\n');
  const empty = await runCli(['ca', 'init', '--data-dir', dataDir, '--passphrase-file', join(dir, 'empty.txt')], { env: noPassphrase });
  t.is(empty.code, 2);
  t.regex(empty.stderr, /the passphrase in \S+empty\.txt \(its first line\) is empty/);
  t.false(existsSync(dataDir));

  const rotate = await runCli(['ca', 'rotate', '--data-dir', dataDir, '--root-key', join(dir, 'root.pem')], { env: noPassphrase });
  t.is(rotate.code, 2);
  t.regex(rotate.stderr, /cannot read --root-key \S+root\.pem/);
});
