/**
 * Docker credential helpers (`credHelpers`, `credsStore` in config.json), as docker and cosign run them: a real
 * executable `docker-credential-<name>` written by the test on PATH, asked `get` with the server address on stdin,
 * against docker-registry with token auth (the token service demands the basic credentials the helper gives).
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import test from 'ava';
import { encryptPrivateKey } from '../../client/oci/cosign-key.ts';
import { CredentialHelperError, credentialHelperFor, credentialsFromDockerConfig, helperServerAddress, runCredentialHelper } from '../../client/oci/credentials.ts';
import { RegistryClient } from '../../client/oci/registry.ts';
import { generateKeyPairSync } from 'node:crypto';
import { runCli } from '../helpers/cli.ts';
import { startStack, type TestStack } from '../helpers/stack.ts';
import { pushRandomImage, startRegistry, type TestRegistry } from './registry-helper.ts';

const CREDS = { username: 'helped', password: 's3cret' };
let registry: TestRegistry;
let stack: TestStack;
let dir: string;
let bin: string;
let path: string;

/** A helper that logs what it was asked and knows exactly one server. */
function writeHelper(name: string, server: string, answer: string): string {
  const log = join(dir, `${name}.log`);
  const script = `#!/bin/sh
[ "$1" = get ] || { echo "unexpected command $1" >&2; exit 3; }
input=$(cat)
printf '%s\\n' "$input" >> '${log}'
if [ "$input" = '${server}' ]; then printf '%s' '${answer}'; exit 0; fi
echo "credentials not found in native keychain"
exit 1
`;
  const file = join(bin, `docker-credential-${name}`);
  writeFileSync(file, script);
  chmodSync(file, 0o755);
  return log;
}

