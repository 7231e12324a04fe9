import test from 'ava';
import fc from 'fast-check';
import { createHash, generateKeyPairSync, sign, X509Certificate as NodeX509 } from 'node:crypto';
import 'reflect-metadata'; // @peculiar/x509 (tsyringe) needs the Reflect metadata API
import * as x509 from '@peculiar/x509';
import type { OidcIssuer } from '../helpers/oidc.ts';
import { serveCa, serveEmailCa, tbsWithout, verifyEmbeddedScts, POISON_OID, SCT_LIST_OID, type ServedCa } from './fixtures.ts';

/** The Fulcio v2 REST API over real HTTP, with a real OIDC issuer and an honest CT log. */

let idp: OidcIssuer;
let ca: ServedCa;
let served: Awaited<ReturnType<typeof serveEmailCa>> | undefined;
test.before(async () => ({ idp, ca } = served = await serveEmailCa()));
test.after.always(() => served?.close());

function p256() {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' });
}

function publicKeyRequest(token: string, subject: string, keys = p256()) {
  return {
    credentials: { oidcIdentityToken: token },
    publicKeyRequest: {
      publicKey: { algorithm: 'ECDSA', content: keys.publicKey.export({ type: 'spki', format: 'pem' }) },
      proofOfPossession: sign('sha256', Buffer.from(subject), keys.privateKey).toString('base64'),
    },
  };
}

async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${ca.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text, headers: res.headers };
}

const emailClaims = { sub: 'alice-id', email: 'alice@example.com', email_verified: true };

test('issues an email certificate with the Fulcio profile and a valid embedded SCT', async (t) => {
  const keys = p256();
  const token = await idp.mint(emailClaims);
  const before = Date.now();
  const res = await post('/api/v2/signingCert', publicKeyRequest(token, 'alice@example.com', keys));
  t.is(res.status, 200);
  t.deepEqual(Object.keys(res.json), ['signedCertificateEmbeddedSct']);
  const pems: string[] = res.json.signedCertificateEmbeddedSct.chain.certificates;
  t.is(pems.length, 3);

  const leaf = new x509.X509Certificate(pems[0]!);
  const [leafNode, interNode, rootNode] = pems.map((p) => new NodeX509(p));
  t.true(leafNode!.verify(interNode!.publicKey));
  t.true(interNode!.verify(rootNode!.publicKey));
  t.true(leafNode!.checkIssued(interNode!));
  t.true(leafNode!.publicKey.equals(keys.publicKey));
  t.is(leaf.subject, '');
  t.is(leaf.notAfter.getTime() - leaf.notBefore.getTime(), 10 * 60 * 1000);
  t.true(Math.abs(leaf.notBefore.getTime() - before) < 5000);
  t.regex(leaf.serialNumber, /^[0-7][0-9a-f]{39}$/);

  const san = leaf.getExtension(x509.SubjectAlternativeNameExtension)!;
  t.true(san.critical);
  t.deepEqual(san.names.toJSON(), [{ type: 'email', value: 'alice@example.com' }]);
  const ku = leaf.getExtension(x509.KeyUsagesExtension)!;
  t.true(ku.critical);
  t.is(ku.usages, x509.KeyUsageFlags.digitalSignature);
  t.deepEqual([...leaf.getExtension(x509.ExtendedKeyUsageExtension)!.usages], [x509.ExtendedKeyUsage.codeSigning]);
  const interCert = new x509.X509Certificate(pems[1]!);
  t.is(leaf.getExtension(x509.AuthorityKeyIdentifierExtension)!.keyId, interCert.getExtension(x509.SubjectKeyIdentifierExtension)!.keyId);
  const spkiBits = Buffer.from(new x509.PublicKey(keys.publicKey.export({ type: 'spki', format: 'der' })).rawData).subarray(-65);
  t.is(leaf.getExtension(x509.SubjectKeyIdentifierExtension)!.keyId, createHash('sha1').update(spkiBits).digest('hex'));
  t.is(leaf.issuer, interCert.subject);

  const ext = (oid: string) => Buffer.from(leaf.getExtension(oid)!.value);
  t.deepEqual(ext('1.3.6.1.4.1.57264.1.1'), Buffer.from(idp.issuer));
  t.deepEqual(ext('1.3.6.1.4.1.57264.1.8'), Buffer.concat([Buffer.from([0x0c, idp.issuer.length]), Buffer.from(idp.issuer)]));
  t.deepEqual(ext('1.3.6.1.4.1.57264.1.24'), Buffer.concat([Buffer.from([0x0c, 8]), Buffer.from('alice-id')]));
  t.is(leaf.getExtension(POISON_OID), null);
  // The SCT list is the last extension, and it verifies against the PreCert entry rebuilt from this TBS.
  t.is(leaf.extensions.at(-1)!.type, '1.3.6.1.4.1.11129.2.4.2');
  const leafDer = Buffer.from(leaf.rawData);
  t.true(verifyEmbeddedScts(leafDer, Buffer.from(interCert.rawData), ca.ctLog.signer));
});

