import test from 'ava';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { runCli, startServer } from '../helpers/cli.ts';
import { assertAcknowledgedSurvived, postEntry, type Acked } from '../helpers/acked.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'sigstack-serve-'));

test('serve: creates keys 0600 on first start, reuses them after, and serves the trust documents', async (t) => {
  const dataDir = tmp();
  const first = await startServer(['--data-dir', dataDir, '--dev-oidc']);
  t.log(`ready in ${Math.round(first.readyMs)} ms`);
  try {
    t.regex(first.output(), /dev OIDC issuer/);
    t.regex(first.output(), /WARNING: the dev OIDC issuer is on/);
    for (const name of ['ca-root', 'ca-intermediate', 'rekor', 'ct', 'dev-oidc']) {
      t.is(statSync(join(dataDir, 'keys', `${name}.key.pem`)).mode & 0o777, 0o600, name);
    }
    const health = await fetch(`${first.url}/healthz`);
    t.is(health.status, 200);
    const root1 = await (await fetch(`${first.url}/sigstack/v1/trusted_root.json`)).json() as { tlogs: { baseUrl: string }[] };
    t.is(root1.tlogs[0]!.baseUrl, first.url);
  } finally {
    const exited = once(first.child, 'exit');
    first.child.kill('SIGTERM');
    await exited;
  }
  const rekorKey = readFileSync(join(dataDir, 'keys', 'rekor.key.pem'), 'utf8');
  const chain = readFileSync(join(dataDir, 'ca', 'chain.pem'), 'utf8');
  const second = await startServer(['--data-dir', dataDir]);
  try {
    t.regex(second.output(), /the CA trusts no OIDC issuer/);
    t.notRegex(second.output(), /dev OIDC issuer/);
    t.is(readFileSync(join(dataDir, 'keys', 'rekor.key.pem'), 'utf8'), rekorKey);
    t.is(readFileSync(join(dataDir, 'ca', 'chain.pem'), 'utf8'), chain);
    const bundle = await (await fetch(`${second.url}/api/v2/trustBundle`)).json() as { chains: { certificates: string[] }[] };
    t.is(bundle.chains[0]!.certificates.join(''), chain);
  } finally {
    second.child.kill('SIGTERM');
    await once(second.child, 'exit');
  }
  // offline: the same trust documents from the data folder, no server
  const offline = await runCli(['trusted-root', '--data-dir', dataDir]);
  t.is(offline.code, 0, offline.stderr);
  const root = JSON.parse(offline.stdout) as { mediaType: string; certificateAuthorities: unknown[]; ctlogs: unknown[] };
  t.is(root.mediaType, 'application/vnd.dev.sigstore.trustedroot+json;version=0.1');
  t.is(root.certificateAuthorities.length, 1);
  t.is(root.ctlogs.length, 1);
});

test('serve: every acknowledged log entry survives kill -9', async (t) => {
  const dataDir = tmp();
  const server = await startServer(['--data-dir', dataDir]);
  const acked: Acked[] = [];
  let stop = false;
  const writer = async () => {
    while (!stop) {
      try {
        const r = await postEntry(server.url);
        if (r.acked) acked.push(r.acked);
      } catch {
        return; // the server died under us: whatever was not acknowledged may be lost
      }
    }
  };
  const writers = Array.from({ length: 16 }, writer);
  while (acked.length < 200) await new Promise((r) => setTimeout(r, 20));
  const exited = once(server.child, 'exit'); // listen before the kill: the event may fire while writers unwind
  server.child.kill('SIGKILL');
  stop = true;
  await Promise.all(writers);
  await exited;
  t.true(acked.length >= 200);

  await assertAcknowledgedSurvived(t, dataDir, acked);
});

test('every command has --help', async (t) => {
  const top = await runCli(['--help']);
  t.is(top.code, 0);
  for (const cmd of ['serve', 'sign', 'verify', 'trusted-root']) {
    t.regex(top.stdout, new RegExp(`\\b${cmd}\\b`));
    const r = await runCli([cmd, '--help']);
    t.is(r.code, 0, `${cmd} --help: ${r.stderr}`);
    t.regex(r.stdout, /Usage: sigstack/);
  }
});

test('serve: a bad flag stops the start with a message naming it', async (t) => {
  const r = await runCli(['serve', '--port', 'eighty', '--data-dir', tmp()]);
  t.not(r.code, 0);
  t.regex(r.stderr, /--port: "eighty" is not a whole number/);
  const r2 = await runCli(['serve', 'ca', '--data-dir', tmp()]);
  t.not(r2.code, 0);
  t.regex(r2.stderr, /--log-url/);
});
