/**
 * Registries redirect blob reads to a store on another host (S3, a CDN). The registry's credentials must not
 * follow: neither in the Authorization header of the redirected request, nor to a token realm named by a 401
 * that the other host answers.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import test from 'ava';
import { RegistryClient, sha256Digest } from '../../client/oci/registry.ts';

const CREDS = { username: 'ci', password: 'registry secret' };
const BASIC = `Basic ${Buffer.from(`${CREDS.username}:${CREDS.password}`).toString('base64')}`;

interface Seen { path: string; headers: IncomingHttpHeaders }

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A blob store on its own origin: serves the blob, or (`challenge`) answers 401 naming its own token realm. */
async function startStore(blob: Buffer, challenge: boolean): Promise<{ host: string; seen: Seen[]; server: Server }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    seen.push({ path: req.url ?? '', headers: req.headers });
    if (req.url?.startsWith('/token')) return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"token":"store-token"}');
    if (challenge) {
      const host = req.headers.host ?? '';
      return void res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${host}/token",service="store"` }).end();
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(blob);
  });
  return { host: await listen(server), seen, server };
}

/** A registry that redirects every blob read to `store`; `anonymous` lets reads through without credentials. */
async function startRegistry(store: string, anonymous: boolean): Promise<{ host: string; seen: Seen[]; server: Server }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    seen.push({ path: req.url ?? '', headers: req.headers });
    if (!anonymous && req.headers.authorization !== BASIC) {
      return void res.writeHead(401, { 'www-authenticate': 'Basic realm="registry"' }).end();
    }
    const m = /^\/v2\/app\/blobs\/(sha256:[0-9a-f]{64})$/.exec(req.url ?? '');
    if (!m) return void res.writeHead(404).end();
    res.writeHead(307, { location: `http://${store}/storage/${m[1]}` }).end();
  });
  return { host: await listen(server), seen, server };
}

test('a blob redirected to another origin is fetched without the registry credentials', async (t) => {
  const blob = randomBytes(512);
  const store = await startStore(blob, false);
  const registry = await startRegistry(store.host, false);
  t.teardown(() => { store.server.close(); registry.server.close(); });
  const client = new RegistryClient({ registry: registry.host, credentials: CREDS });
  t.deepEqual(await client.getBlob('app', sha256Digest(blob), 4096), blob);
  t.true(registry.seen.some((s) => s.headers.authorization === BASIC), 'the registry itself got the credentials');
  t.is(store.seen.length, 1);
  t.is(store.seen[0]!.headers.authorization, undefined, 'the store on another origin got no Authorization header');
});

test('a 401 from the redirect target is not answered with the registry credentials', async (t) => {
  const blob = randomBytes(512);
  const store = await startStore(blob, true);
  const registry = await startRegistry(store.host, true);
  t.teardown(() => { store.server.close(); registry.server.close(); });
  const client = new RegistryClient({ registry: registry.host, credentials: CREDS });
  await t.throwsAsync(client.getBlob('app', sha256Digest(blob), 4096), { message: /said 401/ });
  t.false(store.seen.some((s) => s.path.startsWith('/token')), 'no token was asked of the store\'s realm');
  t.true(store.seen.every((s) => s.headers.authorization === undefined));
  t.true(registry.seen.every((s) => s.headers.authorization === undefined), 'anonymous reads needed no credentials');
});