test('the chain sent to the CT log is [precertificate, intermediate, root] and matches the final certificate', async (t) => {
  const keys = p256();
  const token = await idp.mint(emailClaims);
  const res = await post('/api/v2/signingCert', publicKeyRequest(token, 'alice@example.com', keys));
  t.is(res.status, 200);
  // Other tests run alongside: find our precertificate by its (fresh) key.
  const chains = ca.ctLog.received.filter((c) => new NodeX509(c[0]!).publicKey.equals(keys.publicKey));
  t.is(chains.length, 1);
  const chain = chains[0]!;
  t.is(chain.length, 3);
  t.deepEqual(chain.slice(1), [ca.intermediateDer, ca.rootDer]);
  const pre = new x509.X509Certificate(new Uint8Array(chain[0]!));
  const fin = new x509.X509Certificate(res.json.signedCertificateEmbeddedSct.chain.certificates[0]);
  t.is(pre.serialNumber, fin.serialNumber);
  t.true(pre.getExtension(POISON_OID)!.critical);
  t.is(pre.extensions.at(-1)!.type, POISON_OID);
  // What CT verifiers check: final TBS minus SCT list == precertificate TBS minus poison, byte for byte.
  t.deepEqual(tbsWithout(Buffer.from(fin.rawData), SCT_LIST_OID).tbs, tbsWithout(chain[0]!, POISON_OID).tbs);
});

test('trustBundle and configuration answer as upstream', async (t) => {
  const bundle = await (await fetch(`${ca.url}/api/v2/trustBundle`)).json() as any;
  t.is(bundle.chains.length, 1);
  t.deepEqual(bundle.chains[0].certificates.map((p: string) => Buffer.from(new x509.X509Certificate(p).rawData)), [ca.intermediateDer, ca.rootDer]);
  const conf = await (await fetch(`${ca.url}/api/v2/configuration`)).json();
  t.deepEqual(conf, {
    issuers: [{
      issuerUrl: idp.issuer, audience: 'sigstore', challengeClaim: 'email', spiffeTrustDomain: '', issuerType: 'email',
      subjectDomain: '', skipEmailVerification: false,
    }],
  });
});

test('the token may come in an Authorization header instead of the body', async (t) => {
  const token = await idp.mint(emailClaims);
  const body = publicKeyRequest(token, 'alice@example.com') as Record<string, unknown>;
  delete body.credentials;
  t.is((await post('/api/v2/signingCert', body, { authorization: `Bearer ${token}` })).status, 200);
});

// Serial (ava runs serial tests first, alone) so that the CT log's call count is ours alone.
test.serial('bad tokens are 400 (as Fulcio v2: InvalidArgument) with a grpc-gateway error body, and nothing reaches the CT log', async (t) => {
  const calls = ca.ctLog.received.length;
  const cases = [
    await idp.mint({ ...emailClaims, aud: 'other' }),
    await idp.mint({ ...emailClaims, exp: Math.floor(Date.now() / 1000) - 10 }),
    await idp.mint(emailClaims, { signWith: 'stranger' }),
    await idp.mint(emailClaims, { signWith: 'none' }),
    await idp.mint(emailClaims, { signWith: 'hs256-public-key' }),
    await idp.mint({ ...emailClaims, email_verified: 'yes' }),
    await idp.mint({ ...emailClaims, email_verified: false }),
    'not-a-jwt',
  ];
  for (const token of cases) {
    const res = await post('/api/v2/signingCert', publicKeyRequest(token, 'alice@example.com'));
    t.is(res.status, 400, token);
    t.is(res.json.code, 3);
    t.is(typeof res.json.message, 'string');
    t.deepEqual(res.json.details, []);
  }
  t.is(ca.ctLog.received.length, calls);
});

test('a token of 10 MB of dots is refused at once by size, before any parsing', async (t) => {
  const res = await post('/api/v2/signingCert', publicKeyRequest('.'.repeat(10 * 1024 * 1024), 'x'));
  t.is(res.status, 413);
});

test('proof-of-possession and key problems are 400s that name the problem', async (t) => {
  const token = await idp.mint(emailClaims);
  const wrongSubject = await post('/api/v2/signingCert', publicKeyRequest(token, 'mallory@example.com'));
  t.is(wrongSubject.status, 400);
  t.regex(wrongSubject.json.message, /signature supplied in the request could not be verified/);
  t.is(wrongSubject.json.code, 3);

  const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const res384 = await post('/api/v2/signingCert', publicKeyRequest(token, 'alice@example.com', p384));
  t.is(res384.status, 400);
  t.regex(res384.json.message, /only ECDSA P-256 keys \(named curve, uncompressed point\) are accepted, got an ECDSA P-384 key/);

  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const resRsa = await post('/api/v2/signingCert', publicKeyRequest(token, 'alice@example.com', rsa as never));
  t.is(resRsa.status, 400);
  t.regex(resRsa.json.message, /RSA key of 2048 bits/);

  const garbage = publicKeyRequest(token, 'alice@example.com');
  garbage.publicKeyRequest.publicKey.content = '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n';
  t.is((await post('/api/v2/signingCert', garbage)).status, 400);
});

