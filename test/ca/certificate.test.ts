import test from 'ava';
import fc from 'fast-check';
import { generateKeyPairSync, sign, webcrypto, X509Certificate as NodeX509 } from 'node:crypto';
import 'reflect-metadata'; // @peculiar/x509 (tsyringe) needs the Reflect metadata API
import * as x509 from '@peculiar/x509';
import { generateSigner } from '../../core/signer.ts';
import { createCaHierarchy } from '../../ca/hierarchy.ts';
import { randomSerial } from '../../ca/certificate.ts';
import { startOidcIssuer, type OidcIssuer } from '../helpers/oidc.ts';
import { serveCa, verifyEmbeddedScts, type ServedCa } from './fixtures.ts';

/** The certificate profile per identity type, the CSR path, and the CA hierarchy, checked with @peculiar/x509 and node:crypto. */

let uriIdp: OidcIssuer;
let userIdp: OidcIssuer;
let ghIdp: OidcIssuer;
let mailIdp: OidcIssuer;
let ca: ServedCa;

test.before(async () => {
  [uriIdp, userIdp, ghIdp, mailIdp] = await Promise.all([startOidcIssuer(), startOidcIssuer(), startOidcIssuer({ algorithm: 'RS256' }), startOidcIssuer()]);
  const entry = (i: OidcIssuer, type: string, extra: Record<string, unknown> = {}) => [i.issuer, { IssuerURL: i.issuer, ClientID: 'sigstore', Type: type, ...extra }];
  ca = await serveCa({
    OIDCIssuers: Object.fromEntries([
      entry(uriIdp, 'uri', { SubjectDomain: 'http://127.0.0.1' }),
      entry(userIdp, 'username', { SubjectDomain: '127.0.0.1' }),
      entry(ghIdp, 'github-workflow'),
      entry(mailIdp, 'email'),
    ]),
  });
});
test.after.always(async () => {
  await ca?.close();
  await Promise.all([uriIdp, userIdp, ghIdp, mailIdp].map((i) => i?.close()));
});

async function signingCert(body: unknown) {
  const res = await fetch(`${ca.url}/api/v2/signingCert`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: await res.json() as any };
}

async function issueFor(token: string, name: string) {
  const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const res = await signingCert({
    credentials: { oidcIdentityToken: token },
    publicKeyRequest: { publicKey: { content: keys.publicKey.export({ type: 'spki', format: 'pem' }) }, proofOfPossession: sign('sha256', Buffer.from(name), keys.privateKey).toString('base64') },
  });
  if (res.status !== 200) throw new Error(`${res.status} ${JSON.stringify(res.json)}`);
  const pems: string[] = res.json.signedCertificateEmbeddedSct.chain.certificates;
  return { leaf: new x509.X509Certificate(pems[0]!), pems };
}

function checkCommonProfile(t: any, leaf: x509.X509Certificate, pems: string[]) {
  t.is(leaf.subject, '');
  t.is(leaf.notAfter.getTime() - leaf.notBefore.getTime(), 600_000);
  t.true(new NodeX509(pems[0]!).verify(new NodeX509(pems[1]!).publicKey));
  t.true(verifyEmbeddedScts(Buffer.from(leaf.rawData), Buffer.from(new x509.X509Certificate(pems[1]!).rawData), ca.ctLog.signer));
  t.deepEqual([...leaf.extensions].slice(0, 5).map((e) => [e.type, e.critical]), [
    ['2.5.29.15', true], ['2.5.29.37', false], ['2.5.29.14', false], ['2.5.29.35', false], ['2.5.29.17', true],
  ]);
}

test('uri identity: URI SAN = sub', async (t) => {
  const sub = 'http://127.0.0.1/users/alice';
  const { leaf, pems } = await issueFor(await uriIdp.mint({ sub }), sub);
  checkCommonProfile(t, leaf, pems);
  t.deepEqual(leaf.getExtension(x509.SubjectAlternativeNameExtension)!.names.toJSON(), [{ type: 'url', value: sub }]);
  t.is(new NodeX509(pems[0]!).subjectAltName, `URI:${sub}`);
});

