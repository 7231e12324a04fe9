/**
 * `log audit` called wrong: each mistake is named (the URL, the file, what was expected), is an input error (exit 2)
 * rather than an audit failure (exit 1, "the log is bad"), and is found before any entry is read. A log that cannot
 * be reached is a third case (exit 3).
 */
import test from 'ava';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSigner } from '../../core/signer.ts';
import { audit, AuditInputError, AuditUnavailable } from '../../client/log-audit.ts';
import { runCli } from '../helpers/cli.ts';
import { startIndexedRekor } from './rekor-server.ts';

type Rekor = Awaited<ReturnType<typeof startIndexedRekor>>;
let rekor: Rekor;
let dir: string;
const servers: Server[] = [];
const quiet = () => undefined;

/** A loopback server answering every request with `body`. */
async function answering(contentType: string, body: string): Promise<string> {
  const server = createServer((_req, res) => res.writeHead(200, { 'content-type': contentType }).end(body));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

const file = (name: string, content: string) => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};

test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sigstack-audit-errors-'));
  rekor = await startIndexedRekor(join(dir, 'rekor.db'));
  await rekor.log.append(Buffer.from('an entry'));
});
test.after.always(async () => {
  await rekor?.close();
  for (const s of servers) s.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function inputError(t: import('ava').ExecutionContext, o: Parameters<typeof audit>[0], message: RegExp): Promise<void> {
  const progress: string[] = [];
  const err = await t.throwsAsync(audit(o, (l) => progress.push(l)));
  t.true(err instanceof AuditInputError, `${err?.constructor.name}: ${err?.message}`);
  t.regex(err!.message, message);
  t.deepEqual(progress, [], 'found before any entry is read');
}

test('a URL that is not a Sigstack log base URL is named, with what was expected', async (t) => {
  const html = await answering('text/html', '<html><body>hello</body></html>');
  const json = await answering('application/json', '{"hello":"world"}');
  const notALog = /did not answer a PEM public key: is the URL the base URL of a Sigstack log/;
  await inputError(t, { url: html }, new RegExp(`${html}/api/v1/log/publicKey ${notALog.source}`));
  await inputError(t, { url: json }, notALog);
  // with the key given, the first thing read is the checkpoint: still named, still an input error
  const pem = file('log.pem', rekor.signer.publicKey.export({ type: 'spki', format: 'pem' }) as string);
  await inputError(t, { url: html, publicKey: pem }, new RegExp(`${html}/api/v1/tiles/checkpoint is not a signed checkpoint`));
  await inputError(t, { url: `${rekor.url}/api/v1/log` }, new RegExp(`is an API path: give the server's base URL \\(${rekor.url}\\)`));
  await inputError(t, { url: 'ftp://127.0.0.1/' }, /over http or https, not ftp/);
  await inputError(t, { url: 'not a url' }, /"not a url" is not a URL/);
});

test('an unreachable log names the URL and the cause, and is not an audit failure', async (t) => {
  const port = await closedPort();
  const err = await t.throwsAsync(audit({ url: `http://127.0.0.1:${port}` }, quiet));
  t.true(err instanceof AuditUnavailable);
  t.regex(err!.message, new RegExp(`cannot reach http://127\\.0\\.0\\.1:${port}/api/v1/log/publicKey \\(.*ECONNREFUSED`));
});

test('--public-key and --trusted-root files that are not what they should be are named', async (t) => {
  await inputError(t, { url: rekor.url, publicKey: file('notakey.txt', 'hello\n') }, /--public-key \S+notakey\.txt is not a PEM public key/);
  await inputError(t, { url: rekor.url, publicKey: join(dir, 'missing.pem') }, /cannot read --public-key \S+missing\.pem/);
  await inputError(t, { url: rekor.url, trustedRoot: file('empty.json', '{}') },
    new RegExp(`--trusted-root \\S+empty\\.json has no transparency log key for ${rekor.url}`));
  await inputError(t, { url: rekor.url, trustedRoot: file('text.json', 'not json') }, /--trusted-root \S+text\.json is not JSON/);
  await inputError(t, { url: rekor.url, trustedRoot: file('null.json', 'null') }, /--trusted-root \S+null\.json is not a trusted_root\.json/);
  await inputError(t, { url: rekor.url, trustedRoot: file('nulltlog.json', '{"tlogs":[null]}') }, /null\.?tlog\.json: tlogs\[0\] is not an object/);
  await inputError(t, { url: rekor.url, trustedRoot: file('badkey.json', '{"tlogs":[{"publicKey":{"rawBytes":"aGVsbG8="}}]}') },
    /tlogs\[0\]\.publicKey\.rawBytes is not a base64 DER public key/);
});

test('a trusted root whose keys are for another URL says so when the signature fails', async (t) => {
  const other = generateSigner().publicKeyDer.toString('base64');
  const root = file('other-url.json', JSON.stringify({ tlogs: [{ baseUrl: 'https://elsewhere.example', publicKey: { rawBytes: other } }] }));
  const err = await t.throwsAsync(audit({ url: rekor.url, trustedRoot: root }, quiet));
  t.regex(err!.message, new RegExp(`no tlog of \\S+other-url\\.json has the baseUrl ${rekor.url}`));
});

test('--checkpoint: an empty or garbage file is named; a path that cannot be written is refused before the audit', async (t) => {
  await inputError(t, { url: rekor.url, checkpoint: file('empty.txt', '') }, /--checkpoint \S+empty\.txt is not a signed checkpoint \(it is empty\)/);
  await inputError(t, { url: rekor.url, checkpoint: file('garbage.txt', 'garbage\n') }, /--checkpoint \S+garbage\.txt is not a signed checkpoint \(signed note/);
  await inputError(t, { url: rekor.url, checkpoint: join(dir, 'nodir', 'cp.txt') }, /--checkpoint \S+cp\.txt: the folder \S+nodir does not exist/);
  await inputError(t, { url: rekor.url, checkpoint: dir }, /is not a file/);
  t.false(existsSync(join(dir, 'nodir')));
});

test('CLI exit codes: 2 for a call gone wrong, 3 for a log that cannot be read, with the usage hint only for the first', async (t) => {
  const wrong = await runCli(['log', 'audit', '--url', rekor.url, '--trusted-root', file('cli-empty.json', '{}')]);
  t.is(wrong.code, 2, wrong.stderr);
  t.regex(wrong.stderr, /^Error: --trusted-root \S+ has no transparency log key for .*\nRun "sigstack log audit --help" for usage\.\n$/);
  const down = await runCli(['log', 'audit', '--url', `http://127.0.0.1:${await closedPort()}`]);
  t.is(down.code, 3, down.stderr);
  t.regex(down.stderr, /^Error: could not audit: cannot reach http:\/\/127\.0\.0\.1:\d+\/api\/v1\/log\/publicKey \(/);
  const help = await runCli(['log', 'audit', '--help']);
  t.regex(help.stdout, /Exit codes:\n {2}0 {2}audit OK[\s\S]*\n {2}1 {2}audit FAILED[\s\S]*\n {2}2 {2}bad usage[\s\S]*\n {2}3 {2}the log could not be read/);
});
