/**
 * The key a client asks to be certified is read as strictly as upstream reads it (Go's x509.ParsePKIXPublicKey and
 * x509.ParseCertificateRequest, cryptoutils' PEM types, protojson's enum names), where OpenSSL alone is lax: a
 * private key's PEM (OpenSSL derives its public key), a certificate's PEM, bytes after the DER, unused bits in a
 * BIT STRING, another outer tag, an unknown `algorithm`. Each is a 400 naming the problem, and nothing reaches the
 * CT log (so nothing is issued). Serial: the tests share one CA and count what its CT log receives.
 */
import test from 'ava';
import { createPublicKey, ECDH, generateKeyPairSync, sign, webcrypto } from 'node:crypto';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import * as asn1js from 'asn1js';
import { AsnConvert } from '@peculiar/asn1-schema';
import { SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import { CertificationRequest } from '@peculiar/asn1-csr';
import type { OidcIssuer } from '../helpers/oidc.ts';
import { serveCa, serveEmailCa, type ServedCa } from './fixtures.ts';

const EMAIL = 'alice@example.com';
const INFINITY = Buffer.from('3019301306072a8648ce3d020106082a8648ce3d03010703020000', 'hex');
let idp: OidcIssuer;
let ca: ServedCa;
let served: Awaited<ReturnType<typeof serveEmailCa>> | undefined;
test.before(async () => ({ idp, ca } = served = await serveEmailCa()));
test.after.always(() => served?.close());

const pem = (label: string, der: Buffer) => `-----BEGIN ${label}-----\n${der.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END ${label}-----\n`;

async function request(body: Record<string, unknown>) {
  const token = await idp.mint({ sub: EMAIL, email: EMAIL, email_verified: true });
  const res = await fetch(`${ca.url}/api/v2/signingCert`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ credentials: { oidcIdentityToken: token }, ...body }),
  });
  return { status: res.status, json: await res.json() as { message?: string } };
}

/** A publicKeyRequest for `content`, with a valid proof of possession by `keys`. */
function keyRequest(keys: ReturnType<typeof generateKeyPairSync>, content: string, algorithm?: unknown) {
  return {
    publicKeyRequest: {
      publicKey: { ...(algorithm === undefined ? {} : { algorithm }), content },
      proofOfPossession: sign('sha256', Buffer.from(EMAIL), keys.privateKey).toString('base64'),
    },
  };
}

/** Asserts a 400 whose message matches, and that the CT log was not asked for anything meanwhile. */
async function refused(t: import('ava').ExecutionContext, what: string, body: Record<string, unknown>, message: RegExp) {
  const sent = ca.ctLog.received.length;
  const res = await request(body);
  t.is(res.status, 400, `${what}: ${JSON.stringify(res.json)}`);
  t.regex(res.json.message ?? '', message, what);
  t.is(ca.ctLog.received.length, sent, `${what}: nothing sent to the CT log`);
}

test.serial('a public key must be one PUBLIC KEY PEM block or exactly one DER SubjectPublicKeyInfo', async (t) => {
  const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = keys.publicKey.export({ type: 'spki', format: 'der' });
  const notAccepted = /only ECDSA P-256 keys \(named curve, uncompressed point\) are accepted, got /;
  await refused(t, 'PKCS#8 private key', keyRequest(keys, keys.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string), /exactly one PUBLIC KEY block/);
  await refused(t, 'SEC1 private key', keyRequest(keys, keys.privateKey.export({ type: 'sec1', format: 'pem' }) as string), /exactly one PUBLIC KEY block/);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: 'CN=k', keys: await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']) as CryptoKeyPair,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
  });
  await refused(t, 'certificate', keyRequest(keys, cert.toString('pem')), /exactly one PUBLIC KEY block/);
  await refused(t, 'two PEM blocks', keyRequest(keys, pem('PUBLIC KEY', spki) + pem('PUBLIC KEY', spki)), /exactly one PUBLIC KEY block/);
  await refused(t, 'DER plus a byte', keyRequest(keys, Buffer.concat([spki, Buffer.from([0])]).toString('latin1')), notAccepted);
  await refused(t, 'PEM of DER plus a byte', keyRequest(keys, pem('PUBLIC KEY', Buffer.concat([spki, Buffer.from([0])]))), notAccepted);
  const unusedBits = Buffer.from(spki);
  t.deepEqual([...unusedBits.subarray(23, 26)], [0x03, 0x42, 0x00]); // the key's BIT STRING header
  unusedBits[25] = 2;
  await refused(t, 'BIT STRING with 2 unused bits', keyRequest(keys, pem('PUBLIC KEY', unusedBits)), notAccepted);

  // accepted: the canonical key as PEM and as DER
  t.is((await request(keyRequest(keys, pem('PUBLIC KEY', spki)))).status, 200);
  t.is((await request(keyRequest(keys, spki.toString('latin1')))).status, 200);
  // refused: a compressed point, which OpenSSL reads and Go's x509 (cosign, sigstore-go) cannot read in a certificate
  const parsed = AsnConvert.parse(spki, SubjectPublicKeyInfo);
  const compressed = ECDH.convertKey(spki.subarray(26), 'prime256v1', undefined, undefined, 'compressed') as Buffer;
  parsed.subjectPublicKey = new Uint8Array(compressed).buffer;
  const compressedSpki = Buffer.from(AsnConvert.serialize(parsed));
  t.is(compressedSpki.length, 59);
  t.notThrows(() => createPublicKey({ key: compressedSpki, format: 'der', type: 'spki' }));
  await refused(t, 'compressed point', keyRequest(keys, pem('PUBLIC KEY', compressedSpki)), notAccepted);
  // and the point at infinity, which OpenSSL imports and node then aborts the process on when asked about it
  await refused(t, 'point at infinity', keyRequest(keys, pem('PUBLIC KEY', INFINITY)), notAccepted);
  t.is((await request(keyRequest(keys, spki.toString('latin1')))).status, 200); // and the process lives on
});

