/**
 * The `sigstack` front door: `help COMMAND [SUB]` shows the real command's help (its commands load lazily),
 * --version, the top-level descriptions, and one exit code (2) for usage errors whichever command has them.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, runCli } from '../helpers/cli.ts';

const helpCases: [string[], string[], RegExp][] = [
  [['help', 'sign'], ['sign', '--help'], /--identity-token <token>/],
  [['help', 'verify'], ['verify', '--help'], /--certificate-identity <id>/],
  [['help', 'serve'], ['serve', '--help'], /--oidc-config <file>/],
  [['help', 'log', 'audit'], ['log', 'audit', '--help'], /--checkpoint <file>/],
  [['help', 'serve', 'admission'], ['serve', 'admission', '--help'], /--tls-cert <file>/],
];

for (const [help, flag, option] of helpCases) {
  test(`sigstack ${help.join(' ')} shows what ${flag.join(' ')} shows`, async (t) => {
    const [a, b] = await Promise.all([runCli(help), runCli(flag)]);
    t.is(a.code, 0, a.stderr);
    t.is(b.code, 0, b.stderr);
    t.regex(a.stdout, option, 'the real options, not a lazily registered stub');
    t.is(a.stdout, b.stdout);
  });
}

test('help of an unknown command names it and exits 2', async (t) => {
  const r = await runCli(['help', 'bogus']);
  t.is(r.code, 2);
  t.regex(r.stderr, /unknown command 'bogus'/);
});

test('--version prints the package version', async (t) => {
  const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  for (const flag of ['--version', '-V']) {
    const r = await runCli([flag]);
    t.is(r.code, 0, r.stderr);
    t.is(r.stdout.trim(), version);
  }
});

test('the top-level help describes every log subcommand and the exit codes', async (t) => {
  const r = await runCli(['--help']);
  t.is(r.code, 0);
  const log = /^ {2}log +([\s\S]*?)\n {2}\S/m.exec(r.stdout)?.[1]?.replace(/\s+/g, ' ') ?? '';
  for (const sub of ['audit', 'fill', 'back', 'restore', 'rotate']) t.true(log.includes(sub), `log: "${log}" mentions ${sub}`);
  t.regex(r.stdout, /Exit codes: 0 success, 1 failure, 2 bad usage/);
});

test('usage errors exit 2 in every command, operational failures stay 1', async (t) => {
  const cases: string[][] = [
    ['log', 'bogus'],
    ['log', 'audit'],
    ['log', 'fill', '--url', 'http://127.0.0.1:1', '--count', 'abc'],
    ['ca', 'init', '--bogus'],
    ['config', 'check'],
    ['serve', '--bogus'],
    ['serve', '--port', 'eighty'],
    ['serve-admission'],
    ['dev-token'],
    ['generate-key-pair', '--bogus'],
    ['sign'],
    ['trusted-root', '--bogus'],
    ['bogus'],
  ];
  for (const args of cases) {
    const r = await runCli(args);
    t.is(r.code, 2, `sigstack ${args.join(' ')}: ${r.stderr}`);
  }
  const failed = await runCli(['config', 'check', join(ROOT, 'package.json')]);
  t.is(failed.code, 1, failed.stderr);
});
