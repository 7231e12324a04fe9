/**
 * Every setting `serve` takes is refused at start when wrong, with exit 2 and a message naming the setting and its
 * source (flag, SIGSTACK_* variable, configuration file key) and the file at fault: never a bare errno, OpenSSL code
 * or getaddrinfo message, never after the data folder was locked or created. `config check` makes the same checks.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.ts';
import { serveOnce } from './serve-once.ts';

const root = mkdtempSync(join(tmpdir(), 'sigstack-settings-'));
chmodSync(root, 0o755); // the cases run as nobody read files here
test.after.always(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(root, `data-${++n}`);
const file = (name: string, text: string) => {
  const p = join(root, name);
  writeFileSync(p, text);
  return p;
};

const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
const tls = (() => {
  const cert = join(root, 'c1.pem');
  const key = join(root, 'k1.pem');
  const other = join(root, 'k2.pem');
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-subj', '/CN=localhost', '-days', '2');
  openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', other);
  return { cert, key, other, badCert: file('bad-cert.pem', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n') };
})();

/** A refusal: exit 2, the message (first line), and the data folder not created. */
async function refused(t: import('ava').ExecutionContext, args: string[], message: RegExp, env?: Record<string, string | undefined>, asUser?: number) {
  const dataDir = fresh();
  const r = await serveOnce([...args, '--data-dir', dataDir], { env, asUser });
  t.false(r.started, `started: ${r.output}`);
  t.is(r.code, 2, r.output);
  t.regex(r.output, message);
  t.regex(r.output, /Run "sigstack serve --help" for usage/);
  t.notRegex(r.output, /^Error: (?:error:[0-9A-F]{8}:|E[A-Z]+:|getaddrinfo)/m, 'not a bare OpenSSL or errno message');
  t.false(existsSync(dataDir), 'nothing created, no lock taken');
}

test('--public-url (and every URL setting) with credentials, a query or a fragment: exit 2 naming it and its source', async (t) => {
  const credentials = /must not carry credentials/;
  await refused(t, ['--public-url', 'http://user:pw@example.com:3000'], new RegExp(`--public-url: .*${credentials.source}`));
  await refused(t, ['--public-url', 'http://user:pw@example.com:3000', '--dev-oidc'], /^Error: --public-url: .*must not carry credentials/m);
  await refused(t, ['--dev-oidc'], /^Error: SIGSTACK_PUBLIC_URL: .*must not carry credentials/m, { SIGSTACK_PUBLIC_URL: 'https://@example.com' });
  await refused(t, ['--public-url', 'http://example.com:3000?'], /--public-url: .*must not have a query or fragment/);
  await refused(t, ['--public-url', 'http://example.com/#'], /--public-url: .*must not have a query or fragment/);
  await refused(t, ['ca', '--log-url', 'http://u:p@log.example:3000'], /--log-url: .*must not carry credentials/);
  t.false((await serveOnce(['--public-url', 'http://user:pw@example.com:3000', '--data-dir', fresh()])).output.includes('pw@'), 'the password is not echoed');
});

test('TLS: a key that is not the certificate\'s, a bad PEM body, a folder: exit 2 naming the flag and the files', async (t) => {
  await refused(t, ['--tls-cert', tls.cert, '--tls-key', tls.other], new RegExp(`--tls-key: ${tls.other} is not the private key of the certificate in ${tls.cert} \\(--tls-cert\\)`));
  await refused(t, ['--tls-cert', tls.badCert, '--tls-key', tls.key], new RegExp(`--tls-cert: ${tls.badCert} holds no readable PEM certificate`));
  await refused(t, ['--tls-cert', root, '--tls-key', tls.key], new RegExp(`--tls-cert: ${root} is a folder, not a file`));
});

