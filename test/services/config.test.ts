import test from 'ava';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigLayers } from '../../services/config-file.ts';
import { ConfigError, parseServeConfig } from '../../services/config.ts';
import { once } from 'node:events';
import { runCli, startServer } from '../helpers/cli.ts';

const dir = () => mkdtempSync(join(tmpdir(), 'sigstack-cfg-'));
const FULCIO = `oidc-issuers:\n  https://issuer.example.com:\n    issuer-url: https://issuer.example.com\n    client-id: sigstore\n    type: email\n`;

function write(d: string, yaml: string): string {
  const file = join(d, 'sigstack.yaml');
  writeFileSync(file, yaml);
  return file;
}

const resolveAll = (opts: Parameters<typeof loadConfigLayers>[0]) => {
  const layers = loadConfigLayers({ env: {}, ...opts });
  return parseServeConfig(layers.service ?? 'all', layers.raw);
};

test('flags > SIGSTACK_* variables > file > defaults, for every layer', (t) => {
  const d = dir();
  writeFileSync(join(d, 'fulcio.yaml'), FULCIO);
  const file = write(d, [
    'service: all', 'host: 0.0.0.0', 'port: 4000', 'data-dir: ./state', 'oidc-config: fulcio.yaml',
    'body-limit: 4096', 'log-level: warn', 'rate-limit:', '  per-second: 5', '  burst: 7',
  ].join('\n'));
  const fromFile = resolveAll({ file });
  t.is(fromFile.port, 4000);
  t.is(fromFile.host, '0.0.0.0');
  t.is(fromFile.dataDir, join(d, 'state'), 'relative paths are relative to the file');
  t.is(fromFile.oidcConfig?.path, join(d, 'fulcio.yaml'));
  t.is(fromFile.bodyLimit, 4096);
  t.deepEqual(fromFile.rateLimit, { ratePerSecond: 5, burst: 7 });
  t.is(fromFile.logLevel, 'warn');

  const env = { SIGSTACK_PORT: '4100', SIGSTACK_RATE_LIMIT_BURST: '9', SIGSTACK_DEV_OIDC: 'true' };
  const fromEnv = resolveAll({ file, env });
  t.is(fromEnv.port, 4100);
  t.deepEqual(fromEnv.rateLimit, { ratePerSecond: 5, burst: 9 });
  t.true(fromEnv.devOidc);

  const fromFlags = resolveAll({ file, env, flags: { port: '4200' } });
  t.is(fromFlags.port, 4200);
  const defaults = resolveAll({});
  t.is(defaults.port, 3000);
  t.is(defaults.host, '127.0.0.1');
  t.is(defaults.bodyLimit, 128 * 1024);
  t.deepEqual(defaults.rateLimit.ratePerSecond, 0);
  t.is(resolveAll({ file: write(dir(), 'service: ca\nlog-url: http://log:3000\n') }).port, 5555);
  t.is(resolveAll({ env: { SIGSTACK_CONFIG: file } }).port, 4000, 'SIGSTACK_CONFIG names the file');
});

