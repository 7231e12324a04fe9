/**
 * client/verify/x509.ts reads certificates with asn1js directly (der.ts) instead of through asn1-schema's
 * Certificate model. What it reads must agree with that model on every certificate, and it must refuse what the
 * model refused and more: trailing bytes, times in forms RFC 5280 forbids, impossible dates.
 */
import test from 'ava';
import fc from 'fast-check';
import { ECDH, createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { AsnConvert, AsnParser } from '@peculiar/asn1-schema';
import {
  AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyIdentifier, KeyUsage, SubjectKeyIdentifier, id_ce_authorityKeyIdentifier,
  id_ce_basicConstraints, id_ce_extKeyUsage, id_ce_keyUsage, id_ce_subjectKeyIdentifier,
} from '@peculiar/asn1-x509';
import { VerificationError } from '../../core/errors.ts';
import { generateSigner, type Signer } from '../../core/signer.ts';
import { rawBytes } from '../../client/verify/certificate-schema.ts';
import { loadLeaf } from '../../client/verify/leaf.ts';
import { authorityKeyId, basicConstraints, extendedKeyUsage, keyUsage, parseCertificate, subjectKeyId } from '../../client/verify/x509.ts';
import { certificateIdentity } from '../../client/verify/identity.ts';
import { ext, name, signTbs, tbsOf, TestPki, Utf8Value } from './pki-fixture.ts';

const pki = new TestPki();
const subjectKey = generateSigner();

function certWith(extensions: ReturnType<typeof ext>[], o: { notAfter?: Date; publicKeyDer?: Buffer } = {}): Buffer {
  return signTbs(tbsOf({
    subject: name('subject'), issuer: name('intermediate'), issuerSigner: pki.intermediate, publicKeyDer: o.publicKeyDer ?? subjectKey.publicKeyDer,
    notBefore: new Date(pki.now), notAfter: o.notAfter ?? new Date(pki.now + 60_000), extensions,
  }), pki.intermediate);
}

test('every field read agrees with the asn1-schema model of the same certificate', (t) => {
  for (const der of [pki.rootDer, pki.intermediateDer, pki.leaf(generateSigner()), certWith([], { notAfter: new Date(Date.UTC(2051, 5, 1, 12, 30, 45)) })]) {
    const cert = parseCertificate(der);
    const tbs = cert.asn.tbsCertificate;
    t.deepEqual(cert.der, der);
    t.deepEqual(cert.tbsDer, Buffer.from(cert.asn.tbsCertificateRaw!));
    t.deepEqual(cert.issuerDer, rawBytes(tbs.issuer));
    t.deepEqual(cert.subjectDer, rawBytes(tbs.subject));
    t.deepEqual(cert.spkiDer, rawBytes(tbs.subjectPublicKeyInfo));
    t.deepEqual(cert.signature, Buffer.from(cert.asn.signatureValue));
    t.is(cert.notBefore, tbs.validity.notBefore.getTime().getTime());
    t.is(cert.notAfter, tbs.validity.notAfter.getTime().getTime());
    t.deepEqual([...cert.extensions].map(([oid, e]) => [oid, e.critical, e.value.toString('hex')]), Array.from(tbs.extensions ?? [], (e) => [e.extnID, e.critical, Buffer.from(e.extnValue.buffer).toString('hex')]));
  }
});

test('the extension readers agree with asn1-x509 on the values it encodes', (t) => {
  const keyId = fc.uint8Array({ minLength: 1, maxLength: 40 }).map((b) => Buffer.from(b));
  const values = fc.record({
    ca: fc.boolean(),
    pathLen: fc.option(fc.nat({ max: 1000 }), { nil: undefined }),
    ku: fc.integer({ min: 1, max: 511 }),
    eku: fc.uniqueArray(fc.nat({ max: 5000 }).map((n) => `1.3.6.1.5.5.7.3.${n}`), { minLength: 1, maxLength: 5 }),
    skid: keyId,
    akid: fc.option(keyId, { nil: undefined }),
  });
  t.notThrows(() => fc.assert(fc.property(values, (v) => {
    const cert = parseCertificate(certWith([
      ext(id_ce_basicConstraints, true, AsnConvert.serialize(new BasicConstraints({ cA: v.ca, pathLenConstraint: v.pathLen }))),
      ext(id_ce_keyUsage, true, AsnConvert.serialize(new KeyUsage(v.ku))),
      ext(id_ce_extKeyUsage, false, AsnConvert.serialize(new ExtendedKeyUsage(v.eku))),
      ext(id_ce_subjectKeyIdentifier, false, AsnConvert.serialize(new SubjectKeyIdentifier(v.skid))),
      ext(id_ce_authorityKeyIdentifier, false, AsnConvert.serialize(new AuthorityKeyIdentifier(v.akid ? { keyIdentifier: new KeyIdentifier(v.akid) } : {}))),
    ]));
    const bc = AsnParser.parse(cert.extensions.get(id_ce_basicConstraints)!.value, BasicConstraints);
    const same = (a: unknown, b: unknown, what: string) => {
      if (JSON.stringify(a) !== JSON.stringify(b)) throw new Error(`${what}: ${JSON.stringify(a)} != ${JSON.stringify(b)}`);
    };
    same(basicConstraints(cert), { ca: bc.cA, pathLen: bc.pathLenConstraint }, 'basicConstraints');
    same(keyUsage(cert), v.ku, 'keyUsage');
    same(extendedKeyUsage(cert), v.eku, 'extendedKeyUsage');
    same(subjectKeyId(cert)?.toString('hex'), v.skid.toString('hex'), 'subjectKeyId');
    same(authorityKeyId(cert)?.toString('hex'), v.akid?.toString('hex'), 'authorityKeyId');
  }), { numRuns: 100 }));
});

test('malformed extension values are "malformed", whichever reader meets them', (t) => {
  const junk = Buffer.from('300302', 'hex'); // a SEQUENCE cut short
  const trailing = Buffer.concat([AsnConvert.serialize(new ExtendedKeyUsage(['1.3.6.1.5.5.7.3.3'])) as ArrayBuffer].map((b) => Buffer.from(b)).concat(Buffer.from([0])));
  for (const [oid, read] of [[id_ce_basicConstraints, basicConstraints], [id_ce_keyUsage, keyUsage], [id_ce_extKeyUsage, extendedKeyUsage],
    [id_ce_subjectKeyIdentifier, subjectKeyId], [id_ce_authorityKeyIdentifier, authorityKeyId]] as const) {
    for (const value of [junk, trailing, Buffer.from('0500', 'hex')]) {
      const cert = parseCertificate(certWith([ext(oid, false, value)]));
      t.throws(() => read(cert), { message: new RegExp(`extension ${oid.replace(/\./g, '\\.')} is malformed`) }, `${oid} ${value.toString('hex')}`);
    }
  }
  // pathLenConstraint must be non-negative.
  const negative = parseCertificate(certWith([ext(id_ce_basicConstraints, true, Buffer.from('30060101ff0201ff', 'hex'))]));
  t.throws(() => basicConstraints(negative), { message: /malformed/ });
});

test('structural defects are refused as "not a DER X.509 certificate"', (t) => {
  const good = certWith([]);
  const refused = (der: Buffer, message: RegExp) => t.throws(() => parseCertificate(der), { message }, der.toString('hex').slice(0, 40));
  refused(Buffer.from('not a certificate'), /not a DER X\.509 certificate/);
  refused(Buffer.concat([good, Buffer.from([0])]), /trailing data/);
  refused(good.subarray(0, good.length - 1), /not a DER X\.509 certificate/);
  const twice = ext('1.2.3.4', false, Buffer.from([5, 0]));
  refused(certWith([twice, twice]), /extension 1\.2\.3\.4 appears twice/);
});

/** The certificate with the text of its notAfter time replaced (same length, so the DER stays well formed). */
function withNotAfter(der: Buffer, from: string, to: string): Buffer {
  const at = der.indexOf(Buffer.from(from, 'latin1'));
  if (at < 0 || from.length !== to.length) throw new Error('fixture: time not found');
  return Buffer.concat([der.subarray(0, at), Buffer.from(to, 'latin1'), der.subarray(at + from.length)]);
}

test('validity times: only the RFC 5280 forms, and only real dates', (t) => {
  const utc = certWith([], { notAfter: new Date(Date.UTC(2030, 1, 27, 10, 0, 0)) });
  t.is(parseCertificate(utc).notAfter, Date.UTC(2030, 1, 27, 10, 0, 0));
  for (const bad of ['300230100000Z', '301327100000Z', '300227100000+', '3002271000000']) {
    t.throws(() => parseCertificate(withNotAfter(utc, '300227100000Z', bad)), { message: /not a DER X\.509 certificate/ }, bad);
  }
  const generalized = certWith([], { notAfter: new Date(Date.UTC(2055, 1, 27, 10, 0, 0)) });
  t.is(parseCertificate(generalized).notAfter, Date.UTC(2055, 1, 27, 10, 0, 0));
  for (const bad of ['20550230100000Z', '2055022710000.0', '205502271000000']) {
    t.throws(() => parseCertificate(withNotAfter(generalized, '20550227100000Z', bad)), { message: /not a DER X\.509 certificate/ }, bad);
  }
});

function signerOf(publicKeyDer: Buffer): Signer {
  return { ...generateSigner(), publicKeyDer, keyId: createHash('sha256').update(publicKeyDer).digest() };
}

test('the signing certificate key must be ECDSA P-256: P-384 and RSA leaves are refused', (t) => {
  for (const key of [generateKeyPairSync('ec', { namedCurve: 'P-384' }), generateKeyPairSync('rsa', { modulusLength: 2048 })]) {
    const der = pki.leaf(signerOf(key.publicKey.export({ format: 'der', type: 'spki' })));
    const err = t.throws(() => loadLeaf(der), { instanceOf: VerificationError });
    t.regex(err!.message, /only ECDSA P-256/);
  }
  t.notThrows(() => loadLeaf(pki.leaf(generateSigner())));
});

test('a leaf key is the key OpenSSL reads from its DER (P-256 imported from its point); a point off the curve or compressed is refused', (t) => {
  const spkiOf = (k: { export(o: object): unknown }) => k.export({ format: 'der', type: 'spki' }) as Buffer;
  for (let i = 0; i < 4; i++) {
    const signer = generateSigner();
    const leaf = loadLeaf(pki.leaf(signer));
    t.deepEqual(spkiOf(leaf.publicKey), signer.publicKeyDer);
    t.true(leaf.publicKey.equals(createPublicKey({ key: signer.publicKeyDer, format: 'der', type: 'spki' })));
    // y + 1: the same canonical prefix, a point off the curve
    const bad = Buffer.from(signer.publicKeyDer);
    bad[bad.length - 1] = bad[bad.length - 1]! ^ 1;
    t.throws(() => createPublicKey({ key: bad, format: 'der', type: 'spki' }));
    const err = t.throws(() => loadLeaf(pki.leaf(signerOf(bad))), { instanceOf: VerificationError });
    t.is(err!.code, 'CHAIN');
  }
  // a compressed point is refused: Go's x509 cannot read it, and only the forms of core/public-key.ts are imported
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const prefix = Buffer.from(spkiOf(publicKey).subarray(0, -65)); // node's own encoding, lengths shortened by 32
  prefix[1] = prefix[1]! - 32;
  prefix[prefix.length - 2] = 34;
  const compressed = Buffer.concat([prefix, ECDH.convertKey(spkiOf(publicKey).subarray(-65), 'prime256v1', undefined, undefined, 'compressed') as Buffer]);
  const err = t.throws(() => loadLeaf(pki.leaf(signerOf(compressed))), { instanceOf: VerificationError });
  t.regex(err!.message, /point is not in the uncompressed form/);
});

test('identity extensions are read whole: bytes after the value make them malformed', (t) => {
  const issuerWithTrailer = ext('1.3.6.1.4.1.57264.1.8', false, Buffer.concat([Buffer.from(AsnConvert.serialize(new Utf8Value('https://issuer.example.com'))), Buffer.from([0])]));
  const leaf = loadLeaf(pki.leaf(generateSigner(), { issuer: null, extraExtensions: [issuerWithTrailer] }));
  const err = t.throws(() => certificateIdentity(leaf), { instanceOf: VerificationError });
  t.is(err!.code, 'ISSUER');
  t.regex(err!.message, /malformed/);
});