test.serial('publicKey.algorithm must be a PublicKeyAlgorithm that can name a P-256 key', async (t) => {
  const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const content = keys.publicKey.export({ type: 'spki', format: 'pem' }) as string;
  for (const algorithm of ['EᔐDSA', 'ecdsa', '', 7, -1, 2.5]) {
    await refused(t, `algorithm ${JSON.stringify(algorithm)}`, keyRequest(keys, content, algorithm), /is not one of PUBLIC_KEY_ALGORITHM_UNSPECIFIED, RSA_PSS, ECDSA, ED25519/);
  }
  for (const algorithm of ['RSA_PSS', 'ED25519', 1, 3]) {
    await refused(t, `algorithm ${JSON.stringify(algorithm)}`, keyRequest(keys, content, algorithm), /only ECDSA P-256 keys are certified/);
  }
  for (const algorithm of ['ECDSA', 2, 'PUBLIC_KEY_ALGORITHM_UNSPECIFIED', 0, null]) {
    t.is((await request(keyRequest(keys, content, algorithm))).status, 200, JSON.stringify(algorithm));
  }
});

async function csrDer(): Promise<Buffer> {
  const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']) as CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: '', keys, signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } });
  return Buffer.from(csr.rawData);
}

const csrRequest = (der: Buffer) => ({ certificateSigningRequest: Buffer.from(pem('CERTIFICATE REQUEST', der)).toString('base64') });

test.serial('a CSR must be exactly one DER CertificationRequest', async (t) => {
  const der = await csrDer();
  t.is((await request(csrRequest(der))).status, 200);
  // a CSR whose key is the point at infinity is refused before its signature is even looked at (node would abort)
  const csr = AsnConvert.parse(der, CertificationRequest);
  csr.certificationRequestInfo.subjectPKInfo = AsnConvert.parse(INFINITY, SubjectPublicKeyInfo);
  await refused(t, 'CSR with the point at infinity', csrRequest(Buffer.from(AsnConvert.serialize(csr))), /only ECDSA P-256 keys \(named curve, uncompressed point\) are accepted/);
  t.is((await request(csrRequest(der))).status, 200); // and the process lives on
  const notExactly = /certificate signing request could not be parsed/;
  await refused(t, 'CSR plus two bytes', csrRequest(Buffer.concat([der, Buffer.from([0, 0])])), notExactly);
  const tag = Buffer.from(der);
  tag[0] = 0xa8;
  await refused(t, 'CSR with another outer tag', csrRequest(tag), notExactly);
  // the signature's BIT STRING, the last element: header 03 <len> then the unused-bits byte
  const outer = asn1js.fromBER(der).result as asn1js.Sequence;
  const signatureLength = (outer.valueBlock.value[2] as asn1js.BitString).valueBeforeDecodeView.byteLength;
  const at = der.length - signatureLength;
  t.is(der[at], 0x03);
  const bits = Buffer.from(der);
  bits[at + 2] = 2;
  await refused(t, 'CSR signature with 2 unused bits', csrRequest(bits), notExactly);
});
