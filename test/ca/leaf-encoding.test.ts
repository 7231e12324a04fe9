import test from 'ava';
import fc from 'fast-check';
import { createHash, createPublicKey, ECDH, generateKeyPairSync, sign, verify } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier, Certificate, DirectoryString, Extension, Extensions, GeneralName, GeneralNames, KeyIdentifier, KeyUsageFlags, Name,
  OtherName, SubjectPublicKeyInfo, TBSCertificate, Validity, Version,
} from '@peculiar/asn1-x509';
import { generateSigner } from '../../core/signer.ts';
import { createCaHierarchy } from '../../ca/hierarchy.ts';
import {
  createFinalCertificate, createPrecertificate, draftLeaf, LEAF_VALIDITY_MS, leafTbsDer, loadIssuingAuthority, wholeSeconds,
} from '../../ca/certificate.ts';
import {
  authorityKeyIdExtension, codeSigningEkuExtension, ctPoisonExtension, extensionDer, keyIdentifier, keyUsageExtension, OID,
  renderFulcioExtensions, sctListExtension, subjectAltNameExtension, subjectKeyIdExtension, toArrayBuffer, toX509Extension,
  utf8StringDer, type CertExtension, type SubjectAltName,
} from '../../ca/extensions.ts';
import { proveKeyPossession } from '../../ca/pop.ts';
import { BadRequestError } from '../../core/errors.ts';

/**
 * The leaf is assembled from DER parts cached at start-up and parts encoded by asn1js (ca/certificate.ts). Here
 * every part and every whole certificate is compared, byte for byte, with the plain asn1-x509 encoding of the
 * same values: the way the CA encoded leaves before, and the reference for "nothing issued changed".
 */

const rootSigner = generateSigner();
const intermediateSigner = generateSigner();
const { intermediateDer } = createCaHierarchy({ rootSigner, intermediateSigner, organization: 'leaf-encoding' });
const ca = loadIssuingAuthority(intermediateDer, intermediateSigner);
const keys = Array.from({ length: 4 }, () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' }));

const asn1x509 = (obj: unknown) => Buffer.from(AsnConvert.serialize(obj));

/** The per-leaf extensions as asn1-x509 encodes them (the CA encodes them with asn1js directly). */
function referenceSan(san: SubjectAltName): CertExtension {
  let name: GeneralName;
  if (san.type === 'email') name = new GeneralName({ rfc822Name: san.value });
  else if (san.type === 'uri') name = new GeneralName({ uniformResourceIdentifier: san.value });
  else name = new GeneralName({ otherName: new OtherName({ typeId: OID.otherNameSan, value: toArrayBuffer(asn1x509(new DirectoryString({ utf8String: san.value }))) }) });
  return { oid: OID.subjectAltName, critical: true, value: asn1x509(new GeneralNames([name])) };
}
const referenceSki = (keyId: Buffer): CertExtension => ({ oid: OID.subjectKeyIdentifier, value: asn1x509(new KeyIdentifier(keyId)) });
const referenceSctList = (list: Buffer): CertExtension => ({ oid: OID.ctSctList, value: asn1x509(new OctetString(list)) });

/** The reference: the whole TBS built as an asn1-x509 object and serialized at once (the old CA code). */
function referenceTbs(serial: ArrayBuffer, now: number, spki: Buffer, san: SubjectAltName, fulcio: CertExtension[], last: CertExtension): Buffer {
  const notBefore = wholeSeconds(now);
  const spkiBits = Buffer.from(AsnConvert.parse(spki, SubjectPublicKeyInfo).subjectPublicKey);
  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: serial,
    signature: new AlgorithmIdentifier({ algorithm: OID.ecdsaWithSha256 }),
    issuer: ca.subject,
    validity: new Validity({ notBefore, notAfter: new Date(notBefore.getTime() + LEAF_VALIDITY_MS) }),
    subject: new Name(),
    subjectPublicKeyInfo: AsnConvert.parse(spki, SubjectPublicKeyInfo),
    extensions: new Extensions([
      keyUsageExtension(KeyUsageFlags.digitalSignature),
      codeSigningEkuExtension(),
      referenceSki(createHash('sha1').update(spkiBits).digest()),
      authorityKeyIdExtension(ca.keyId),
      referenceSan(san),
      ...fulcio,
      last,
    ].map(toX509Extension)),
  });
  return Buffer.from(AsnConvert.serialize(tbs));
}

