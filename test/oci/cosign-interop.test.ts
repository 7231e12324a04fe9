/**
 * What cosign itself writes, we accept: a `.sig` manifest written by `cosign sign` (keyless, public-good
 * Sigstore, February 2026; published in salrashid123/go-bazel-github-workflow's README) verified offline against
 * the public-good trusted_root.json that ships in @sigstore/tuf's seeds, and our payload is cosign's byte for byte.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import test from 'ava';
import { checkSimpleSigningPayload, simpleSigningPayload } from '../../client/oci/cosign-layout.ts';
import { sha256Digest } from '../../client/oci/registry.ts';
import { verifyCosignSignature } from '../../client/verify/cosign.ts';
import { createVerifier } from '../../client/verify/index.ts';

const manifest = JSON.parse(readFileSync(new URL('./fixtures/cosign-keyless-sig-manifest.json', import.meta.url), 'utf8'));
const layer = manifest.layers[0];
const a = layer.annotations as Record<string, string>;
const IMAGE = 'sha256:d454b76c23edb9f9abf0541257dc0e92ee9c16df25d4676ec0946f6beae12ef5'; // from the .sig tag
const payload = simpleSigningPayload('index.docker.io/salrashid123/server_image', IMAGE);

/** The public-good trusted root exactly as shipped (its Ed25519 Rekor v2 log is set aside by the parser, not refused). */
function publicGoodRoot(): { tlogs: { publicKey: { keyDetails: string } }[] } {
  const seeds = createRequire(import.meta.url)('@sigstore/tuf/seeds.json') as Record<string, { targets: Record<string, string> }>;
  return JSON.parse(Buffer.from(seeds['https://tuf-repo-cdn.sigstore.dev']!.targets['trusted_root.json']!, 'base64').toString());
}

test('the public-good trusted root is read whole: its Ed25519 Rekor v2 log is set aside by name, the others are used', (t) => {
  const root = publicGoodRoot();
  t.true(root.tlogs.some((l) => l.publicKey.keyDetails === 'PKIX_ED25519'), 'the fixture still lists an Ed25519 log');
  const trust = createVerifier(root).trust;
  t.true([...trust.unusableLogs.values()].some((why) => /PKIX_ED25519 is not supported/.test(why)));
  t.true(trust.tlogs.size > 0);
});

const sig = (over: Partial<Record<string, string>> = {}) => ({
  payload, signature: a['dev.cosignproject.cosign/signature']!, certificate: a['dev.sigstore.cosign/certificate']!,
  chain: a['dev.sigstore.cosign/chain'], bundle: a['dev.sigstore.cosign/bundle'], ...over,
});
const policy = { identity: 'salrashid123@gmail.com', issuer: 'https://github.com/login/oauth' };

test('our simple-signing payload is byte for byte the one cosign signed (the layer digest)', (t) => {
  t.is(payload.length, layer.size);
  t.is(sha256Digest(payload), layer.digest);
  t.is(checkSimpleSigningPayload(payload, IMAGE).critical.type, 'cosign container image signature');
});

test('a cosign-written keyless signature verifies offline against the public-good trusted root', (t) => {
  const trust = createVerifier(publicGoodRoot()).trust;
  const r = verifyCosignSignature(trust, sig(), policy);
  t.is(r.identity, 'salrashid123@gmail.com');
  t.is(r.logIndex, 919437390);
  t.true(r.checks.some((c) => c.includes('https://rekor.sigstore.dev')));
  t.is((t.throws(() => verifyCosignSignature(trust, sig(), { ...policy, identity: 'someone@else.com' })) as { code?: string }).code, 'IDENTITY');
  t.is((t.throws(() => verifyCosignSignature(trust, { ...sig(), payload: simpleSigningPayload('index.docker.io/salrashid123/server_image', `sha256:${'0'.repeat(64)}`) }, policy)) as { code?: string }).code, 'TLOG_BODY');
});
