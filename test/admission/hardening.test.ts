/**
 * The webhook under hostile or broken input, each case from a review of it: registry names spelled to dodge a
 * rule, image volumes, malformed requests, credential helpers and registries that hang, and the bounds on work.
 * Real stack, real docker-registry, the webhook over TLS.
 */
import 'reflect-metadata';
import { createServer, type Server, type Socket } from 'node:net';
import test from 'ava';
import { Agent, fetch as undiciFetch } from 'undici';
import { RegistryClient } from '../../client/oci/registry.ts';
import { signImage } from '../../client/oci/sign-image.ts';
import { createVerifier } from '../../client/verify/index.ts';
import { Limiter } from '../../admission/limiter.ts';
import { parsePolicy } from '../../admission/policy.ts';
import { startAdmissionServer, type AdmissionServerOptions } from '../../admission/server.ts';
import { VerdictCache } from '../../admission/verdict-cache.ts';
import { startStack, TEST_EMAIL, type TestStack } from '../helpers/stack.ts';
import { pushRandomImage, startRegistry, type TestRegistry } from '../oci/registry-helper.ts';
import { pod, podSpec, review, selfSignedTls } from './fixtures.ts';

let stack: TestStack;
let registry: TestRegistry;
let tls: { cert: string; key: string };
let port: string;
const img: Record<string, string> = {};
const digests: Record<string, string> = {};

test.before(async () => {
  [stack, registry, tls] = await Promise.all([startStack(), startRegistry(), selfSignedTls()]);
  port = registry.host.split(':')[1]!;
  const client = new RegistryClient({ registry: registry.host });
  for (const name of ['good', 'unsigned', 'data']) {
    digests[name] = await pushRandomImage(client, `hard/${name}`, 'v1');
    img[name] = `${registry.host}/hard/${name}:v1`;
  }
  for (const name of ['good', 'data']) {
    await signImage({ image: img[name]!, identityToken: await stack.mintToken(), fulcioUrl: stack.url, rekorUrl: stack.url });
  }
});
test.after.always(async () => {
  await stack?.close();
  await registry?.close();
});

type Options = Partial<AdmissionServerOptions> & { policyText: string };

/** A webhook of its own for one test: its policy, deadline, limiter and fetch. */
async function webhook(opts: Options) {
  const server = await startAdmissionServer({
    ...tls, host: '127.0.0.1', port: 0, verifier: createVerifier(stack.trustedRoot), cache: new VerdictCache(100, 60_000), mutate: true, ...opts, policy: parsePolicy(opts.policyText),
  });
  const agent = new Agent({ connect: { ca: tls.cert } });
  const admit = async (body: unknown, path = '/validate') => {
    const res = await undiciFetch(`${server.url}${path}`, { method: 'POST', body: JSON.stringify(body), dispatcher: agent });
    return { status: res.status, json: await res.json() as any };
  };
  const healthz = async () => (await undiciFetch(`${server.url}/healthz`, { dispatcher: agent })).status;
  return { admit, healthz, close: async () => { await server.close(); await agent.close(); } };
}

const rule = (images: string, identity = TEST_EMAIL) => `  - images: ["${images}"]\n    identity: ${identity}\n    issuer: ${stack.issuer}\n`;