// beyond ASCII too: whatever reaches the encoder must come out as asn1-x509 would write it
const sanArb: fc.Arbitrary<SubjectAltName> = fc.oneof(
  fc.emailAddress().map((value) => ({ type: 'email' as const, value })),
  fc.webUrl().map((value) => ({ type: 'uri' as const, value })),
  fc.string({ minLength: 1, maxLength: 300, unit: 'grapheme' }).map((value) => ({ type: 'email' as const, value })),
  fc.string({ minLength: 1, maxLength: 300, unit: 'grapheme' }).map((value) => ({ type: 'uri' as const, value })),
  fc.string({ minLength: 1, maxLength: 300, unit: 'grapheme' }).map((value) => ({ type: 'otherName' as const, value })),
);
const fulcioArb = fc.record({
  issuer: fc.string({ minLength: 1, maxLength: 200, unit: 'grapheme' }),
  githubWorkflowSha: fc.option(fc.string({ maxLength: 64 }), { nil: undefined }),
  sourceRepositoryUri: fc.option(fc.string({ maxLength: 500, unit: 'grapheme' }), { nil: undefined }),
  buildTrigger: fc.option(fc.string({ maxLength: 40 }), { nil: undefined }),
}).map(renderFulcioExtensions);
// up to year 2100: UTCTime before 2050, GeneralizedTime from 2050 on (RFC 5280 4.1.2.5)
const nowArb = fc.integer({ min: 0, max: Date.UTC(2100, 0, 1) });

test('precertificate and final TBS equal the asn1-x509 encoding of the same leaf, byte for byte', (t) => {
  fc.assert(fc.property(sanArb, fulcioArb, nowArb, fc.nat({ max: keys.length - 1 }), fc.uint8Array({ minLength: 1, maxLength: 700 }), (san, fulcio, now, k, sctList) => {
    const spki = keys[k]!;
    const draft = draftLeaf(ca, { publicKeyDer: spki, san, extensions: fulcio, now });
    const serial = toArrayBuffer(Buffer.from(AsnConvert.parse(leafTbsDer(draft, Buffer.from(AsnConvert.serialize(toX509Extension(ctPoisonExtension())))), TBSCertificate).serialNumber));
    t.deepEqual(leafTbsDer(draft, extensionDer(ctPoisonExtension())), referenceTbs(serial, now, spki, san, fulcio, ctPoisonExtension()));
    const list = Buffer.from(sctList);
    t.deepEqual(leafTbsDer(draft, extensionDer(sctListExtension(list))), referenceTbs(serial, now, spki, san, fulcio, referenceSctList(list)));
  }), { numRuns: 150 });
});

test('the per-leaf parts encoded by asn1js directly equal asn1-x509: SAN of every kind, SKI, SCT list, UTF8String', (t) => {
  fc.assert(fc.property(sanArb, (san) => {
    t.deepEqual(subjectAltNameExtension(san), referenceSan(san));
  }), { numRuns: 300 });
  fc.assert(fc.property(fc.uint8Array({ minLength: 0, maxLength: 40 }), fc.uint8Array({ minLength: 0, maxLength: 2000 }), (keyId, list) => {
    t.deepEqual(subjectKeyIdExtension(Buffer.from(keyId)), referenceSki(Buffer.from(keyId)));
    t.deepEqual(sctListExtension(Buffer.from(list)), referenceSctList(Buffer.from(list)));
  }), { numRuns: 200 });
  fc.assert(fc.property(fc.string({ maxLength: 500, unit: 'grapheme' }), (value) => {
    t.deepEqual(utf8StringDer(value), asn1x509(new DirectoryString({ utf8String: value })));
  }), { numRuns: 300 });
  // a leaf issued in the same second as the one before reuses its validity; the next second gets its own
  const validity = (now: number) => AsnConvert.parse(leafTbsDer(draftLeaf(ca, { publicKeyDer: keys[0]!, san: { type: 'email', value: 'a@b.c' }, extensions: [], now })), TBSCertificate).validity;
  const t0 = Date.UTC(2026, 0, 1, 12, 0, 0);
  for (const [now, seconds] of [[t0 + 100, t0], [t0 + 900, t0], [t0 + 1000, t0 + 1000], [t0 + 1500, t0 + 1000], [t0, t0]] as const) {
    const v = validity(now);
    t.is(v.notBefore.getTime().getTime(), seconds);
    t.is(v.notAfter.getTime().getTime(), seconds + LEAF_VALIDITY_MS);
  }
});

test('the signed certificates are the asn1-x509 Certificate of that TBS and signature, and verify', (t) => {
  const draft = draftLeaf(ca, { publicKeyDer: keys[0]!, san: { type: 'email', value: 'alice@example.com' }, extensions: renderFulcioExtensions({ issuer: 'https://issuer.example' }), now: Date.now() });
  for (const der of [createPrecertificate(ca, draft), createFinalCertificate(ca, draft, Buffer.from([0, 3, 1, 2, 3]))]) {
    const cert = AsnConvert.parse(der, Certificate);
    t.deepEqual(Buffer.from(AsnConvert.serialize(cert)), der);
    t.is(cert.signatureAlgorithm.algorithm, OID.ecdsaWithSha256);
    t.is(cert.signatureAlgorithm.parameters, undefined);
    t.true(verify('sha256', Buffer.from(cert.tbsCertificateRaw!), intermediateSigner.publicKey, Buffer.from(cert.signatureValue)));
  }
});

