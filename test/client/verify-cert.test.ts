/**
 * The verifier on fixture bundles: certificate chain, SCTs, signature, the certificate cache, and malformed
 * input in general. Advisory rows are named in the test titles.
 */
import test from 'ava';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { id_kp_serverAuth } from '@peculiar/asn1-x509';
import { bundleFromJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import { VerificationError } from '../../core/errors.ts';
import { generateSigner } from '../../core/signer.ts';
import { createVerifier } from '../../client/verify/index.ts';
import { parseCertificate } from '../../client/verify/x509.ts';
import { caCert, EMAIL, ext, GeneralName, ISSUER, refuses, TestPki, Utf8Value } from './pki-fixture.ts';

const pki = new TestPki();
const verifier = createVerifier(pki.trustedRoot(), { now: () => pki.now });
const policy = { identity: EMAIL, issuer: ISSUER };
const artifact = Buffer.from('release 2.0');
const run = (bundle: unknown, v = verifier) => v.verify({ artifact, bundle, policy });
type Json = Record<string, any>;

test('the fixture is right: @sigstore/verify accepts its bundles with its trusted root (SCT and tlog checks on)', (t) => {
  const stock = new Verifier(toTrustMaterial(TrustedRoot.fromJSON(pki.trustedRoot())), { ctlogThreshold: 1, tlogThreshold: 1 });
  const signer = stock.verify(toSignedEntity(bundleFromJSON(pki.sign(artifact)), artifact), { subjectAlternativeName: EMAIL, extensions: { issuer: ISSUER } });
  t.is(signer.identity?.subjectAlternativeName, EMAIL);
});

test('a leaf from a CA the trusted root does not list is refused, even with the same names', (t) => {
  const signer = generateSigner();
  const rogueLeaf = new TestPki().leaf(signer);
  refuses(t, () => run(pki.sign(artifact, { leafSigner: signer, leafDer: rogueLeaf })), 'CHAIN', /not issued by a trusted certificate authority/);
});

test('GHSA-wfqv-66vq-46rm: an intermediate that expired before the integrated time is refused, though the leaf is valid', (t) => {
  const expiring = new TestPki({ intermediateNotAfter: new Date(Date.now() - 40_000) });
  const v = createVerifier(expiring.trustedRoot(), { now: () => expiring.now });
  refuses(t, () => run(expiring.sign(artifact), v), 'CHAIN', /CA certificate 0 .* not valid at the integrated time/);
});

test('sigstore-go#277: the CA validity window is checked at the integrated time', (t) => {
  const v = createVerifier(pki.trustedRoot({ caStart: new Date(pki.now - 10_000).toISOString() }), { now: () => pki.now });
  refuses(t, () => run(pki.sign(artifact), v), 'CHAIN', /certificate authority .* not valid at the integrated time/);
});

test('the leaf must be a code-signing end-entity certificate with no unknown critical extension', (t) => {
  refuses(t, () => run(pki.sign(artifact, { eku: [id_kp_serverAuth] })), 'CHAIN', /codeSigning/);
  const critical = ext('1.2.3.4.5', true, Buffer.from([5, 0]));
  refuses(t, () => run(pki.sign(artifact, { extraExtensions: [critical] })), 'CHAIN', /unknown critical extension/);
  const poison = ext('1.3.6.1.4.1.11129.2.4.3', true, Buffer.from([5, 0]));
  refuses(t, () => run(pki.sign(artifact, { extraExtensions: [poison] })), 'CHAIN', /precertificate/);
  refuses(t, () => run(pki.sign(artifact, { leafDer: Buffer.from('not a certificate') })), 'CHAIN', /not a DER X.509 certificate/);
});

test('v0.2 bundles (the stock signer) verify when their chain is the trusted one, and are refused otherwise', (t) => {
  const b: Json = pki.sign(artifact);
  const leaf = b.verificationMaterial.certificate;
  const v02 = (certs: Buffer[]): Json => {
    const c = structuredClone(b);
    c.mediaType = 'application/vnd.dev.sigstore.bundle+json;version=0.2';
    delete c.verificationMaterial.certificate;
    c.verificationMaterial.x509CertificateChain = { certificates: [leaf, ...certs.map((d) => ({ rawBytes: d.toString('base64') }))] };
    return c;
  };
  t.is(run(v02([])).identity, EMAIL);
  t.is(run(v02([pki.intermediateDer, pki.rootDer])).identity, EMAIL);
  refuses(t, () => run(v02([pki.rootDer])), 'CHAIN', /differs from the trusted CA chain/);
  refuses(t, () => run({ ...v02([]), mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json' }), 'BUNDLE', /x509CertificateChain: not allowed in a v0.3/);
  refuses(t, () => run({ ...b, mediaType: 'application/vnd.dev.sigstore.bundle+json;version=0.2' }), 'BUNDLE', /certificate: not allowed in a v0.2/);
});

test('an embedded SCT from a trusted CT log is required', (t) => {
  refuses(t, () => run(pki.sign(artifact, { noSct: true })), 'SCT', /no embedded SCT/);
  refuses(t, () => run(pki.sign(artifact, { ctSigner: generateSigner() })), 'SCT', /no SCT from a trusted CT log/);
});

test('sigstore-go#350: an SCT whose time is outside its CT log key validity does not count', (t) => {
  const notYet = createVerifier(pki.trustedRoot({ ctStart: new Date(pki.now - 10_000).toISOString() }), { now: () => pki.now });
  refuses(t, () => run(pki.sign(artifact, { sctTime: pki.now - 20_000 }), notYet), 'SCT', /no SCT from a trusted CT log valid at its timestamp/);
  const ended = createVerifier(pki.trustedRoot({ ctEnd: new Date(pki.now - 50_000).toISOString() }), { now: () => pki.now });
  refuses(t, () => run(pki.sign(artifact, { sctTime: pki.now - 40_000 }), ended), 'SCT', /valid at its timestamp/);
  // TOB-SIGSTORE-5: the end is inclusive.
  t.is(run(pki.sign(artifact, { sctTime: pki.now - 50_000 }), ended).identity, EMAIL);
});

test('sigstore-python#1659: SCT extension bytes are part of the signed data', (t) => {
  t.is(run(pki.sign(artifact, { sctExtensions: Buffer.from([1, 2, 3]) })).identity, EMAIL);
});

test('an SCT that does not verify for this certificate fails the bundle', (t) => {
  refuses(t, () => run(pki.sign(artifact, { sctIssuerKey: Buffer.alloc(32, 1) })), 'SCT', /does not verify/);
});

test('sigstore-rust 53ca181: the SCT issuer is the one that verified the chain, not one found by name', (t) => {
  // A second intermediate with the same subject name as the first, under the same root.
  const twin = generateSigner();
  const twinDer = caCert(twin, { cn: 'intermediate', issuer: { signer: pki.root, cn: 'root' }, notBefore: new Date(pki.now - 86_400_000), notAfter: new Date(pki.now + 86_400_000), pathLen: 0 });
  const v = createVerifier(pki.trustedRoot({ extraCaChains: [[twinDer, pki.rootDer]] }), { now: () => pki.now });
  t.is(run(pki.sign(artifact, { issuerSigner: twin }), v).identity, EMAIL);
  t.is(run(pki.sign(artifact), v).identity, EMAIL);
  // An SCT over the name-twin's key while the leaf was issued by the first intermediate.
  const wrongIssuer = createHash('sha256').update(twin.publicKeyDer).digest();
  refuses(t, () => run(pki.sign(artifact, { sctIssuerKey: wrongIssuer }), v), 'SCT', /does not verify/);
});

test('the signature must verify over the artifact with the certificate key', (t) => {
  refuses(t, () => run(pki.sign(artifact, { signature: generateSigner().sign(artifact) })), 'SIGNATURE');
  const signer = generateSigner();
  refuses(t, () => run(pki.sign(artifact, { leafSigner: signer, signature: signer.sign(Buffer.from('something else')) })), 'SIGNATURE');
});

test('CVE-2022-21449: an ECDSA signature with r = s = 0 is refused', (t) => {
  const zero = Buffer.from('3006020100020100', 'hex');
  refuses(t, () => run(pki.sign(artifact, { signature: zero })), 'SIGNATURE');
});

test('identity policy is enforced on verified bundles', (t) => {
  const b = pki.sign(artifact);
  refuses(t, () => verifier.verify({ artifact, bundle: b, policy: { identity: 'bob@example.com', issuer: ISSUER } }), 'IDENTITY');
  refuses(t, () => verifier.verify({ artifact, bundle: b, policy: { identity: EMAIL, issuer: 'https://other.example' } }), 'ISSUER');
  refuses(t, () => verifier.verify({ artifact, bundle: b, policy: { identityRegexp: 'alice', issuer: ISSUER } }), 'IDENTITY');
  refuses(t, () => verifier.verify({ artifact, bundle: b, policy: { identity: EMAIL } }), 'POLICY');
});

test('one certificate, many signatures: the cached certificate state never turns a failure into a success', (t) => {
  const signer = generateSigner();
  const leafDer = pki.leaf(signer);
  const v = createVerifier(pki.trustedRoot(), { now: () => pki.now });
  for (const name of ['a', 'b', 'c']) {
    const art = Buffer.from(name);
    t.is(v.verify({ artifact: art, bundle: pki.sign(art, { leafSigner: signer, leafDer }), policy }).identity, EMAIL);
  }
  const bad = pki.sign(artifact, { leafSigner: signer, leafDer, signature: signer.sign(Buffer.from('x')) });
  refuses(t, () => run(bad, v), 'SIGNATURE');
  const rogueLeaf = new TestPki().leaf(signer);
  for (let i = 0; i < 2; i++) refuses(t, () => run(pki.sign(artifact, { leafSigner: signer, leafDer: rogueLeaf }), v), 'CHAIN');
  // The same leaf under a trusted root where its CA is not yet valid: the cached chain does not skip the time check.
  const later = createVerifier(pki.trustedRoot({ caStart: new Date(pki.now - 10_000).toISOString() }), { now: () => pki.now });
  refuses(t, () => run(pki.sign(artifact, { leafSigner: signer, leafDer }), later), 'CHAIN');
});

test('the precertificate TBS re-encoding is exact: the lazy schema round-trips, SCTs verify for leaves of many shapes', (t) => {
  const repo = ext('1.3.6.1.4.1.57264.1.12', false, AsnConvert.serialize(new Utf8Value('https://github.com/acme/app')));
  const shapes = [{}, { issuerV1: ISSUER }, { extraExtensions: [repo] }, { san: new GeneralName({ uniformResourceIdentifier: 'https://github.com/acme/app/.github/workflows/r.yml@refs/tags/v1' }) }];
  for (const shape of shapes) {
    const leafDer = pki.leaf(generateSigner(), shape);
    const cert = parseCertificate(leafDer);
    t.true(Buffer.from(AsnConvert.serialize(cert.asn.tbsCertificate)).equals(cert.tbsDer));
    t.is(verifier.verify({ artifact, bundle: pki.sign(artifact, shape), policy: { identityRegexp: '.+', issuer: ISSUER } }).issuer, ISSUER);
  }
  for (const der of [pki.rootDer, pki.intermediateDer]) {
    const cert = parseCertificate(der);
    t.true(Buffer.from(AsnConvert.serialize(cert.asn.tbsCertificate)).equals(cert.tbsDer));
  }
});

test('sigstore-js#1722: malformed input of any shape is a VerificationError, never a stray exception', (t) => {
  const good: Json = pki.sign(artifact);
  const values = fc.oneof(fc.constant(null), fc.boolean(), fc.integer(), fc.double(), fc.string(), fc.base64String(), fc.array(fc.string(), { maxLength: 3 }), fc.object({ maxDepth: 1 }));
  const paths: string[][] = [];
  const walk = (v: unknown, p: string[]) => {
    paths.push(p);
    if (v && typeof v === 'object') for (const [k, c] of Object.entries(v)) walk(c, [...p, k]);
  };
  walk(good, []);
  fc.assert(fc.property(fc.integer({ min: 1, max: paths.length - 1 }), values, fc.boolean(), (i, value, remove) => {
    const b = structuredClone(good);
    const path = paths[i]!;
    const parent = path.slice(0, -1).reduce((o: any, k) => o[k], b);
    if (remove) delete parent[path.at(-1)!];
    else parent[path.at(-1)!] = value;
    try {
      run(b);
    } catch (e) {
      if (!(e instanceof VerificationError)) throw e;
    }
  }), { numRuns: 300 });
  for (const junk of [null, 42, 'not json', '{"mediaType":', [], Buffer.from([0xff, 0xfe])]) refuses(t, () => run(junk), 'BUNDLE');
  refuses(t, () => verifier.verify({ artifact: 'text' as never, bundle: good, policy }), 'POLICY');
});
