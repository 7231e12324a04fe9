import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleToJSON } from '@sigstore/bundle';
import { FulcioSigner, MessageSignatureBundleBuilder, RekorWitness } from '@sigstore/sign';
import { ROOT, runCli } from '../helpers/cli.ts';

/**
 * The real deployment: the images built offline, the CA and the log as two containers under podman-compose,
 * talking by service name; a stock client signs through the published ports, our verifier checks offline, and
 * the log's entries survive a restart of its container.
 */
const PROJECT = `sigstack-test-${process.pid}`;
const EMAIL = 'compose@example.com';

function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, CONTAINERS_CONF: join(ROOT, 'scripts/containers.conf'), ...env } });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out }));
  });
}

/** Two ports nothing listens on now (the stack needs fixed published ports; these avoid other users' 3000/5555). */
async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise((r) => srv.close(r));
  return port;
}

async function ready(url: string): Promise<boolean> {
  try {
    return (await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(3000) })).status === 200;
  } catch {
    return false;
  }
}

test('compose: up, healthy, sign with sigstore-js through the published ports, verify offline, restart the log, entries persist', async (t) => {
  t.timeout(900_000);
  const caPort = await freePort();
  const logPort = await freePort();
  const env = { SIGSTACK_PROJECT: PROJECT, SIGSTACK_CA_PORT: String(caPort), SIGSTACK_LOG_PORT: String(logPort), SIGSTACK_DEV_OIDC: 'true' };
  const ca = `http://127.0.0.1:${caPort}`;
  const log = `http://127.0.0.1:${logPort}`;
  try {
    const build = await run('bash', ['scripts/build-image.sh']);
    t.is(build.code, 0, build.out);
    const t0 = performance.now();
    const up = await run('bash', ['scripts/stack-up.sh'], env);
    t.is(up.code, 0, up.out);
    t.log(`stack:up to ready: ${Math.round(performance.now() - t0)} ms; ${/built \S+: (\d+) bytes/.exec(build.out)?.[1] ?? '?'} bytes image`);
    t.regex(up.out, /sigstack is up and ready/);
    t.true(await ready(ca));
    t.true(await ready(log));
    for (const service of ['ca', 'log']) {
      const hc = await run('podman', ['healthcheck', 'run', `${PROJECT}_${service}_1`]);
      t.is(hc.code, 0, `the image's health check in the ${service} container: ${hc.out}`);
    }
    const user = await run('podman', ['exec', `${PROJECT}_log_1`, 'id', '-u']);
    t.is(user.out.trim(), '10001', 'the service does not run as root');

    // a stock client, through the published ports only
    const tokenRes = await fetch(`${ca}/dev-oidc/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: EMAIL }) });
    t.is(tokenRes.status, 200);
    const token = ((await tokenRes.json()) as { id_token: string }).id_token;
    const builder = new MessageSignatureBundleBuilder({
      signer: new FulcioSigner({ fulcioBaseURL: ca, identityProvider: { getToken: async () => token } }),
      witnesses: [new RekorWitness({ rekorBaseURL: log })],
    });
    const dir = mkdtempSync(join(tmpdir(), 'sigstack-compose-'));
    const artifact = join(dir, 'artifact.txt');
    writeFileSync(artifact, 'signed through podman-compose\n');
    const bundle = bundleToJSON(await builder.create({ data: Buffer.from('signed through podman-compose\n') })) as { verificationMaterial: { tlogEntries: { logIndex?: string }[] } };
    writeFileSync(join(dir, 'bundle.json'), JSON.stringify(bundle));
    const logIndex = Number(bundle.verificationMaterial.tlogEntries[0]!.logIndex ?? 0); // proto3 JSON omits a zero

    const root = await runCli(['trusted-root', '--url', ca, '--out', join(dir, 'trusted_root.json')]);
    t.is(root.code, 0, root.stderr);
    const verifyArgs = ['verify', artifact, '--bundle', join(dir, 'bundle.json'), '--trusted-root', join(dir, 'trusted_root.json'),
      '--certificate-identity', EMAIL, '--certificate-oidc-issuer', `${ca}/dev-oidc`];
    const verified = await runCli(verifyArgs);
    t.is(verified.code, 0, verified.stderr + verified.stdout);
    t.regex(verified.stdout + verified.stderr, /Verified OK/);

    // each service's own metrics: the CA counts what it issued, the log what it holds
    const caMetrics = await (await fetch(`${ca}/metrics`)).text();
    t.true(caMetrics.includes(`sigstack_certificates_issued_total{issuer="${ca}/dev-oidc",type="email"} 1`), caMetrics.slice(0, 2000));
    t.regex(await (await fetch(`${log}/metrics`)).text(), /^sigstack_log_size\{log="rekor"\} [1-9]/m);

    const beforeRes = await fetch(`${log}/api/v1/log/entries?logIndex=${logIndex}`);
    const beforeText = await beforeRes.text();
    t.is(beforeRes.status, 200, `entry ${logIndex}: ${beforeText}`);
    const before = JSON.parse(beforeText) as Record<string, unknown>;
    const restart = await run('podman', ['restart', `${PROJECT}_log_1`]);
    t.is(restart.code, 0, restart.out);
    let up2 = false;
    for (let i = 0; i < 240 && !up2; i++) {
      up2 = await ready(log);
      if (!up2) await new Promise((r) => setTimeout(r, 500));
    }
    t.true(up2, 'the log came back after its restart');
    const after = await fetch(`${log}/api/v1/log/entries?logIndex=${logIndex}`);
    const afterText = await after.text();
    t.is(after.status, 200, afterText);
    t.deepEqual(Object.keys(JSON.parse(afterText) as object), Object.keys(before), 'the same entry, under the same UUID, after the restart');
    const sth = (await (await fetch(`${log}/api/v1/log`)).json()) as { treeSize: number };
    t.true(sth.treeSize >= 1);
    t.is((await runCli(verifyArgs)).code, 0, 'still verifies offline after the restart');
    t.true(await ready(ca), 'the CA reaches the restarted log');
  } finally {
    const down = await run('bash', ['scripts/stack-down.sh', '--volumes'], env);
    t.is(down.code, 0, down.out);
  }
});