test('extensionDer equals asn1-x509 Extension encoding, critical or not', (t) => {
  fc.assert(fc.property(fc.constantFrom(...Object.values(OID)), fc.boolean(), fc.uint8Array({ maxLength: 300 }), (oid, critical, value) => {
    const ext: CertExtension = { oid, critical, value: Buffer.from(value) };
    const reference = new Extension({ extnID: oid, critical, extnValue: new OctetString(value) });
    t.deepEqual(extensionDer(ext), Buffer.from(AsnConvert.serialize(reference)));
  }), { numRuns: 200 });
});

/** The same P-256 key with its point compressed (a form the canonical-prefix fast paths must not take). */
function compressedSpki(spki: Buffer): Buffer {
  const point = spki.subarray(spki.length - 65);
  const compressed = ECDH.convertKey(point, 'prime256v1', undefined, undefined, 'compressed') as Buffer;
  const prefix = Buffer.from(spki.subarray(0, spki.length - 65));
  prefix[1] = prefix[1]! - 32;
  prefix[prefix.length - 2] = 34; // BIT STRING length
  return Buffer.concat([prefix, compressed]);
}

test('keyIdentifier equals the SHA-1 of asn1-x509 subjectPublicKey (canonical P-256 by its prefix, other forms parsed), and refuses what is not an SPKI', (t) => {
  const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ type: 'spki', format: 'der' });
  for (const spki of [...keys, ...keys.map(compressedSpki), p384]) {
    t.deepEqual(keyIdentifier(spki), createHash('sha1').update(Buffer.from(AsnConvert.parse(spki, SubjectPublicKeyInfo).subjectPublicKey)).digest());
  }
  t.throws(() => keyIdentifier(Buffer.from([0x30, 0x00])));
  t.throws(() => keyIdentifier(Buffer.concat([keys[0]!, Buffer.from([0])])));
});

test('proof of possession: only the canonical P-256 form is certified; compressed, hybrid, explicit-parameter and infinity keys are 400s before any key object is made', async (t) => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const der = publicKey.export({ type: 'spki', format: 'der' });
  const proof = sign('sha256', Buffer.from('alice@example.com'), privateKey);
  const hybrid = Buffer.from(der);
  hybrid[hybrid.length - 65] = 0x06 | (der[der.length - 1]! & 1); // 06/07 || x || y: the same point, "hybrid" form
  const explicit = generateKeyPairSync('ec', { namedCurve: 'P-256', paramEncoding: 'explicit' } as { namedCurve: string }).publicKey.export({ type: 'spki', format: 'der' });
  t.is(explicit.length, 335); // explicit curve parameters, the same curve
  const infinity = Buffer.from('3019301306072a8648ce3d020106082a8648ce3d03010703020000', 'hex');
  for (const spki of [compressedSpki(der), hybrid, explicit, infinity]) {
    const err = await t.throwsAsync(proveKeyPossession({ kind: 'publicKey', content: spki.toString('latin1'), proof }, 'alice@example.com'), { instanceOf: BadRequestError });
    t.regex(err!.message, /only ECDSA P-256 keys \(named curve, uncompressed point\) are accepted/);
  }
});

test('proof of possession: a canonical P-256 key (imported from its point) certifies exactly what node exports; a point off the curve is a 400', async (t) => {
  const pemOf = (der: Buffer) => `-----BEGIN PUBLIC KEY-----\n${der.toString('base64')}\n-----END PUBLIC KEY-----\n`;
  for (let i = 0; i < 4; i++) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const der = publicKey.export({ type: 'spki', format: 'der' });
    const proof = sign('sha256', Buffer.from('alice@example.com'), privateKey);
    for (const content of [pemOf(der), der.toString('latin1')]) {
      t.deepEqual(await proveKeyPossession({ kind: 'publicKey', content, proof }, 'alice@example.com'), der);
      await t.throwsAsync(proveKeyPossession({ kind: 'publicKey', content, proof }, 'mallory@example.com'), { instanceOf: BadRequestError });
    }
    // y + 1 is not on the curve: the coordinate import refuses it as the DER import would
    const bad = Buffer.from(der);
    bad[bad.length - 1] = bad[bad.length - 1]! ^ 1;
    t.throws(() => createPublicKey({ key: bad, format: 'der', type: 'spki' }));
    const err = await t.throwsAsync(proveKeyPossession({ kind: 'publicKey', content: pemOf(bad), proof }, 'alice@example.com'), { instanceOf: BadRequestError });
    t.regex(err!.message, /public key supplied in the request could not be parsed/);
  }
});
