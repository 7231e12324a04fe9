import test from 'ava';
import { VerificationError } from '../../core/errors.ts';
import { generateSigner } from '../../core/signer.ts';
import { inWindow, parseSigningConfig, parseTrustedRoot, SIGNING_CONFIG_MEDIA_TYPE } from '../../client/trusted-root.ts';
import { createVerifier } from '../../client/verify/index.ts';
import { caCert, TestPki } from './pki-fixture.ts';

const pki = new TestPki();
type Json = Record<string, any>;
const root = (): Json => structuredClone(pki.trustedRoot());

function refused(t: any, json: unknown, message: RegExp): void {
  const err = t.throws(() => parseTrustedRoot(json), { instanceOf: VerificationError });
  t.is(err.code, 'TRUSTED_ROOT');
  t.regex(err.message, message);
}

test('a well-formed trusted root becomes trust material: verified CA chain, logs indexed by log id', (t) => {
  const trust = parseTrustedRoot(JSON.stringify(pki.trustedRoot()));
  t.is(trust.cas.length, 1);
  t.deepEqual(trust.cas[0]!.chain.map((c) => c.cert.der), [pki.intermediateDer, pki.rootDer]);
  t.is(trust.tlogs.get(pki.rekor.keyId.toString('hex'))?.host, pki.rekorHost);
  t.is(trust.ctlogs.get(pki.ct.keyId.toString('hex'))?.baseUrl, 'https://ct.test.example');
  t.is(trust.tlogs.get(pki.rekor.keyId.toString('hex'))?.validFor.end, Infinity);
});

test('the media type must be exactly trusted root v0.1', (t) => {
  refused(t, { ...root(), mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.2' }, /mediaType/);
  refused(t, 'not json', /JSON/);
  refused(t, [], /object/);
});

test('TOB-SIGSTORE-5: a missing validFor.start is an error, not "since forever"', (t) => {
  refused(t, pki.trustedRoot({ caStart: null }), /certificateAuthorities\[0\]: validFor.start is missing/);
  const r = root();
  delete r.tlogs[0].publicKey.validFor;
  refused(t, r, /tlogs\[0\]: validFor.start is missing/);
  const r2 = root();
  r2.ctlogs[0].publicKey.validFor = { end: new Date().toISOString() };
  refused(t, r2, /ctlogs\[0\]: validFor.start is missing/);
  const r3 = root();
  r3.ctlogs[0].publicKey.validFor.start = 'yesterday';
  refused(t, r3, /not a valid time/);
});

test('TOB-SIGSTORE-5: the end of a validity window is inclusive', (t) => {
  const end = Date.parse('2030-01-01T00:00:00Z');
  t.true(inWindow({ start: 0, end }, end));
  t.false(inWindow({ start: 0, end }, end + 1));
  t.true(inWindow({ start: 5, end }, 5));
  t.false(inWindow({ start: 5, end }, 4));
  const r = root();
  r.ctlogs[0].publicKey.validFor.end = '2030-01-01T00:00:00Z';
  t.is(parseTrustedRoot(r).ctlogs.values().next().value!.validFor.end, end);
});

test('sigstore-rust e7d92a0: duplicate, malformed or mismatched log ids are errors, not skipped', (t) => {
  const dup = root();
  dup.tlogs.push(structuredClone(dup.tlogs[0]));
  refused(t, dup, /duplicate log id/);
  const short = root();
  short.ctlogs[0].logId.keyId = Buffer.alloc(31).toString('base64');
  refused(t, short, /32 bytes/);
  const missing = root();
  delete missing.tlogs[0].logId;
  refused(t, missing, /32 bytes/);
  const other = root();
  other.tlogs[0].logId.keyId = generateSigner().keyId.toString('base64');
  refused(t, other, /not the SHA-256 of its public key/);
});

test('log keys must be SPKI of exactly the declared key details, and base URLs http(s)', (t) => {
  // A P-256 key labelled RSA (other key types: trusted-root-keys.test.ts).
  const rsa = root();
  rsa.tlogs[0].publicKey.keyDetails = 'PKIX_RSA_PKCS1V15_2048_SHA256';
  refused(t, rsa, /not the PKIX_RSA_PKCS1V15_2048_SHA256 key its keyDetails says/);
  const junk = root();
  junk.ctlogs[0].publicKey.rawBytes = Buffer.from('junk').toString('base64');
  refused(t, junk, /not a DER public key/);
  const url = root();
  url.tlogs[0].baseUrl = 'ftp://rekor.example';
  refused(t, url, /http/);
});

test('CA chains are verified once: order, signatures, CA flags and a self-signed root', (t) => {
  const swapped = root();
  swapped.certificateAuthorities[0].certChain.certificates.reverse();
  refused(t, swapped, /pathLenConstraint|not issued by the next one/);
  const noRoot = root();
  noRoot.certificateAuthorities[0].certChain.certificates.pop();
  refused(t, noRoot, /not issued by the next one|does not verify/);
  // An "intermediate" with the right name but signed by a different key than the root's.
  const forged = caCert(generateSigner(), { cn: 'intermediate', issuer: { signer: generateSigner(), cn: 'root' }, notBefore: new Date(0), notAfter: new Date(Date.now() + 1e9) });
  const bad = root();
  bad.certificateAuthorities[0].certChain.certificates[0].rawBytes = forged.toString('base64');
  refused(t, bad, /signature on certificate 0 does not verify/);
  const garbage = root();
  garbage.certificateAuthorities[0].certChain.certificates[0].rawBytes = Buffer.from('garbage').toString('base64');
  refused(t, garbage, /certificate 0: not a DER X.509 certificate/);
  const empty = root();
  empty.certificateAuthorities[0].certChain.certificates = [];
  refused(t, empty, /certChain is empty/);
});

test('createVerifier needs a CA, a transparency log and a CT log', (t) => {
  for (const key of ['certificateAuthorities', 'tlogs', 'ctlogs']) {
    const r = root();
    r[key] = [];
    t.throws(() => createVerifier(r), { instanceOf: VerificationError, message: /no (certificate authority|transparency log|CT log)/ });
  }
});

test('signing_config.json v0.2: the CA and log valid now, API version 1', (t) => {
  const since = new Date(Date.now() - 1000).toISOString();
  const service = (url: string, extra: Json = {}) => ({ url, majorApiVersion: 1, validFor: { start: since }, operator: 'x', ...extra });
  const config = {
    mediaType: SIGNING_CONFIG_MEDIA_TYPE,
    caUrls: [service('https://old-ca.example', { validFor: { start: '2000-01-01T00:00:00Z', end: '2001-01-01T00:00:00Z' } }), service('https://ca.example/')],
    rekorTlogUrls: [service('https://rekor-v2.example', { majorApiVersion: 2 }), service('https://rekor.example')],
    rekorTlogConfig: { selector: 'ANY' },
  };
  t.deepEqual(parseSigningConfig(config), { caUrl: 'https://ca.example', rekorUrl: 'https://rekor.example' });
  t.deepEqual(parseSigningConfig(JSON.stringify(config)), { caUrl: 'https://ca.example', rekorUrl: 'https://rekor.example' });
  t.throws(() => parseSigningConfig({ ...config, mediaType: 'application/vnd.dev.sigstore.signingconfig.v0.1+json' }), { message: /mediaType/ });
  t.throws(() => parseSigningConfig({ ...config, caUrls: [] }), { message: /no CA/ });
  t.throws(() => parseSigningConfig({ ...config, rekorTlogUrls: [config.rekorTlogUrls[0]] }), { message: /no transparency log/ });
});
