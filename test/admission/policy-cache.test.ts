import test from 'ava';
import { findRule, narrow, parsePolicy, PolicyError } from '../../admission/policy.ts';
import { podImages, podSpecOf } from '../../admission/pod-images.ts';
import { VerdictCache } from '../../admission/verdict-cache.ts';
import { cachedCredentials } from '../../admission/registry-credentials.ts';
import { parseReference as parseReferenceSync, repositoryAliases as repositoryAliasesSync } from '../../client/oci/reference.ts';

test('verdict cache: bounded (least recently used goes first) and entries expire after the TTL', (t) => {
  let now = 0;
  const c = new VerdictCache(2, 1000, () => now);
  const v = { allowed: true, message: 'ok' };
  c.set('a', v);
  c.set('b', v);
  t.deepEqual(c.get('a'), v); // a is now the most recently used
  c.set('c', v);
  t.is(c.get('b'), undefined, 'b was the least recently used');
  t.deepEqual(c.get('a'), v);
  now = 1000;
  t.is(c.get('a'), undefined, 'expired');
  t.is(c.size, 1);
});

test('policy: globs on namespace and repository, first match wins; bad files are refused', (t) => {
  const p = parsePolicy(`
policies:
  - namespaces: [prod]
    images: ["reg.io/team/*"]
    identity: a@x.com
    issuer: https://i
  - images: ["reg.io/**"]
    identityRegexp: '.*@x\\.com'
    issuer: https://i
`);
  t.is(findRule(p, 'prod', ['reg.io/team/app'])?.policy.identity, 'a@x.com');
  t.is(findRule(p, 'prod', ['reg.io/team/app/sub'])?.policy.identityRegexp, '.*@x\\.com', '* is one path segment');
  t.is(findRule(p, 'dev', ['reg.io/team/app'])?.policy.identityRegexp, '.*@x\\.com');
  t.is(findRule(p, 'dev', ['reg.io.evil.net/team/app']), undefined);
  t.is(p.unmatched, 'deny');
  for (const bad of ['policies: [{identity: a, issuer: b, extra: 1}]', 'policies: [{identity: a, identityRegexp: b, issuer: c}]', 'nope: 1', 'policies: [{identity: a, issuer: b, attestations: [bogus]}]']) {
    t.throws(() => parsePolicy(bad), { instanceOf: PolicyError }, bad);
  }
});

test('annotations narrow: must satisfy the rule, then become exact', (t) => {
  t.deepEqual(narrow({ identityRegexp: '.*@x\\.com', issuer: 'https://i' }, 'a@x.com', undefined), { identity: 'a@x.com', identityRegexp: undefined, issuer: 'https://i' });
  t.throws(() => narrow({ identityRegexp: '.*@x\\.com', issuer: 'https://i' }, 'a@y.com', undefined), { instanceOf: PolicyError });
  t.throws(() => narrow({ identity: 'a@x.com', issuer: 'https://i' }, undefined, 'https://other'), { instanceOf: PolicyError });
});

test('pod images: every container list, with JSON pointers; other kinds have none', (t) => {
  const spec = { containers: [{ name: 'a', image: 'x' }], initContainers: [{ name: 'i', image: 'y' }], ephemeralContainers: [{ name: 'e', image: 'z' }] };
  const at = podSpecOf('StatefulSet', { spec: { template: { metadata: { annotations: { k: 'v', n: 1 } }, spec } } })!;
  t.deepEqual(at.annotations, { k: 'v' });
  t.deepEqual(podImages(at).map((i) => i.pointer), ['/spec/template/spec/containers/0/image', '/spec/template/spec/initContainers/0/image', '/spec/template/spec/ephemeralContainers/0/image']);
  t.is(podSpecOf('Service', {}), undefined);
  t.throws(() => podImages(podSpecOf('Pod', { spec: { containers: [{ name: 'a' }] } })!));
  t.throws(() => podImages(podSpecOf('Pod', { spec: null })!));
});

