import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import test from 'ava';
import { attachmentLayers, MAX_ATTACHMENTS } from '../../client/oci/cosign-layout.ts';
import { credentialsFromDockerConfig, normalizeAuthKey } from '../../client/oci/credentials.ts';
import { parseChallenge, readLimited } from '../../client/oci/http.ts';
import { parseReference } from '../../client/oci/reference.ts';
import { RegistryClient, sha256Digest } from '../../client/oci/registry.ts';
import { pushRandomImage, startRegistry, type TestRegistry } from './registry-helper.ts';

const run = promisify(execFile);
let registry: TestRegistry;
let authed: TestRegistry;
const AUTH = { user: 'ci', password: 's3cret pass' };

test.before(async () => {
  [registry, authed] = await Promise.all([startRegistry(), startRegistry({ auth: AUTH })]);
});
test.after.always(async () => {
  await registry?.close();
  await authed?.close();
});

test('references parse as docker spells them', (t) => {
  t.deepEqual(parseReference('nginx'), { registry: 'index.docker.io', repository: 'library/nginx', tag: 'latest', digest: undefined });
  t.deepEqual(parseReference('127.0.0.1:5000/a/b:v1'), { registry: '127.0.0.1:5000', repository: 'a/b', tag: 'v1', digest: undefined });
  const d = `sha256:${'a'.repeat(64)}`;
  t.deepEqual(parseReference(`localhost/x@${d}`), { registry: 'localhost', repository: 'x', tag: undefined, digest: d });
  t.throws(() => parseReference('Reg.io/UPPER'));
  t.throws(() => parseReference('reg.io/x@sha256:abc'));
});

test('docker config credentials match the registry host exactly (sigstore-js#1718)', async (t) => {
  const config = { auths: {
    'https://registry.example.com/v1/': { auth: Buffer.from('alice:pw1').toString('base64') },
    'other.example.com:5000': { username: 'bob', password: 'pw2' },
  } };
  t.deepEqual(await credentialsFromDockerConfig(config, 'registry.example.com'), { username: 'alice', password: 'pw1' });
  t.is(await credentialsFromDockerConfig(config, 'registry.example.com.attacker.net'), undefined);
  t.is(await credentialsFromDockerConfig(config, 'example.com'), undefined);
  t.is(await credentialsFromDockerConfig(config, 'registry.example.com:443'), undefined);
  t.is(await credentialsFromDockerConfig(config, 'other.example.com'), undefined);
  t.deepEqual(await credentialsFromDockerConfig(config, 'other.example.com:5000'), { username: 'bob', password: 'pw2' });
  t.is(normalizeAuthKey('HTTPS://Index.Docker.io/v1/'), 'index.docker.io');
  t.is(await credentialsFromDockerConfig(null, 'x'), undefined);
  t.is(await credentialsFromDockerConfig({ auths: { x: null } }, 'x'), undefined);
});

test('WWW-Authenticate challenges parse', (t) => {
  t.deepEqual(parseChallenge('Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull,push"'),
    { scheme: 'bearer', params: { realm: 'https://auth.example/token', service: 'reg', scope: 'repository:a/b:pull,push' } });
  t.deepEqual(parseChallenge('Basic realm=x'), { scheme: 'basic', params: { realm: 'x' } });
});

test('bodies are read with a ceiling, declared or streamed (GHSA-88jx-383q-w4qc)', async (t) => {
  await t.throwsAsync(readLimited(new Response('x'.repeat(100), { headers: { 'content-length': '100' } }), 10, 'blob'), { message: /limit of 10/ });
  const stream = new ReadableStream({ pull(c) { c.enqueue(new Uint8Array(1000)); } }); // endless
  await t.throwsAsync(readLimited(new Response(stream), 5000, 'blob'), { message: /limit of 5000/ });
});

test('at most 100 signatures per image are accepted (GHSA-vfp6-jrw2-99g9, GHSA-95pr-fxf5-86gv)', (t) => {
  const layer = { mediaType: 'x', size: 1, digest: `sha256:${'0'.repeat(64)}` };
  t.is(attachmentLayers({ layers: Array(MAX_ATTACHMENTS).fill(layer) }).length, 100);
  t.throws(() => attachmentLayers({ layers: Array(MAX_ATTACHMENTS + 1).fill(layer) }), { message: /101 layers/ });
  t.throws(() => attachmentLayers({ layers: [{ ...layer, size: -1 }] }));
});

test('push and read back manifests, blobs and tags against docker-registry; skopeo reads what we pushed', async (t) => {
  const client = new RegistryClient({ registry: registry.host });
  const digest = await pushRandomImage(client, 'team/app', 'v1');
  const m = await client.getManifest('team/app', 'v1');
  t.is(m?.digest, digest);
  t.is((await client.getManifest('team/app', digest))?.digest, digest);
  t.is(await client.getManifest('team/app', 'nope'), undefined);
  t.deepEqual(await client.listTags('team/app'), ['v1']);
  const blob = randomBytes(2000);
  const blobDigest = await client.pushBlob('team/app', blob);
  t.deepEqual(await client.getBlob('team/app', blobDigest, 4096), blob);
  await t.throwsAsync(client.getBlob('team/app', blobDigest, 1000), { message: /limit/ });
  t.is(await client.referrers('team/app', digest), undefined, 'no referrers API and no fallback tag');
  const { stdout } = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/team/app:v1`]);
  t.is(sha256Digest(Buffer.from(stdout)), digest);
});

test('bearer-token auth: credentials go to the token service and the registry accepts its token', async (t) => {
  const client = new RegistryClient({ registry: authed.host, credentials: { username: AUTH.user, password: AUTH.password } });
  const digest = await pushRandomImage(client, 'secure/app', 'v1');
  t.is((await client.getManifest('secure/app', 'v1'))?.digest, digest);
  t.true(authed.tokenRequests.some((r) => r.authorized && r.scope === 'repository:secure/app:pull,push'));
  const anonymous = new RegistryClient({ registry: authed.host });
  await t.throwsAsync(anonymous.getManifest('secure/app', 'v1'), { message: /401/ });
  const wrong = new RegistryClient({ registry: authed.host, credentials: { username: AUTH.user, password: 'wrong' } });
  await t.throwsAsync(wrong.getManifest('secure/app', 'v1'), { message: /wrong or missing registry credentials/ });
});