test('errors name the key and where it came from: the file, the variable or the flag', (t) => {
  const d = dir();
  const msg = (fn: () => unknown) => t.throws(fn, { instanceOf: ConfigError })!.message;
  t.is(msg(() => resolveAll({ file: write(d, 'port: eighty\n') })), `${join(d, 'sigstack.yaml')}: port: "eighty" is not a whole number`);
  t.regex(msg(() => resolveAll({ file: write(d, 'prot: 80\n') })), /sigstack\.yaml: unknown key "prot"/);
  t.regex(msg(() => resolveAll({ file: write(d, 'rate-limit:\n  per-minute: 3\n') })), /unknown key "rate-limit\.per-minute"/);
  t.regex(msg(() => resolveAll({ file: write(d, 'dev-oidc: maybe\n') })), /sigstack\.yaml: dev-oidc: must be true or false/);
  t.regex(msg(() => resolveAll({ file: write(d, 'port: [1\n') })), /sigstack\.yaml: not valid YAML/);
  t.regex(msg(() => resolveAll({ file: write(d, '- a\n- b\n') })), /sigstack\.yaml: must be a mapping/);
  t.regex(msg(() => resolveAll({ file: write(d, 'log-level: loud\n') })), /sigstack\.yaml: log-level: "loud" is not one of/);
  t.regex(msg(() => resolveAll({ file: write(d, 'oidc-config: missing.yaml\n') })), /sigstack\.yaml: oidc-config: no file at/);
  t.regex(msg(() => resolveAll({ file: write(d, 'tls:\n  cert: c.pem\n') })), /tls\.cert: HTTPS needs both/);
  t.regex(msg(() => resolveAll({ file: join(d, 'nope.yaml') })), /nope\.yaml: cannot read the configuration file: ENOENT/);
  t.is(msg(() => resolveAll({ env: { SIGSTACK_PORT: '99999' } })), 'SIGSTACK_PORT: 99999 is outside 0..65535');
  t.is(msg(() => resolveAll({ env: { SIGSTACK_DEV_OIDC: 'perhaps' } })), 'SIGSTACK_DEV_OIDC: "perhaps" is not true or false');
  t.is(msg(() => resolveAll({ env: { SIGSTACK_SERVICE: 'both' } })), 'SIGSTACK_SERVICE: unknown service "both": use all, ca or log');
  t.is(msg(() => resolveAll({ flags: { bodyLimit: '12' } })), '--body-limit: 12 is outside 1024..67108864');
  t.regex(msg(() => resolveAll({ file: write(d, 'service: log\ndev-oidc: true\nca-url: http://ca:5555\n') })), /sigstack\.yaml: dev-oidc belongs to the CA/);
});

test('sigstack config check FILE: valid files are summarised, invalid ones (or their issuer file) refused naming key and file', async (t) => {
  const d = dir();
  writeFileSync(join(d, 'fulcio.yaml'), FULCIO);
  const good = write(d, 'service: all\nport: 4000\noidc-config: fulcio.yaml\n');
  const ok = await runCli(['config', 'check', good], { env: { SIGSTACK_BODY_LIMIT: '2048' } });
  t.is(ok.code, 0, ok.stderr);
  t.regex(ok.stdout, /sigstack\.yaml: valid/);
  t.regex(ok.stdout, /oidc-config +\S+fulcio\.yaml \(1 issuers/);
  t.regex(ok.stdout, /body-limit +2048 bytes/);
  t.regex(ok.stdout, /overridden by the environment: SIGSTACK_BODY_LIMIT/);

  const bad = await runCli(['config', 'check', write(mkdtempSync(join(d, 'b-')), 'port: -1\n')]);
  t.is(bad.code, 1);
  t.regex(bad.stderr, /sigstack\.yaml: port: "-1" is not a whole number/);

  const d2 = join(d, 'broken');
  mkdirSync(d2);
  writeFileSync(join(d2, 'fulcio.yaml'), 'oidc-issuers:\n  https://x.example.com:\n    client-id: sigstore\n    type: carrier-pigeon\n');
  const badIssuers = await runCli(['config', 'check', write(d2, 'oidc-config: fulcio.yaml\n')]);
  t.is(badIssuers.code, 1);
  t.regex(badIssuers.stderr, /fulcio\.yaml/);
});

test('sigstack serve --config FILE: the real command reads the file (paths relative to it), flags still win', async (t) => {
  const d = dir();
  const file = write(d, 'data-dir: ./state\nport: 1\nrate-limit:\n  per-second: 100\n');
  const server = await startServer(['--config', file]); // the helper's --port 0 overrides the file's port
  try {
    t.regex(server.output(), new RegExp(`data in ${join(d, 'state')}, settings from ${file}`));
    t.is((await fetch(`${server.url}/readyz`)).status, 200);
  } finally {
    server.child.kill('SIGTERM');
    await once(server.child, 'exit');
  }
});
