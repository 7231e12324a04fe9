/**
 * sign-image against something that is not (or no longer) an OCI registry: a web server answering HTML or some
 * other JSON for the manifest, or a host that accepts connections and never answers. The command must refuse
 * before signing, so no certificate is issued and nothing is written to the transparency log.
 */
import test from 'ava';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { manifestMediaType, OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST, RegistryClient, RegistryError } from '../../client/oci/registry.ts';
import { runCli } from '../helpers/cli.ts';
import { startStack, type TestStack } from '../helpers/stack.ts';

let stack: TestStack;

test.before(async () => {
  stack = await startStack();
});
test.after.always(async () => {
  await stack?.close();
});

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ host: string; server: Server; close: () => void }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { host, server, close: () => { server.closeAllConnections(); server.close(); } };
}

async function treeSize(): Promise<number> {
  return ((await (await fetch(`${stack.url}/api/v1/log`)).json()) as { treeSize: number }).treeSize;
}

const MANIFEST = JSON.stringify({
  schemaVersion: 2, mediaType: OCI_MANIFEST,
  config: { mediaType: 'application/vnd.oci.image.config.v1+json', size: 2, digest: `sha256:${'4'.repeat(64)}` },
  layers: [],
});

const answers: [string, string, string][] = [
  ['an HTML page', 'text/html; charset=utf-8', '<!doctype html><html><body>Welcome to our intranet</body></html>'],
  ['other JSON', 'application/json', '{"status":"ok","version":"1.2.3"}'],
  ['other JSON with a manifest Content-Type', OCI_MANIFEST, '{"schemaVersion":2,"hello":"world"}'],
  ['a Docker schema 1 manifest', 'application/json', '{"schemaVersion":1,"name":"app","tag":"1.0","fsLayers":[]}'],
];

for (const [what, contentType, body] of answers) {
  test(`sign-image refuses ${what} for the manifest, before any certificate or log entry`, async (t) => {
    const web = await serve((_req, res) => res.writeHead(200, { 'content-type': contentType }).end(body));
    try {
      const before = await treeSize();
      const r = await runCli(['sign-image', `${web.host}/app:1.0`, '--url', stack.url, '--identity-token', await stack.mintToken()]);
      t.is(r.code, 1, r.stderr);
      t.regex(r.stderr, new RegExp(`Error: signing ${web.host}/app:1.0 failed: manifest app:1.0: the registry answered .* that is not an image manifest \\(.+\\); is http://${web.host} an OCI registry\\?`));
      t.notRegex(r.stderr, /Signing .*@sha256|certificate|Logged/);
      t.is(await treeSize(), before, 'nothing was logged');
    } finally {
      web.close();
    }
  });
}

test('a real manifest is accepted whatever its Content-Type; its media type comes from the body, else the header, else its shape', (t) => {
  const m = (doc: object) => Buffer.from(JSON.stringify(doc));
  t.is(manifestMediaType(Buffer.from(MANIFEST), 'application/octet-stream', 'm', 'b'), OCI_MANIFEST);
  const bare = { schemaVersion: 2, config: { digest: 'x' }, layers: [] };
  t.is(manifestMediaType(m(bare), DOCKER_MANIFEST, 'm', 'b'), DOCKER_MANIFEST);
  t.is(manifestMediaType(m(bare), '', 'm', 'b'), OCI_MANIFEST);
  t.is(manifestMediaType(m({ schemaVersion: 2, manifests: [] }), 'text/plain', 'm', 'b'), OCI_INDEX);
  t.throws(() => manifestMediaType(m({ schemaVersion: 2, mediaType: OCI_INDEX, config: {}, layers: [] }), OCI_INDEX, 'm', 'b'), { instanceOf: RegistryError, message: /without one/ });
  t.throws(() => manifestMediaType(m({ ...bare, mediaType: 'text/html' }), '', 'm', 'b'), { message: /unsupported media type text\/html/ });
});

test('the registry client reads a manifest served as application/octet-stream', async (t) => {
  const web = await serve((_req, res) => res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(MANIFEST));
  try {
    const got = await new RegistryClient({ registry: web.host }).getManifest('app', '1.0');
    t.is(got?.mediaType, OCI_MANIFEST);
  } finally {
    web.close();
  }
});

test('a registry that never answers: sign-image gives up after 15 s, naming it, before signing', async (t) => {
  const silent = await serve(() => {});
  try {
    const before = await treeSize();
    const r = await runCli(['sign-image', `${silent.host}/app:1.0`, '--url', stack.url, '--identity-token', await stack.mintToken()]);
    t.is(r.code, 1);
    t.regex(r.stderr, new RegExp(`cannot reach the registry at http://${silent.host} \\(no answer within 15 s\\)`));
    t.is(await treeSize(), before);
  } finally {
    silent.close();
  }
});

test('a registry that sends headers and then nothing: the manifest read gives up after 15 s', async (t) => {
  const stalled = await serve((_req, res) => res.writeHead(200, { 'content-type': OCI_MANIFEST }).write('{'));
  try {
    await t.throwsAsync(new RegistryClient({ registry: stalled.host }).getManifest('app', '1.0'),
      { instanceOf: RegistryError, message: /manifest app:1\.0: the registry stopped answering \(no answer within 15 s\)/ });
  } finally {
    stalled.close();
  }
});