test('malformed requests are 400s naming the field', async (t) => {
  const token = await idp.mint(emailClaims);
  const r1 = await post('/api/v2/signingCert', { credentials: { oidcIdentityToken: token } });
  t.is(r1.status, 400);
  t.regex(r1.json.message, /publicKeyRequest or certificateSigningRequest/);
  const r2 = await post('/api/v2/signingCert', { credentials: { oidcIdentityToken: token }, publicKeyRequest: { publicKey: { content: 'x' }, proofOfPossession: '%%%' } });
  t.is(r2.status, 400);
  t.regex(r2.json.message, /proofOfPossession/);
  const r3 = await post('/api/v2/signingCert', [1, 2]);
  t.is(r3.status, 400);
});

test('when the CT log fails the answer is 503 and no certificate is returned', async (t) => {
  // A CA of its own: the shared one must keep its log working for the tests running alongside.
  const broken = await serveCa({ OIDCIssuers: { [idp.issuer]: { IssuerURL: idp.issuer, ClientID: 'sigstore', Type: 'email' } } });
  broken.ctLog.failWith = new Error('log is down');
  try {
    const token = await idp.mint(emailClaims);
    const res = await fetch(`${broken.url}/api/v2/signingCert`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(publicKeyRequest(token, 'alice@example.com')),
    });
    const text = await res.text();
    t.is(res.status, 503);
    t.is(JSON.parse(text).code, 14);
    t.false(text.includes('BEGIN CERTIFICATE'));
    t.is(broken.ctLog.received.length, 1);
  } finally {
    await broken.close();
  }
});

test('legacy v1 signingCert (cosign 2.x) answers 201 with a PEM chain; rootCert gives the bundle', async (t) => {
  const keys = p256();
  const token = await idp.mint(emailClaims);
  const res = await post('/api/v1/signingCert', {
    publicKey: { algorithm: 'ecdsa', content: Buffer.from(keys.publicKey.export({ type: 'spki', format: 'pem' })).toString('base64') },
    signedEmailAddress: sign('sha256', Buffer.from('alice@example.com'), keys.privateKey).toString('base64'),
  }, { authorization: `Bearer ${token}` });
  t.is(res.status, 201);
  t.regex(res.headers.get('content-type') ?? '', /application\/pem-certificate-chain/);
  const certs = res.text.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g)!;
  t.is(certs.length, 3);
  t.true(new NodeX509(certs[0]!).publicKey.equals(keys.publicKey));
  const root = await fetch(`${ca.url}/api/v1/rootCert`);
  t.is(root.status, 200);
  t.is((await root.text()).match(/BEGIN CERTIFICATE/g)!.length, 2);
});

test('CVE-2022-21449: a proof of possession with r = s = 0 is refused', async (t) => {
  const token = await idp.mint(emailClaims);
  const body = publicKeyRequest(token, 'alice@example.com');
  body.publicKeyRequest.proofOfPossession = Buffer.from('3006020100020100', 'hex').toString('base64');
  const res = await post('/api/v2/signingCert', body);
  t.is(res.status, 400);
  t.regex(res.json.message, /could not be verified/);
});

test('fulcio#526/#370: malformed bodies of any shape are 4xx, never a 500 (property)', async (t) => {
  const token = await idp.mint(emailClaims);
  const valid = publicKeyRequest(token, 'alice@example.com');
  const anything = fc.oneof(fc.constant(null), fc.boolean(), fc.integer(), fc.string({ maxLength: 20 }), fc.array(fc.constant(null), { maxLength: 2 }), fc.dictionary(fc.string({ maxLength: 5 }), fc.constant(null), { maxKeys: 2 }));
  // Replace one node of a valid request (or the whole body) with a value of another type.
  const paths = [[], ['credentials'], ['credentials', 'oidcIdentityToken'], ['publicKeyRequest'], ['publicKeyRequest', 'publicKey'],
    ['publicKeyRequest', 'publicKey', 'content'], ['publicKeyRequest', 'publicKey', 'algorithm'], ['publicKeyRequest', 'proofOfPossession'], ['certificateSigningRequest']];
  await t.notThrowsAsync(fc.assert(fc.asyncProperty(fc.constantFrom(...paths), anything, async (path, value) => {
    const body: any = structuredClone(valid);
    if (path.length === 0) {
      const res = await post('/api/v2/signingCert', value);
      return res.status >= 400 && res.status < 500;
    }
    let node = body;
    for (const key of path.slice(0, -1)) node = node[key];
    node[path.at(-1)!] = value;
    const res = await post('/api/v2/signingCert', body);
    // A few replacements leave a valid request (e.g. another algorithm value, which is ignored).
    return res.status === 200 || (res.status >= 400 && res.status < 500);
  }), { numRuns: 60 }));
});