test('--oidc-config: a folder, an unreadable file, an invalid issuer file: exit 2 naming the flag and the file', async (t) => {
  await refused(t, ['--oidc-config', root], new RegExp(`--oidc-config: ${root} is a folder, not a file`));
  const bad = file('issuers.json', '{"OIDCIssuers": 5}');
  await refused(t, ['--oidc-config', bad], new RegExp(`--oidc-config: ${bad}: OIDCIssuers must be a mapping`));
  if (process.getuid?.() !== 0) return t.log('not root: the unreadable-file case needs setpriv');
  const secret = file('secret.json', '{}');
  chmodSync(secret, 0o600);
  await refused(t, ['--oidc-config', secret], new RegExp(`--oidc-config: cannot read ${secret}: permission denied \\(EACCES\\)`), undefined, 65534);
});

test('--data-dir: a file, or a folder this user cannot write: exit 2 naming it, before any lock', async (t) => {
  const aFile = file('a-file', '');
  const r = await serveOnce(['--data-dir', aFile]);
  t.is(r.code, 2, r.output);
  t.regex(r.output, new RegExp(`--data-dir: ${aFile} is a file, not a folder`));
  const underFile = await serveOnce(['--data-dir', join(aFile, 'data')]);
  t.is(underFile.code, 2, underFile.output);
  t.regex(underFile.output, new RegExp(`--data-dir: cannot create ${aFile}/data: ${aFile} is a file, not a folder`));
  if (process.getuid?.() !== 0) return t.log('not root: the unwritable-folder case needs setpriv');
  const rootOwned = join(root, 'root-owned');
  mkdirSync(rootOwned, { mode: 0o755 });
  const asNobody = await serveOnce(['--data-dir', rootOwned], { asUser: 65534 });
  t.is(asNobody.code, 2, asNobody.output);
  t.regex(asNobody.output, new RegExp(`--data-dir: ${rootOwned} is not writable by this user \\(uid 65534\\)`));
  t.false(existsSync(join(rootOwned, 'serve.lock')));
});

test('--host that does not resolve or is no IPv4 address: exit 2 naming the flag or the variable', async (t) => {
  await refused(t, ['--host', 'nosuchhost.invalid'], /--host: "nosuchhost\.invalid" does not resolve/);
  await refused(t, [], /SIGSTACK_HOST: "999\.1\.1\.1" is not a valid IPv4 address/, { SIGSTACK_HOST: '999.1.1.1' });
  await refused(t, ['--host', 'localhost:3000'], /--host: "localhost:3000" is not an IP address or host name/);
});

test('`serve log` without --ca-url is refused at parse (exit 2), before the data folder is locked or created', async (t) => {
  await refused(t, ['log'], /`serve log` needs --ca-url/);
});

test('SIGSTACK_CA_PASSPHRASE_FILE missing or a folder: exit 2 naming the variable and the file, not "wrong passphrase"', async (t) => {
  const dataDir = fresh();
  const pass = file('pass.txt', 'correct horse battery staple\n');
  const rootKey = join(root, 'root.key.pem');
  const init = await runCli(['ca', 'init', '--data-dir', dataDir, '--root-key-out', rootKey, '--passphrase-file', pass], { env: { SIGSTACK_CA_PASSPHRASE: '', SIGSTACK_CA_PASSPHRASE_FILE: '' } });
  t.is(init.code, 0, init.stderr);
  for (const [value, message] of [['/nonexistent', /SIGSTACK_CA_PASSPHRASE_FILE: cannot read \/nonexistent: no such file \(ENOENT\)/], [root, new RegExp(`SIGSTACK_CA_PASSPHRASE_FILE: ${root} is a folder, not a file`)]] as const) {
    const env = { SIGSTACK_CA_PASSPHRASE: '', SIGSTACK_CA_PASSPHRASE_FILE: value };
    const r = await serveOnce(['--data-dir', dataDir], { env });
    t.false(r.started);
    t.is(r.code, 2, r.output);
    t.regex(r.output, message);
    t.notRegex(r.output, /wrong passphrase/);
    const rotate = await runCli(['ca', 'rotate', '--data-dir', dataDir, '--root-key', rootKey], { env });
    t.is(rotate.code, 2, rotate.stderr);
    t.regex(rotate.stderr, message);
  }
  const wrong = await serveOnce(['--data-dir', dataDir], { env: { SIGSTACK_CA_PASSPHRASE: 'not the passphrase', SIGSTACK_CA_PASSPHRASE_FILE: '' } });
  t.is(wrong.code, 2, wrong.output);
  t.regex(wrong.output, /SIGSTACK_CA_PASSPHRASE: cannot decrypt \S+ca-intermediate\.key\.pem .*wrong passphrase/);
});