test('username identity: critical OtherName SAN 1.3.6.1.4.1.57264.1.7 holding a UTF8String', async (t) => {
  const { leaf, pems } = await issueFor(await userIdp.mint({ sub: 'alice' }), 'alice');
  checkCommonProfile(t, leaf, pems);
  const san = Buffer.from(leaf.getExtension('2.5.29.17')!.value);
  // GeneralNames { [0] otherName { OID 1.3.6.1.4.1.57264.1.7, [0] EXPLICIT UTF8String "alice!127.0.0.1" } }
  const value = Buffer.from('alice!127.0.0.1');
  const oid = Buffer.from('060a2b0601040183bf300107', 'hex');
  const explicit = Buffer.concat([Buffer.from([0xa0, value.length + 2, 0x0c, value.length]), value]);
  const otherName = Buffer.concat([Buffer.from([0xa0, oid.length + explicit.length]), oid, explicit]);
  t.deepEqual(san, Buffer.concat([Buffer.from([0x30, otherName.length]), otherName]));
});

test('github-workflow identity: workflow URI SAN and provenance extensions, from an RS256 issuer', async (t) => {
  const claims = {
    sub: 'repo:o/r:ref:refs/heads/main', job_workflow_ref: 'o/r/.github/workflows/release.yml@refs/heads/main', job_workflow_sha: '1'.repeat(40),
    sha: '2'.repeat(40), event_name: 'push', repository: 'o/r', workflow: 'Release', ref: 'refs/heads/main', runner_environment: 'self-hosted',
    repository_id: '1', repository_owner: 'o', repository_owner_id: '2', repository_visibility: 'public',
    workflow_ref: 'o/r/.github/workflows/release.yml@refs/heads/main', workflow_sha: '3'.repeat(40), run_id: '9', run_attempt: '1',
  };
  const { leaf, pems } = await issueFor(await ghIdp.mint(claims), claims.sub);
  checkCommonProfile(t, leaf, pems);
  t.deepEqual(leaf.getExtension(x509.SubjectAlternativeNameExtension)!.names.toJSON(), [{ type: 'url', value: 'https://github.com/o/r/.github/workflows/release.yml@refs/heads/main' }]);
  const text = (oid: string) => Buffer.from(leaf.getExtension(oid)!.value);
  t.deepEqual(text('1.3.6.1.4.1.57264.1.2'), Buffer.from('push'));
  t.deepEqual(text('1.3.6.1.4.1.57264.1.11'), Buffer.from('\x0c\x0bself-hosted', 'latin1'));
  const runUrl = 'https://github.com/o/r/actions/runs/9/attempts/1';
  t.deepEqual(text('1.3.6.1.4.1.57264.1.21'), Buffer.concat([Buffer.from([0x0c, runUrl.length]), Buffer.from(runUrl)]));
  const oids = [...leaf.extensions].map((e) => e.type).filter((o) => o.startsWith('1.3.6.1.4.1.57264.'));
  t.deepEqual(oids, [1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 24].map((n) => `1.3.6.1.4.1.57264.1.${n}`));
});

async function p256Csr(withExtras: boolean, curve = 'P-256') {
  const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: curve }, true, ['sign', 'verify']) as CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: withExtras ? 'CN=mallory, O=Evil Corp' : '',
    keys,
    signingAlgorithm: { name: 'ECDSA', hash: curve === 'P-256' ? 'SHA-256' : 'SHA-384' },
    extensions: withExtras ? [
      new x509.SubjectAlternativeNameExtension([{ type: 'email', value: 'mallory@evil.example' }, { type: 'dns', value: 'evil.example' }]),
      new x509.BasicConstraintsExtension(true, 5, true),
    ] : [],
  });
  return { keys, pem: csr.toString('pem'), der: Buffer.from(csr.rawData) };
}

test('fulcio#863: a CSR only lends its key; its subject, SANs and extensions are never copied', async (t) => {
  const { keys, pem } = await p256Csr(true);
  const token = await mailIdp.mint({ email: 'alice@example.com', email_verified: true });
  const res = await signingCert({ credentials: { oidcIdentityToken: token }, certificateSigningRequest: Buffer.from(pem).toString('base64') });
  t.is(res.status, 200);
  const leaf = new x509.X509Certificate(res.json.signedCertificateEmbeddedSct.chain.certificates[0]);
  t.is(leaf.subject, '');
  t.deepEqual(leaf.getExtension(x509.SubjectAlternativeNameExtension)!.names.toJSON(), [{ type: 'email', value: 'alice@example.com' }]);
  t.is(leaf.getExtension(x509.BasicConstraintsExtension), null);
  const leafKey = Buffer.from(await webcrypto.subtle.exportKey('spki', await leaf.publicKey.export()));
  t.deepEqual(leafKey, Buffer.from(await webcrypto.subtle.exportKey('spki', keys.publicKey)));
});

