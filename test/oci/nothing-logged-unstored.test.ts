/**
 * A log entry is permanent, so `sign-image` and `attest` find out before signing whether the registry will take
 * the signature: a registry that refuses pushes, or a `.sig` tag already full, fails them with nothing logged.
 * A registry step that still fails after logging says so, with the log index.
 */
import { generateKeyPairSync } from 'node:crypto';
import test from 'ava';
import { attestImage } from '../../client/oci/attest.ts';
import { MAX_ATTACHMENTS, signatureConfig, signatureManifest, SIMPLE_SIGNING_MEDIA_TYPE } from '../../client/oci/cosign-layout.ts';
import { OCI_MANIFEST, RegistryClient } from '../../client/oci/registry.ts';
import { signImage } from '../../client/oci/sign-image.ts';
import { startStack, type TestStack } from '../helpers/stack.ts';
import { pushRandomImage, startRegistry, type TestRegistry } from './registry-helper.ts';

let stack: TestStack;
let registry: TestRegistry;

test.before(async () => {
  [stack, registry] = await Promise.all([startStack(), startRegistry()]);
});
test.after.always(async () => {
  await stack?.close();
  await registry?.close();
});

async function logSize(): Promise<number> {
  return ((await (await fetch(`${stack.url}/api/v1/log`)).json()) as { treeSize: number }).treeSize;
}

/** The registry as a pull-only user sees it: every push answered 403 DENIED, as distribution does. */
function refusing(what: (url: URL, method: string) => boolean): typeof fetch {
  return async (input, init) => {
    const url = new URL(String(input instanceof Request ? input.url : input));
    const method = init?.method ?? 'GET';
    if (url.host === registry.host && what(url, method)) {
      return new Response(JSON.stringify({ errors: [{ code: 'DENIED', message: 'requested access to the resource is denied' }] }), { status: 403, headers: { 'content-type': 'application/json' } });
    }
    return fetch(input, init);
  };
}

test.serial('a registry that refuses pushes: sign-image (keyless, --key, referrer) and attest fail before anything is logged', async (t) => {
  const client = new RegistryClient({ registry: registry.host });
  await pushRandomImage(client, 'pullonly/app', 'v1');
  const image = `${registry.host}/pullonly/app:v1`;
  const noPush = refusing((url, method) => method === 'POST' && url.pathname.endsWith('/blobs/uploads/'));
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const common = { image, fulcioUrl: stack.url, rekorUrl: stack.url, fetch: noPush };
  const before = await logSize();
  const attempts: [string, () => Promise<unknown>][] = [
    ['keyless', async () => signImage({ ...common, identityToken: await stack.mintToken() })],
    ['--key', async () => signImage({ ...common, identityToken: '', key: privateKey })],
    ['referrer', async () => signImage({ ...common, identityToken: await stack.mintToken(), newBundleFormat: true })],
    ['attest', async () => attestImage({ ...common, identityToken: await stack.mintToken(), predicate: { a: 1 }, type: 'custom' })],
    ['attest referrer', async () => attestImage({ ...common, identityToken: await stack.mintToken(), predicate: { a: 1 }, type: 'custom', newBundleFormat: true })],
  ];
  for (const [what, attempt] of attempts) {
    await t.throwsAsync(attempt, { message: /pushing to pullonly\/app: the registry said 403: DENIED requested access to the resource is denied/ }, what);
  }
  t.is(await logSize(), before, 'nothing was logged');
  // The same calls with pushes allowed succeed: the refusal was the only thing in the way.
  await signImage({ ...common, fetch: undefined, identityToken: await stack.mintToken() });
  t.is(await logSize(), before + 1);
});

test.serial('a .sig tag already holding the most layers allowed: refused before signing', async (t) => {
  const client = new RegistryClient({ registry: registry.host });
  const digest = await pushRandomImage(client, 'full/app', 'v1');
  const blob = Buffer.from('{}');
  const blobDigest = await client.pushBlob('full/app', blob);
  const layers = Array.from({ length: MAX_ATTACHMENTS }, (_, i) => ({ mediaType: SIMPLE_SIGNING_MEDIA_TYPE, size: blob.length, digest: blobDigest, annotations: { n: String(i) } }));
  const config = signatureConfig(layers);
  await client.pushBlob('full/app', config);
  await client.putManifest('full/app', `${digest.replace(':', '-')}.sig`, signatureManifest(config, layers), OCI_MANIFEST);
  const before = await logSize();
  await t.throwsAsync(signImage({ image: `${registry.host}/full/app:v1`, identityToken: await stack.mintToken(), fulcioUrl: stack.url, rekorUrl: stack.url }), { message: new RegExp(`already holds ${MAX_ATTACHMENTS} entries, the limit per image: nothing was signed`) });
  t.is(await logSize(), before);
});

test.serial('a registry step that fails after logging names the log index', async (t) => {
  const client = new RegistryClient({ registry: registry.host });
  await pushRandomImage(client, 'late/app', 'v1');
  const noManifests = refusing((url, method) => method === 'PUT' && url.pathname.includes('/manifests/'));
  const before = await logSize();
  const e = await t.throwsAsync(signImage({ image: `${registry.host}/late/app:v1`, identityToken: await stack.mintToken(), fulcioUrl: stack.url, rekorUrl: stack.url, fetch: noManifests }));
  t.regex(e!.message, new RegExp(`^the signature is in the log at index ${before}, but storing it in the registry failed: .*403`));
  t.is(await logSize(), before + 1);
});
