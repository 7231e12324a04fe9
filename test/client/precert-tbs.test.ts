/**
 * The precertificate TBS that an embedded SCT signed is rebuilt from the leaf's own bytes (client/verify/sct.ts,
 * asn1js encoding only the two changed headers). Checked byte for byte against the former way (re-encoding the
 * whole TBS without the SCT extension through @peculiar/asn1-x509) over leaves of many shapes, and end to end on
 * a real Fulcio certificate whose SCT the public-good CT log signed.
 */
import test from 'ava';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { Extensions, GeneralName, OtherName, SubjectAlternativeName } from '@peculiar/asn1-x509';
import { generateSigner } from '../../core/signer.ts';
import { parseTrustedRoot } from '../../client/trusted-root.ts';
import { RawTbsCertificate } from '../../client/verify/certificate-schema.ts';
import { verifyChain } from '../../client/verify/chain.ts';
import { certificateIdentity } from '../../client/verify/identity.ts';
import { loadLeaf, type LeafState } from '../../client/verify/leaf.ts';
import { precertificateTbs, SCT_LIST_OID, verifyScts } from '../../client/verify/sct.ts';
import { ext, name, signTbs, tbsOf, TestPki, Utf8Value } from './pki-fixture.ts';

/** The former implementation: the schema model of the TBS, re-encoded without the SCT list extension. */
function precertificateTbsBySchema(leaf: LeafState): Buffer {
  const tbs = leaf.cert.asn.tbsCertificate;
  return Buffer.from(AsnConvert.serialize(new RawTbsCertificate({ ...tbs, extensions: new Extensions((tbs.extensions ?? []).filter((e) => e.extnID !== SCT_LIST_OID)) })));
}

const pki = new TestPki();
const subjectKey = generateSigner();

test('the rebuilt precertificate TBS equals the schema re-encoding, byte for byte, for leaves of many shapes', (t) => {
  const ia5 = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 300 });
  const san = fc.oneof(
    ia5.map((s) => new GeneralName({ rfc822Name: s })),
    ia5.map((s) => new GeneralName({ uniformResourceIdentifier: s })),
    fc.string({ minLength: 1, maxLength: 200 }).map((s) => new GeneralName({ otherName: new OtherName({ typeId: '1.3.6.1.4.1.57264.1.7', value: AsnConvert.serialize(new Utf8Value(s)) }) })),
  );
  const extra = fc.uniqueArray(
    fc.record({ arc: fc.nat({ max: 100_000 }), critical: fc.boolean(), value: fc.uint8Array({ maxLength: 400 }) }),
    { selector: (e) => e.arc, maxLength: 4 },
  );
  const shape = fc.record({
    san,
    extra,
    sctAt: fc.nat(),
    sctList: fc.uint8Array({ minLength: 1, maxLength: 600 }),
    cn: fc.string({ maxLength: 300 }),
    // Years from 2050 on are GeneralizedTime, before it UTCTime.
    notAfterYear: fc.integer({ min: 2027, max: 2100 }),
  });
  t.notThrows(() => fc.assert(fc.property(shape, (s) => {
    const extensions = [
      ext('2.5.29.17', true, AsnConvert.serialize(new SubjectAlternativeName([s.san]))),
      ...s.extra.map((e) => ext(`1.3.6.1.4.1.99999.${e.arc}`, e.critical, Buffer.from(e.value))),
    ];
    extensions.splice(s.sctAt % (extensions.length + 1), 0, ext(SCT_LIST_OID, false, AsnConvert.serialize(new OctetString(s.sctList))));
    const tbs = tbsOf({
      subject: name(s.cn), issuer: name('intermediate'), issuerSigner: pki.intermediate, publicKeyDer: subjectKey.publicKeyDer,
      notBefore: new Date(pki.now), notAfter: new Date(Date.UTC(s.notAfterYear, 0, 1)), extensions,
    });
    const leaf = loadLeaf(signTbs(tbs, pki.intermediate));
    const fast = precertificateTbs(leaf);
    if (!fast.equals(precertificateTbsBySchema(leaf))) throw new Error(`differs for ${JSON.stringify(s)}`);
  }), { numRuns: 150 }));
});

test('a leaf whose only extension is the SCT list: both ways agree too', (t) => {
  const tbs = tbsOf({
    subject: name('x'), issuer: name('intermediate'), issuerSigner: pki.intermediate, publicKeyDer: subjectKey.publicKeyDer,
    notBefore: new Date(pki.now), notAfter: new Date(pki.now + 60_000), extensions: [ext(SCT_LIST_OID, false, AsnConvert.serialize(new OctetString(Buffer.from([0, 0]))))],
  });
  const leaf = loadLeaf(signTbs(tbs, pki.intermediate));
  t.deepEqual(precertificateTbs(leaf), precertificateTbsBySchema(leaf));
});

/** A keyless cosign signature made with the public-good Fulcio (test/oci/fixtures) and the public-good trusted root. */
function publicGood() {
  const manifest = JSON.parse(readFileSync(new URL('../oci/fixtures/cosign-keyless-sig-manifest.json', import.meta.url), 'utf8'));
  const annotations = manifest.layers[0].annotations;
  const leafDer = new X509Certificate(annotations['dev.sigstore.cosign/certificate']).raw;
  const seeds = JSON.parse(readFileSync(new URL('../../node_modules/@sigstore/tuf/seeds.json', import.meta.url), 'utf8'));
  const trustedRoot = JSON.parse(Buffer.from(seeds['https://tuf-repo-cdn.sigstore.dev'].targets['trusted_root.json'], 'base64').toString('utf8'));
  // Only the CAs and CT logs matter here; the Rekor v2 (Ed25519) log is not one this verifier reads.
  trustedRoot.tlogs = trustedRoot.tlogs.filter((l: { publicKey: { keyDetails: string } }) => l.publicKey.keyDetails === 'PKIX_ECDSA_P256_SHA_256');
  return { leafDer, trust: parseTrustedRoot(trustedRoot) };
}

test('a real Fulcio certificate: its precertificate TBS is byte-exact and the public-good CT log SCT verifies over it', (t) => {
  const { leafDer, trust } = publicGood();
  const leaf = loadLeaf(leafDer);
  t.deepEqual(precertificateTbs(leaf), precertificateTbsBySchema(leaf));
  t.true(leaf.cert.asn !== undefined && Buffer.from(AsnConvert.serialize(leaf.cert.asn.tbsCertificate)).equals(leaf.cert.tbsDer));
  const { issuer } = verifyChain(leaf, trust, leaf.cert.notBefore + 1000, []);
  t.is(verifyScts(leaf, issuer, trust.ctlogs).length, 1);
  t.like(certificateIdentity(leaf), { san: 'salrashid123@gmail.com', sanType: 'email' });
});

test('a real Fulcio certificate with one byte of an extension changed: the SCT no longer verifies', (t) => {
  const { leafDer, trust } = publicGood();
  const good = loadLeaf(leafDer);
  const { issuer } = verifyChain(good, trust, good.cert.notBefore + 1000, []);
  // Flip a byte inside the OIDC issuer extension's value (the leaf's signature is not what this checks).
  const issuerExt = good.cert.extensions.get('1.3.6.1.4.1.57264.1.1')!;
  const at = leafDer.indexOf(issuerExt.der) + issuerExt.der.length - 1;
  const tampered = Buffer.from(leafDer);
  tampered[at]! ^= 0x01;
  const err = t.throws(() => verifyScts(loadLeaf(tampered), issuer, trust.ctlogs));
  t.regex(err!.message, /does not verify/);
});
