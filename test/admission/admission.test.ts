/**
 * The admission webhook over TLS, with AdmissionReview requests shaped like the API server's: the real stack
 * signs, Debian's docker-registry stores, the webhook verifies offline against the trusted root.
 */
import 'reflect-metadata';
import test from 'ava';
import { Agent, fetch as undiciFetch } from 'undici';
import { attestImage, verifyImageAttestations } from '../../client/oci/attest.ts';
import { RegistryClient } from '../../client/oci/registry.ts';
import { signImage } from '../../client/oci/sign-image.ts';
import { createVerifier } from '../../client/verify/index.ts';
import { parsePolicy, PolicyError, type AdmissionPolicy } from '../../admission/policy.ts';
import { startAdmissionServer, type RunningAdmissionServer } from '../../admission/server.ts';
import { VerdictCache } from '../../admission/verdict-cache.ts';
import { startStack, TEST_EMAIL, type TestStack } from '../helpers/stack.ts';
import { pushRandomImage, startRegistry, type TestRegistry } from '../oci/registry-helper.ts';
import { cronJob, deployment, pod, podSpec, review, selfSignedTls } from './fixtures.ts';

let stack: TestStack;
let registry: TestRegistry;
let server: RunningAdmissionServer;
let cache: VerdictCache;
let serverPolicy: AdmissionPolicy;
let agent: Agent;
const img: Record<string, string> = {};
const digests: Record<string, string> = {};

test.before(async () => {
  [stack, registry] = await Promise.all([startStack(), startRegistry()]);
  const client = new RegistryClient({ registry: registry.host });
  const sign = async (name: string, email = TEST_EMAIL) => {
    digests[name] = await pushRandomImage(client, `adm/${name}`, 'v1');
    img[name] = `${registry.host}/adm/${name}:v1`;
    if (email) await signImage({ image: img[name]!, identityToken: await stack.mintToken({ email, sub: email }), fulcioUrl: stack.url, rekorUrl: stack.url });
  };
  await sign('good');
  await sign('other');
  await sign('bob', 'bob@example.com');
  await sign('unsigned', '');
  await sign('attested');
  await attestImage({ image: img.attested!, predicate: { builder: { id: 'ci' } }, type: 'slsaprovenance', identityToken: await stack.mintToken(), fulcioUrl: stack.url, rekorUrl: stack.url });
  serverPolicy = parsePolicy(`
policies:
  - namespaces: [prod]
    images: ["${registry.host}/adm/**"]
    identity: ${TEST_EMAIL}
    issuer: ${stack.issuer}
  - namespaces: ["team-*"]
    images: ["${registry.host}/**"]
    identityRegexp: '.*@example\\.com'
    issuer: ${stack.issuer}
  - namespaces: [strict]
    identity: ${TEST_EMAIL}
    issuer: ${stack.issuer}
    attestations: [slsaprovenance]
`);
  cache = new VerdictCache(100, 60_000);
  const tls = await selfSignedTls();
  server = await startAdmissionServer({ ...tls, host: '127.0.0.1', port: 0, policy: serverPolicy, verifier: createVerifier(stack.trustedRoot), cache, mutate: true });
  agent = new Agent({ connect: { ca: tls.cert } });
});
test.after.always(async () => {
  await server?.close();
  await agent?.close();
  await stack?.close();
  await registry?.close();
});