test('a CSR with a broken self-signature, a P-384 key or garbage is a 400', async (t) => {
  const token = await mailIdp.mint({ email: 'alice@example.com', email_verified: true });
  const { der } = await p256Csr(false);
  der[der.length - 3] ^= 0x01; // inside the signature
  const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
  const bad = await signingCert({ credentials: { oidcIdentityToken: token }, certificateSigningRequest: Buffer.from(tampered).toString('base64') });
  t.is(bad.status, 400);
  t.regex(bad.json.message, /signature supplied in the request could not be verified/);
  const p384 = await p256Csr(false, 'P-384');
  const r384 = await signingCert({ credentials: { oidcIdentityToken: token }, certificateSigningRequest: Buffer.from(p384.pem).toString('base64') });
  t.is(r384.status, 400);
  t.regex(r384.json.message, /only ECDSA P-256/);
  const junk = await signingCert({ credentials: { oidcIdentityToken: token }, certificateSigningRequest: Buffer.from('hello').toString('base64') });
  t.is(junk.status, 400);
  t.regex(junk.json.message, /certificate signing request could not be parsed/);
});

test('createCaHierarchy: a self-signed root (pathLen 1) and a code-signing intermediate (pathLen 0) inside it', (t) => {
  const rootSigner = generateSigner();
  const intermediateSigner = generateSigner();
  const now = new Date('2030-01-01T00:00:00Z');
  const { rootDer, intermediateDer } = createCaHierarchy({ rootSigner, intermediateSigner, organization: 'Acme', now });
  const root = new x509.X509Certificate(new Uint8Array(rootDer));
  const inter = new x509.X509Certificate(new Uint8Array(intermediateDer));
  t.is(root.subject, 'O=Acme, CN=Acme root');
  t.is(inter.subject, 'O=Acme, CN=Acme intermediate');
  t.is(inter.issuer, root.subject);
  t.deepEqual(root.notBefore, now);
  t.deepEqual(root.notAfter, new Date('2040-01-01T00:00:00Z'));
  t.true(inter.notAfter < root.notAfter);
  const rbc = root.getExtension(x509.BasicConstraintsExtension)!;
  t.true(rbc.critical && rbc.ca && rbc.pathLength === 1);
  const ibc = inter.getExtension(x509.BasicConstraintsExtension)!;
  t.true(ibc.critical && ibc.ca && ibc.pathLength === 0);
  for (const c of [root, inter]) {
    const ku = c.getExtension(x509.KeyUsagesExtension)!;
    t.true(ku.critical);
    t.is(ku.usages, x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign);
    t.is(c.signatureAlgorithm.name, 'ECDSA');
  }
  t.deepEqual([...inter.getExtension(x509.ExtendedKeyUsageExtension)!.usages], [x509.ExtendedKeyUsage.codeSigning]);
  t.is(inter.getExtension(x509.AuthorityKeyIdentifierExtension)!.keyId, root.getExtension(x509.SubjectKeyIdentifierExtension)!.keyId);
  const nodeRoot = new NodeX509(rootDer);
  t.true(nodeRoot.verify(rootSigner.publicKey));
  t.true(new NodeX509(intermediateDer).verify(rootSigner.publicKey));
  t.true(new NodeX509(intermediateDer).publicKey.equals(intermediateSigner.publicKey));
  t.true(nodeRoot.ca);
  // Dates from 2050 on must be GeneralizedTime (RFC 5280 4.1.2.5); node:crypto parses both.
  const late = createCaHierarchy({ rootSigner, intermediateSigner, now: new Date('2045-06-01T00:00:00Z') });
  t.is(new NodeX509(late.rootDer).validTo, 'Jun  1 00:00:00 2055 GMT');
});

test('serial numbers are 20 octets, positive and minimally encoded (property)', (t) => {
  t.notThrows(() => fc.assert(fc.property(fc.integer(), () => {
    const s = Buffer.from(randomSerial());
    return s.length === 20 && s[0]! >= 0x01 && s[0]! <= 0x7f;
  }), { numRuns: 500 }));
});