test('ca init with a passphrase under 12 characters is bad usage (exit 2), as its help says, and writes nothing', async (t) => {
  const dataDir = fresh();
  const r = await runCli(['ca', 'init', '--data-dir', dataDir], { env: { SIGSTACK_CA_PASSPHRASE: 'short', SIGSTACK_CA_PASSPHRASE_FILE: '' } });
  t.is(r.code, 2, r.stderr);
  t.regex(r.stderr, /the passphrase from SIGSTACK_CA_PASSPHRASE has 5 characters: a CA passphrase needs at least 12/);
  t.false(existsSync(dataDir));
});

test('config check refuses what serve refuses: no --ca-url for `service: log`, credentials in a URL, a TLS pair that does not match', async (t) => {
  const d = mkdtempSync(join(root, 'check-'));
  const check = (yaml: string, env: Record<string, string> = {}, ...flags: string[]) => runCli(['config', 'check', ...flags, file(`check-${++n}.yaml`, yaml)], { env });
  const log = await check('service: log\n');
  t.is(log.code, 1);
  t.regex(log.stderr, /`serve log` needs --ca-url/);
  const url = await check('public-url: "http://u:p@h"\n');
  t.is(url.code, 1);
  t.regex(url.stderr, /check-\d+\.yaml: public-url: .*must not carry credentials/);
  const pair = await check(`tls:\n  cert: ${tls.cert}\n  key: ${tls.other}\ndata-dir: ${d}\n`);
  t.is(pair.code, 1);
  t.regex(pair.stderr, /check-\d+\.yaml: tls\.key: .* is not the private key of the certificate/);
  const host = await check(`host: nosuchhost.invalid\ndata-dir: ${d}\n`);
  t.is(host.code, 1);
  t.regex(host.stderr, /check-\d+\.yaml: host: "nosuchhost\.invalid" does not resolve/);
  // a setting the file makes valid, with the environment ignored: SIGSTACK_LOG_LEVEL is not read, nor blamed on a flag
  const noEnv = await check(`data-dir: ${d}\n`, { SIGSTACK_LOG_LEVEL: 'loud' }, '--no-env');
  t.is(noEnv.code, 0, noEnv.stderr);
  t.regex(noEnv.stdout, /log-level +info/);
  const withEnv = await check(`data-dir: ${d}\n`, { SIGSTACK_LOG_LEVEL: 'loud' });
  t.is(withEnv.code, 1);
  t.regex(withEnv.stderr, /^Error: SIGSTACK_LOG_LEVEL: "loud" is not one of/);
});

test('configuration file numbers are as strict as the flag: no hexadecimal, exponent, sign or fraction', async (t) => {
  for (const value of ['0x50', '1e3', '+80', '80.0', '0o17']) {
    const r = await runCli(['config', 'check', file(`port-${++n}.yaml`, `port: ${value}\n`)]);
    t.is(r.code, 1, value);
    t.regex(r.stderr, new RegExp(`port-\\d+\\.yaml: port: "${value.replace(/[+.]/g, '\\$&')}" is not a whole number`), value);
  }
  const ok = await runCli(['config', 'check', file(`port-${++n}.yaml`, 'port: 8080\nbody-limit: "4096"\n')]);
  t.is(ok.code, 0, ok.stderr);
  t.regex(ok.stdout, /listen +http:\/\/127\.0\.0\.1:8080/);
  // (serveOnce gives --port, which wins over the file's: another number key shows serve reads the file as strictly)
  const serve = await serveOnce(['--config', file(`serve-${++n}.yaml`, `body-limit: 0x5000\ndata-dir: ${fresh()}\n`)]);
  t.is(serve.code, 2, serve.output);
  t.regex(serve.output, /serve-\d+\.yaml: body-limit: "0x5000" is not a whole number/);
});