test('an image written with another spelling of the registry host still meets its rule (unmatched: allow)', async (t) => {
  const w = await webhook({ policyText: `policies:\n${rule(`${registry.host}/hard/**`)}unmatched: allow\n` });
  try {
    t.true((await w.admit(review('Pod', pod(podSpec([img.good!]))))).json.response.allowed);
    // Each reaches the same registry; before, each matched no rule and was admitted unsigned.
    for (const host of [`127.0.0.1:0${port}`, `127.1:${port}`, `127.000.000.001:${port}`, `0x7f.0.0.1:00${port}`]) {
      const r = (await w.admit(review('Pod', pod(podSpec([`${host}/hard/unsigned:v1`]))))).json.response;
      t.false(r.allowed, host);
      t.regex(r.status.message, /no signatures found/, host);
      t.true((await w.admit(review('Pod', pod(podSpec([`${host}/hard/good:v1`]))))).json.response.allowed, host);
    }
    // Truly another registry (or repository) is still unmatched.
    t.true((await w.admit(review('Pod', pod(podSpec([`${registry.host}/other/unsigned:v1`]))))).json.response.allowed);
  } finally {
    await w.close();
  }
});

test('another spelling cannot move an image to a weaker rule; rule patterns compare without case (unmatched: deny)', async (t) => {
  const strict = rule(`${registry.host.toUpperCase()}/hard/**`, 'bob@example.com');
  const weak = `  - images: ["**"]\n    identityRegexp: '.*'\n    issuerRegexp: '.*'\n`;
  const w = await webhook({ policyText: `policies:\n${strict}${weak}` });
  try {
    for (const host of [registry.host, `127.0.0.1:0${port}`, `127.1:${port}`]) {
      const r = (await w.admit(review('Pod', pod(podSpec([`${host}/hard/good:v1`]))))).json.response;
      t.false(r.allowed, host);
      t.regex(r.status.message, /none of the expected identities matched/, host);
    }
    t.true((await w.admit(review('Pod', pod(podSpec([`${registry.host}/elsewhere/x@${digests.good}`]))))).json.response.allowed === false, 'not in the registry: denied by the weak rule');
  } finally {
    await w.close();
  }
});

test('image volumes are verified like containers and pinned with --mutate', async (t) => {
  const w = await webhook({ policyText: `policies:\n${rule(`${registry.host}/**`)}` });
  const withVolume = (reference: string) => pod({ ...podSpec([img.good!]), volumes: [{ name: 'cfg', configMap: { name: 'x' } }, { name: 'data', image: { reference, pullPolicy: 'IfNotPresent' } }] });
  try {
    const denied = (await w.admit(review('Pod', withVolume(img.unsigned!)))).json.response;
    t.false(denied.allowed);
    t.regex(denied.status.message, /image \S+hard\/unsigned:v1 \(volumes data\) is not admitted: no signatures found/);
    const { json } = await w.admit(review('Pod', withVolume(img.data!)), '/mutate');
    t.true(json.response.allowed, JSON.stringify(json));
    const patch = JSON.parse(Buffer.from(json.response.patch, 'base64').toString());
    t.deepEqual(patch, [
      { op: 'replace', path: '/spec/containers/0/image', value: `${registry.host}/hard/good@${digests.good}` },
      { op: 'replace', path: '/spec/volumes/1/image/reference', value: `${registry.host}/hard/data@${digests.data}` },
    ]);
    const noRef = (await w.admit(review('Pod', pod({ ...podSpec([img.good!]), volumes: [{ name: 'v', image: {} }] })))).json.response;
    t.false(noRef.allowed);
    t.regex(noRef.status.message, /\/spec\/volumes\/0\/image: no reference/);
  } finally {
    await w.close();
  }
});

test('malformed requests are denied, not allowed: operation, kind, object, a spec that is a list', async (t) => {
  const w = await webhook({ policyText: `policies:\n${rule('**')}unmatched: allow\n` });
  const unsigned = pod(podSpec([img.unsigned!]));
  const tamper = (edit: (req: Record<string, unknown>) => void) => {
    const r = review('Pod', unsigned);
    edit(r.request as Record<string, unknown>);
    return r;
  };
  try {
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ['no operation', tamper((q) => delete q.operation), /operation null is not CREATE/],
      ['operation PATCH', tamper((q) => (q.operation = 'PATCH')), /operation "PATCH"/],
      ['operation create', tamper((q) => (q.operation = 'create')), /operation "create"/],
      ['kind a string', tamper((q) => (q.kind = 'Pod')), /request\.kind/],
      ['kind missing', tamper((q) => delete q.kind), /request\.kind/],
      ['object a list', tamper((q) => (q.object = [unsigned])), /request\.object/],
      ['object missing', tamper((q) => delete q.object), /request\.object/],
      ['spec a list', review('Pod', { ...unsigned, spec: [podSpec([img.unsigned!])] }), /no pod spec/],
      ['template spec a list', review('Deployment', { metadata: { name: 'd' }, spec: { template: { spec: [] } } }), /no pod spec/],
    ];
    for (const [what, body, message] of cases) {
      const { status, json } = await w.admit(body);
      t.is(status, 200, what);
      t.false(json.response.allowed, what);
      t.regex(json.response.status.message, message, what);
    }
    t.true((await w.admit(review('Pod', unsigned, { operation: 'DELETE' }))).json.response.allowed, 'a DELETE is allowed');
    t.true((await w.admit(tamper((q) => (q.operation = 'CONNECT')))).json.response.allowed, 'a CONNECT is allowed');
    // The pods/ephemeralcontainers subresource of Kubernetes before 1.22 sends an EphemeralContainers object.
    const old = review('EphemeralContainers', { metadata: { name: 'p' }, ephemeralContainers: [{ name: 'debug', image: img.unsigned }] }, { operation: 'UPDATE' });
    const r = (await w.admit(old)).json.response;
    t.false(r.allowed);
    t.regex(r.status.message, /ephemeralContainers debug/);
  } finally {
    await w.close();
  }
});

test('a credential helper that hangs or fails denies the image within the deadline, in review form; the webhook answers meanwhile', async (t) => {
  let hung = 0;
  const w = await webhook({
    policyText: `policies:\n${rule('**')}`,
    deadlineMs: 800,
    credentialsFor: (registryHost) => {
      if (registryHost.startsWith('127.0.0.1')) {
        hung++;
        return new Promise(() => {}); // never answers
      }
      return Promise.reject(new Error('docker-credential-broken exited with 1'));
    },
  });
  try {
    const started = Date.now();
    const pending = w.admit(review('Pod', pod(podSpec([img.good!]))));
    t.is(await w.healthz(), 200, 'healthz answers while a review waits on the helper');
    const { status, json } = await pending;
    const took = Date.now() - started;
    t.is(status, 200);
    t.false(json.response.allowed);
    t.regex(json.response.status.message, /not verified within the webhook's deadline of 0.8 s/);
    // bounded by the deadline, not by the helper (which never answers); generous for a loaded CI machine
    t.true(took >= 700 && took < 10_000, `answered in ${took} ms`);
    t.is(hung, 1);
    const failed = (await w.admit(review('Pod', pod(podSpec(['localhost:1/x/y:v1']))))).json.response;
    t.false(failed.allowed);
    t.regex(failed.status.message, /registry credentials: docker-credential-broken exited with 1/);
  } finally {
    await w.close();
  }
});

test('a registry that never answers: the review is denied at the deadline and its connections are dropped', async (t) => {
  const sockets = new Set<Socket>();
  const blackhole: Server = createServer((s) => {
    sockets.add(s);
    s.resume(); // reads, so the client's closing is seen
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => blackhole.listen(0, '127.0.0.1', r));
  const bh = `127.0.0.1:${(blackhole.address() as { port: number }).port}`;
  const w = await webhook({ policyText: `policies:\n${rule('**')}`, deadlineMs: 600 });
  try {
    const started = Date.now();
    const { json } = await w.admit(review('Pod', pod(podSpec([`${bh}/app:v1`, `${bh}/app:v2`]))));
    const took = Date.now() - started;
    t.false(json.response.allowed);
    t.regex(json.response.status.message, /not verified within the webhook's deadline of 0.6 s/);
    t.true(took < 10_000, `answered in ${took} ms, against a registry timeout of 15 s`);
    for (let i = 0; i < 50 && sockets.size > 0; i++) await new Promise((r) => setTimeout(r, 20));
    t.is(sockets.size, 0, 'the requests to the registry were aborted');
  } finally {
    await w.close();
    for (const s of sockets) s.destroy();
    await new Promise((r) => blackhole.close(r));
  }
});

test('work is bounded: a repeated image is fetched once, and images are verified a few at a time across requests', async (t) => {
  let inFlight = 0;
  let most = 0;
  const manifests: string[] = [];
  const counting: typeof fetch = async (input, init) => {
    const url = String(input instanceof Request ? input.url : input);
    if (url.includes('/manifests/')) manifests.push(url);
    inFlight++;
    most = Math.max(most, inFlight);
    try {
      await new Promise((r) => setTimeout(r, 5));
      return await fetch(input, init);
    } finally {
      inFlight--;
    }
  };
  const w = await webhook({ policyText: `policies:\n${rule('**')}`, fetch: counting, limiter: new Limiter(2) });
  try {
    const same = Array.from({ length: 50 }, () => img.good!);
    t.true((await w.admit(review('Pod', pod(podSpec(same))))).json.response.allowed);
    t.is(manifests.filter((u) => u.endsWith('/hard/good/manifests/v1')).length, 1, 'fifty containers of one image: one tag resolution');
    const missing = (n: number) => Array.from({ length: 12 }, (_, i) => `${registry.host}/hard/missing${n}-${i}:v1`);
    const answers = await Promise.all([1, 2, 3].map(async (n) => (await w.admit(review('Pod', pod(podSpec(missing(n)))))).json.response));
    for (const a of answers) {
      t.false(a.allowed);
      t.is((a.status.message.match(/not found in the registry/g) ?? []).length, 12);
    }
    t.true(most <= 2, `at most ${most} registry requests at once for 36 images in 3 requests, with 2 images at a time`);
  } finally {
    await w.close();
  }
});

test('--mutate pins tags on UPDATE and on the ephemeral containers subresource too', async (t) => {
  const w = await webhook({ policyText: `policies:\n${rule(`${registry.host}/**`)}` });
  try {
    const update = (await w.admit(review('Pod', pod(podSpec([img.good!])), { operation: 'UPDATE' }), '/mutate')).json.response;
    t.deepEqual(JSON.parse(Buffer.from(update.patch, 'base64').toString()), [{ op: 'replace', path: '/spec/containers/0/image', value: `${registry.host}/hard/good@${digests.good}` }]);
    const debug = review('Pod', pod(podSpec([`${registry.host}/hard/good@${digests.good}`], [], [img.data!])), { operation: 'UPDATE' });
    Object.assign(debug.request as object, { subResource: 'ephemeralcontainers' });
    const eph = (await w.admit(debug, '/mutate')).json.response;
    t.deepEqual(JSON.parse(Buffer.from(eph.patch, 'base64').toString()), [{ op: 'replace', path: '/spec/ephemeralContainers/0/image', value: `${registry.host}/hard/data@${digests.data}` }]);
  } finally {
    await w.close();
  }
});

test('a credential helper that hangs for one registry does not hold the verification slots other registries need', async (t) => {
  const w = await webhook({
    policyText: `policies:\n${rule('**')}`,
    // the stuck review's deadline leaves the other review seconds to be verified, even on a loaded machine
    deadlineMs: 8000,
    limiter: new Limiter(2),
    credentialsFor: async (host) => (host.startsWith('localhost') ? new Promise(() => {}) : undefined),
  });
  try {
    let stuckAnswered = false;
    const stuck = w.admit(review('Pod', pod(podSpec([`localhost:${port}/hard/a:v1`, `localhost:${port}/hard/b:v1`, `localhost:${port}/hard/c:v1`]))));
    stuck.then(() => (stuckAnswered = true), () => {});
    await new Promise((r) => setTimeout(r, 100));
    const other = (await w.admit(review('Pod', pod(podSpec([img.good!]))))).json.response;
    // Allowed, so verified before the deadline, while the three stuck images were still waiting.
    t.true(other.allowed, JSON.stringify(other));
    t.false(stuckAnswered, 'the other review did not wait for the stuck one');
    const { json } = await stuck;
    t.false(json.response.allowed);
    t.regex(json.response.status.message, /deadline/);
  } finally {
    await w.close();
  }
});

test('a registry document over the size limit is refused before it is read whole', async (t) => {
  let served = 0;
  const huge: typeof fetch = async (input, init) => {
    const url = String(input instanceof Request ? input.url : input);
    if (url.includes('/hard/huge/manifests/')) {
      served++;
      const body = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: {}, layers: Array.from({ length: 400_000 }, () => ({})) });
      return new Response(body, { status: 200, headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' } });
    }
    return fetch(input, init);
  };
  const w = await webhook({ policyText: `policies:\n${rule('**')}`, fetch: huge });
  try {
    const r = (await w.admit(review('Pod', pod(podSpec([`${registry.host}/hard/huge:v1`]))))).json.response;
    t.false(r.allowed);
    t.regex(r.status.message, /1048576/);
    t.is(served, 1);
  } finally {
    await w.close();
  }
});

test('--mutate on UPDATE pins only the images the update changes, and never image volumes', async (t) => {
  const w = await webhook({ policyText: `policies:\n${rule(`${registry.host}/**`)}` });
  const before = pod({ ...podSpec([img.good!, img.data!]), volumes: [{ name: 'v', image: { reference: img.data } }] });
  const update = (after: Record<string, unknown>) => {
    const r = review('Pod', after, { operation: 'UPDATE' });
    (r.request as Record<string, unknown>).oldObject = before;
    return r;
  };
  try {
    const labelOnly = (await w.admit(update(structuredClone(before)), '/mutate')).json.response;
    t.true(labelOnly.allowed);
    t.is(labelOnly.patch, undefined, 'nothing changed: nothing pinned (a new image would restart the container)');
    const changed = structuredClone(before) as { spec: { containers: { image: string }[] } };
    changed.spec.containers[1]!.image = img.good!;
    const one = (await w.admit(update(changed), '/mutate')).json.response;
    t.deepEqual(JSON.parse(Buffer.from(one.patch, 'base64').toString()), [{ op: 'replace', path: '/spec/containers/1/image', value: `${registry.host}/hard/good@${digests.good}` }]);
    const debug = structuredClone(before) as Record<string, any>;
    debug.spec.ephemeralContainers = [{ name: 'debug', image: img.good }];
    const eph = (await w.admit(update(debug), '/mutate')).json.response;
    t.deepEqual(JSON.parse(Buffer.from(eph.patch, 'base64').toString()), [{ op: 'replace', path: '/spec/ephemeralContainers/0/image', value: `${registry.host}/hard/good@${digests.good}` }]);
  } finally {
    await w.close();
  }
});