test('registry credentials: one helper run per registry at a time and per TTL; a failure is remembered briefly, then retried', async (t) => {
  let now = 0;
  const calls: string[] = [];
  let fail = false;
  let release!: () => void;
  let gate = Promise.resolve();
  const lookup = cachedCredentials(async (registry: string) => {
    calls.push(registry);
    await gate;
    if (fail) throw new Error('helper failed');
    return { username: registry, password: 'pw' };
  }, { ttlMs: 1000, failureTtlMs: 100, now: () => now });
  gate = new Promise((r) => (release = r));
  const concurrent = [lookup('a'), lookup('a'), lookup('a')];
  release();
  t.deepEqual((await Promise.all(concurrent)).map((c) => c.username), ['a', 'a', 'a']);
  t.is((await lookup('a')).username, 'a');
  t.is((await lookup('b')).username, 'b');
  t.deepEqual(calls, ['a', 'b'], 'three concurrent images of one registry ran the helper once');
  now = 1000;
  fail = true;
  await t.throwsAsync(lookup('a'), { message: 'helper failed' });
  fail = false;
  await t.throwsAsync(lookup('a'), { message: 'helper failed' }, 'the failure is kept for its TTL: no run per image');
  t.deepEqual(calls, ['a', 'b', 'a']);
  now = 1100;
  t.is((await lookup('a')).username, 'a');
  t.deepEqual(calls, ['a', 'b', 'a', 'a']);
});

test('repository aliases: every spelling of the same registry, the default port of the scheme in use only', (t) => {
  const parseReference = parseReferenceSync;
  const repositoryAliases = repositoryAliasesSync;
  const names = (image: string, plainHttp = false) => {
    const ref = parseReference(image);
    return repositoryAliases(ref.registry, ref.repository, plainHttp);
  };
  t.deepEqual(names('LOCALHOST:05077/a:v1', true), ['localhost:5077/a']);
  t.deepEqual(names('127.1:5000/a'), ['127.0.0.1:5000/a', '127.1:5000/a']);
  t.true(names('[::ffff:7f00:1]:5077/a').includes('127.0.0.1:5077/a'), 'an IPv4-mapped IPv6 address is its IPv4 address');
  t.deepEqual(names('Reg.Internal/app'), ['reg.internal/app', 'reg.internal:443/app'], 'HTTPS: the port-less name is :443, never :80');
  t.deepEqual(names('reg.internal/app', true), ['reg.internal/app', 'reg.internal:80/app']);
  t.deepEqual(names('reg.internal:0443/app'), ['reg.internal:443/app', 'reg.internal/app']);
  // Docker Hub: one registry under all its names and cases, official images also by their short name.
  for (const image of ['nginx', 'docker.io/nginx', 'Docker.IO/library/nginx', 'registry-1.docker.io:443/library/nginx:1.25', 'REGISTRY-1.DOCKER.IO/library/nginx', 'index.docker.io:443/nginx']) {
    const n = names(image);
    t.is(n[0], 'index.docker.io/library/nginx', image);
    for (const alias of ['docker.io/nginx', 'docker.io/library/nginx', 'registry-1.docker.io/library/nginx', 'index.docker.io/nginx']) t.true(n.includes(alias), `${image}: ${alias}`);
  }
  t.false(names('myorg/app').includes('docker.io/app'), 'only library/ images have a short name');
});

test('rules see every spelling: a Hub image under a docker.io rule, a port-less HTTPS image under its :443 rule', (t) => {
  const p = parsePolicy(`
policies:
  - images: ["reg.internal:80/**"]
    identityRegexp: '.*'
    issuerRegexp: '.*'
  - images: ["reg.internal:443/**", "docker.io/**"]
    identity: release@example.com
    issuer: https://issuer.example.com
unmatched: allow
`);
  const rule = (image: string, plainHttp = false) => {
    const ref = parseReferenceSync(image);
    return findRule(p, 'prod', repositoryAliasesSync(ref.registry, ref.repository, plainHttp));
  };
  t.is(rule('reg.internal/app:v1')?.policy.identity, 'release@example.com', 'spoken to over HTTPS: the :443 rule');
  t.is(rule('REG.INTERNAL/app:v1')?.policy.identity, 'release@example.com');
  t.is(rule('reg.internal/app:v1', true)?.policy.identityRegexp, '.*', 'over plain HTTP: the :80 rule');
  for (const image of ['nginx', 'library/nginx:1', 'docker.io/library/nginx', 'registry-1.docker.io:443/library/nginx', 'myorg/app']) t.is(rule(image)?.policy.identity, 'release@example.com', image);
});