async function admit(body: unknown, path = '/validate'): Promise<{ status: number; json: any }> {
  const res = await undiciFetch(`${server.url}${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' }, dispatcher: agent });
  return { status: res.status, json: await res.json() };
}

test.serial('a pod of signed images is allowed; the uid is echoed', async (t) => {
  const r = review('Pod', pod(podSpec([img.good!], [img.other!])));
  const { status, json } = await admit(r);
  t.is(status, 200);
  t.is(json.apiVersion, 'admission.k8s.io/v1');
  t.is(json.kind, 'AdmissionReview');
  t.is(json.response.uid, (r.request as { uid: string }).uid);
  t.true(json.response.allowed, JSON.stringify(json));
  t.is(json.response.patch, undefined, '/validate never patches');
});

test.serial('unsigned and wrongly signed images are denied, naming the image and the failed check', async (t) => {
  const unsigned = (await admit(review('Pod', pod(podSpec([img.unsigned!]))))).json.response;
  t.false(unsigned.allowed);
  t.is(unsigned.status.code, 403);
  t.regex(unsigned.status.message, new RegExp(`image ${img.unsigned!.replace(/[.:/]/g, '\\$&')} .*no signatures found`));
  const bob = (await admit(review('Pod', pod(podSpec([img.bob!]))))).json.response;
  t.false(bob.allowed);
  t.regex(bob.status.message, /none of the expected identities matched.*bob@example\.com/);
});

test.serial('only the initContainer is wrong: denied; ephemeral containers and workload templates are checked too', async (t) => {
  const init = (await admit(review('Pod', pod(podSpec([img.good!], [img.bob!]))))).json.response;
  t.false(init.allowed);
  t.regex(init.status.message, /initContainers init0/);
  t.false((await admit(review('Pod', pod(podSpec([img.good!], [], [img.unsigned!]))))).json.response.allowed);
  t.false((await admit(review('Deployment', deployment(podSpec([img.good!], [img.unsigned!]))))).json.response.allowed);
  t.true((await admit(review('Deployment', deployment(podSpec([img.good!]))))).json.response.allowed);
  t.true((await admit(review('CronJob', cronJob(podSpec([img.good!]))))).json.response.allowed);
  t.false((await admit(review('CronJob', cronJob(podSpec([img.bob!]))))).json.response.allowed);
  t.true((await admit(review('ConfigMap', { metadata: { name: 'x' }, data: {} }))).json.response.allowed, 'no pod spec, nothing to check');
  t.true((await admit(review('Pod', pod(podSpec([img.unsigned!])), { operation: 'DELETE' }))).json.response.allowed);
});

test.serial('annotations narrow the policy, never widen it', async (t) => {
  const ann = (subject: string) => ({ 'subject.cosign.sigstore.dev/app0': subject });
  // team-*: any @example.com identity; the annotation pins it to alice, so bob's image is refused.
  t.true((await admit(review('Pod', pod(podSpec([img.bob!])), { namespace: 'team-a' }))).json.response.allowed);
  t.false((await admit(review('Pod', pod(podSpec([img.bob!]), ann(TEST_EMAIL)), { namespace: 'team-a' }))).json.response.allowed);
  t.true((await admit(review('Pod', pod(podSpec([img.good!]), ann(TEST_EMAIL)), { namespace: 'team-a' }))).json.response.allowed);
  // prod: alice only; an annotation naming bob would widen it and is refused even for bob's own image.
  const widen = (await admit(review('Pod', pod(podSpec([img.bob!]), ann('bob@example.com'))))).json.response;
  t.false(widen.allowed);
  t.regex(widen.status.message, /outside the namespace policy/);
  t.throws(() => parsePolicy('policies: [{identity: a}]'), { instanceOf: PolicyError });
});

test.serial('unmatched namespaces are denied; required attestations are enforced', async (t) => {
  const none = (await admit(review('Pod', pod(podSpec([img.good!])), { namespace: 'elsewhere' }))).json.response;
  t.false(none.allowed);
  t.regex(none.status.message, /no policy/);
  const missing = (await admit(review('Pod', pod(podSpec([img.good!])), { namespace: 'strict' }))).json.response;
  t.false(missing.allowed);
  t.regex(missing.status.message, /no attestations found/);
  t.true((await admit(review('Pod', pod(podSpec([img.attested!])), { namespace: 'strict' }))).json.response.allowed);
});

test.serial('a required attestation type is not satisfied by valid attestations of other types (GHSA-739f-hw6h-7wq8)', async (t) => {
  // strict requires SLSA provenance (v0.2) by alice. Each image is signed by alice and carries an SPDX SBOM and a
  // custom-type attestation, both by alice and valid; they differ only in their SLSA provenance.
  const client = new RegistryClient({ registry: registry.host });
  const image = async (name: string, provenanceBy?: string) => {
    await pushRandomImage(client, `adm739f/${name}`, 'v1');
    const ref = `${registry.host}/adm739f/${name}:v1`;
    const as = async (email: string) => ({ identityToken: await stack.mintToken({ email, sub: email }), fulcioUrl: stack.url, rekorUrl: stack.url });
    await signImage({ image: ref, ...await as(TEST_EMAIL) });
    await attestImage({ image: ref, predicate: { spdxVersion: 'SPDX-2.3' }, type: 'spdx', ...await as(TEST_EMAIL) });
    await attestImage({ image: ref, predicate: { result: 'pass' }, type: 'https://example.com/test-result/v1', ...await as(TEST_EMAIL) });
    if (provenanceBy) await attestImage({ image: ref, predicate: { builder: { id: 'ci' } }, type: 'slsaprovenance', ...await as(provenanceBy) });
    return ref;
  };
  const [otherTypes, untrustedProvenance, withProvenance] = await Promise.all([image('other-types'), image('untrusted-provenance', 'bob@example.com'), image('with-provenance', TEST_EMAIL)]);
  const strict = async (ref: string) => (await admit(review('Pod', pod(podSpec([ref])), { namespace: 'strict' }))).json.response;

  // The other attestations are valid for the rule's identity: only the required type is missing.
  const policy = { identity: TEST_EMAIL, issuer: stack.issuer };
  const trust = createVerifier(stack.trustedRoot).trust;
  for (const type of ['spdx', 'https://example.com/test-result/v1']) t.is((await verifyImageAttestations({ image: otherTypes, type, trust, policy })).attestations.length, 1, type);
  const denied = await strict(otherTypes);
  t.false(denied.allowed, JSON.stringify(denied));
  t.is(denied.status.code, 403);
  t.regex(denied.status.message, /is not admitted: no attestations of type https:\/\/slsa\.dev\/provenance\/v0\.2 found for \S+adm739f\/other-types@sha256:[0-9a-f]{64} \(2 of other types\)/);
  // Provenance of the required type, but by an identity the rule does not trust, next to valid other types.
  const untrusted = await strict(untrustedProvenance);
  t.false(untrusted.allowed, JSON.stringify(untrusted));
  t.regex(untrusted.status.message, /none of the expected identities matched.*bob@example\.com/);
  // Control: the same kind of image with alice's SLSA provenance is admitted.
  const admitted = await strict(withProvenance);
  t.true(admitted.allowed, JSON.stringify(admitted));
});

test.serial('--mutate answers a JSON patch pinning each tag to the verified digest', async (t) => {
  const { json } = await admit(review('Pod', pod(podSpec([img.good!], [`${registry.host}/adm/other@${digests.other}`]))), '/mutate');
  t.true(json.response.allowed);
  t.is(json.response.patchType, 'JSONPatch');
  const patch = JSON.parse(Buffer.from(json.response.patch, 'base64').toString());
  t.deepEqual(patch, [{ op: 'replace', path: '/spec/containers/0/image', value: `${registry.host}/adm/good@${digests.good}` }]);
});

test.serial('verdicts are cached by digest and policy; latency cached vs uncached', async (t) => {
  const body = () => review('Pod', pod(podSpec([img.good!])));
  t.true((await admit(body())).json.response.allowed);
  const before = cache.hits;
  t.true((await admit(body())).json.response.allowed);
  t.true(cache.hits > before, 'the second look at the same digest under the same policy is a cache hit');
  // The same webhook with a cache whose verdicts expire at once: every admission verifies afresh.
  const tls = await selfSignedTls();
  const uncachedServer = await startAdmissionServer({ ...tls, host: '127.0.0.1', port: 0, policy: serverPolicy, verifier: createVerifier(stack.trustedRoot), cache: new VerdictCache(1, 0), mutate: false });
  const uncachedAgent = new Agent({ connect: { ca: tls.cert } });
  const runs = 10;
  const time = async (url: string, dispatcher: Agent) => {
    const t0 = performance.now();
    const res = await undiciFetch(`${url}/validate`, { method: 'POST', body: JSON.stringify(body()), dispatcher });
    const json = await res.json() as { response: { allowed: boolean } };
    t.true(json.response.allowed);
    return performance.now() - t0;
  };
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const cached: number[] = [];
  const uncached: number[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      cached.push(await time(server.url, agent));
      uncached.push(await time(uncachedServer.url, uncachedAgent));
    }
  } finally {
    await uncachedServer.close();
    await uncachedAgent.close();
  }
  t.log(`admission latency, median of ${runs} (one pod, one image, HTTPS round trip included): cached ${median(cached).toFixed(1)} ms, uncached ${median(uncached).toFixed(1)} ms`);
});

test('malformed requests are 400s', async (t) => {
  t.is((await admit({ kind: 'AdmissionReview' })).status, 400);
  t.is((await admit({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: '' } })).status, 400);
  const res = await undiciFetch(`${server.url}/validate`, { method: 'POST', body: '{', dispatcher: agent });
  t.is(res.status, 400);
  await res.body?.cancel();
});