test.before(async () => {
  [registry, stack] = await Promise.all([startRegistry({ auth: { user: CREDS.username, password: CREDS.password } }), startStack()]);
  dir = mkdtempSync(join(tmpdir(), 'sigstack-credhelper-'));
  bin = join(dir, 'bin');
  mkdirSync(bin);
  path = `${bin}${delimiter}${process.env.PATH}`;
  process.env.PATH = path; // this worker only: ava runs each test file in its own process
  writeFileSync(join(dir, 'trusted_root.json'), JSON.stringify(stack.trustedRoot));
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  writeFileSync(join(dir, 'cosign.key'), encryptPrivateKey(privateKey, 'pw'));
  writeFileSync(join(dir, 'cosign.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
});
test.after.always(async () => {
  await registry?.close();
  await stack?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const json = (u: string, s: string) => JSON.stringify({ ServerURL: 'x', Username: u, Secret: s });

test('which helper applies: credHelpers for exactly this host, else credsStore; Docker Hub is asked by its index URL', (t) => {
  const config = { credsStore: 'desktop', credHelpers: { 'registry.example.com': 'ecr', 'https://index.docker.io/v1/': 'hub' }, auths: { 'registry.example.com': { auth: 'eDp5' } } };
  t.is(credentialHelperFor(config, 'registry.example.com'), 'ecr');
  t.is(credentialHelperFor(config, 'registry.example.com.attacker.net'), 'desktop');
  t.is(credentialHelperFor(config, 'index.docker.io'), 'hub');
  t.is(credentialHelperFor({ credHelpers: { 'registry.example.com': 'ecr' } }, 'other.example.com'), undefined);
  t.is(helperServerAddress('index.docker.io'), 'https://index.docker.io/v1/');
  t.is(helperServerAddress('127.0.0.1:5000'), '127.0.0.1:5000');
});

test('a helper name that is a path is refused before anything runs', async (t) => {
  await t.throwsAsync(runCredentialHelper('../../tmp/evil', 'x'), { instanceOf: CredentialHelperError, message: /not a plain name/ });
});

test.serial('a real helper on PATH: asked with the host on stdin, its answer used, and `auths` not consulted for that host', async (t) => {
  const log = writeHelper('unit', registry.host, json(CREDS.username, CREDS.password));
  const config = { credHelpers: { [registry.host]: 'unit' }, auths: { [registry.host]: { auth: Buffer.from('wrong:creds').toString('base64') } } };
  t.deepEqual(await credentialsFromDockerConfig(config, registry.host), CREDS);
  t.is(readFileSync(log, 'utf8'), `${registry.host}\n`);
  // "credentials not found" is anonymous, not an error; and not a fallback to auths either.
  const other = { credHelpers: { 'other.example.com': 'unit' }, auths: { 'other.example.com': { auth: Buffer.from('file:creds').toString('base64') } } };
  t.is(await credentialsFromDockerConfig(other, 'other.example.com'), undefined);
  t.deepEqual(await credentialsFromDockerConfig({ auths: other.auths }, 'other.example.com'), { username: 'file', password: 'creds' });
  writeHelper('token', registry.host, json('<token>', 'refresh'));
  await t.throwsAsync(credentialsFromDockerConfig({ credsStore: 'token' }, registry.host), { instanceOf: CredentialHelperError, message: /identity token/ });
  writeHelper('garbage', registry.host, 'not json');
  await t.throwsAsync(credentialsFromDockerConfig({ credsStore: 'garbage' }, registry.host), { instanceOf: CredentialHelperError, message: /did not answer JSON/ });
  await t.throwsAsync(credentialsFromDockerConfig({ credsStore: 'absent' }, registry.host), { instanceOf: CredentialHelperError, message: /docker-credential-absent is not on PATH/ });
});

test('a helper that hangs is killed at its deadline while the event loop runs on; one that floods its output is cut off', async (t) => {
  const hang = join(bin, 'docker-credential-hang');
  writeFileSync(hang, '#!/bin/sh\nsleep 30\n');
  chmodSync(hang, 0o755);
  let ticks = 0;
  const timer = setInterval(() => ticks++, 20);
  const started = Date.now();
  await t.throwsAsync(runCredentialHelper('hang', registry.host, 500), { instanceOf: CredentialHelperError, message: /docker-credential-hang did not answer within 0.5 s/ });
  clearInterval(timer);
  t.true(Date.now() - started < 5000);
  t.true(ticks >= 10, `the event loop ran ${ticks} times while the helper hung`);
  const flood = join(bin, 'docker-credential-flood');
  writeFileSync(flood, '#!/bin/sh\nhead -c 1000000 /dev/zero\n');
  chmodSync(flood, 0o755);
  await t.throwsAsync(runCredentialHelper('flood', registry.host), { instanceOf: CredentialHelperError, message: /docker-credential-flood failed: wrote more than 65536 bytes/ });
});

test.serial('credentials from a helper open a token-auth registry; the CLI uses credsStore and credHelpers from $DOCKER_CONFIG', async (t) => {
  const creds = await credentialsFromDockerConfig({ credsStore: 'unit' }, registry.host);
  const client = new RegistryClient({ registry: registry.host, credentials: creds });
  await pushRandomImage(client, 'helped/app', 'v1');
  t.true(registry.tokenRequests.some((r) => r.authorized && r.scope.startsWith('repository:helped/app:')));

  const image = `${registry.host}/helped/app:v1`;
  const args = ['sign-image', image, '--key', join(dir, 'cosign.key'), '--rekor-url', stack.url];
  for (const config of [{ credsStore: 'cli' }, { credHelpers: { [registry.host]: 'cli' }, credsStore: 'absent' }]) {
    const configDir = mkdtempSync(join(dir, 'docker-'));
    writeFileSync(join(configDir, 'config.json'), JSON.stringify(config));
    const log = writeHelper('cli', registry.host, json(CREDS.username, CREDS.password));
    const signed = await runCli(args, { env: { DOCKER_CONFIG: configDir, PATH: path, COSIGN_PASSWORD: 'pw' } });
    t.is(signed.code, 0, signed.stderr);
    t.true(readFileSync(log, 'utf8').split('\n').includes(registry.host));
    const ok = await runCli(['verify-image', image, '--key', join(dir, 'cosign.pub'), '--trusted-root', join(dir, 'trusted_root.json')], { env: { DOCKER_CONFIG: configDir, PATH: path } });
    t.is(ok.code, 0, ok.stderr);
  }
  // A helper that is configured but missing is a usage error naming it, not an anonymous attempt.
  const broken = mkdtempSync(join(dir, 'docker-'));
  writeFileSync(join(broken, 'config.json'), JSON.stringify({ credsStore: 'missing' }));
  const r = await runCli(args, { env: { DOCKER_CONFIG: broken, PATH: path, COSIGN_PASSWORD: 'pw' } });
  t.is(r.code, 2);
  t.regex(r.stderr, /docker-credential-missing is not on PATH/);
});
