/**
 * The verifier reads certificates as DER, not BER (asn1js reads BER): one encoding per certificate, as Go's
 * parser requires, so a certificate has one fingerprint and only encodings every verifier reads are accepted.
 * Found by differential fuzzing against @sigstore/verify, which refused some of these (an indefinite length)
 * and accepted the rest.
 */
import 'reflect-metadata';
import test from 'ava';
import * as asn1js from 'asn1js';
import { generateSigner } from '../../core/signer.ts';
import { parseDer } from '../../client/verify/der.ts';
import { parseCertificate } from '../../client/verify/x509.ts';
import { createVerifier } from '../../client/verify/index.ts';
import { EMAIL, ISSUER, refuses, TestPki } from './pki-fixture.ts';

const pki = new TestPki();
const verifier = createVerifier(pki.trustedRoot(), { now: () => pki.now });
const signer = generateSigner();
const leaf = pki.leaf(signer);
const artifact = Buffer.from('release 4.0');

type Edit = (cert: asn1js.Sequence) => void;

/** The leaf, parsed by asn1js, edited, and encoded again (asn1js recomputes every enclosing length). */
function variant(edit: Edit): Buffer {
  const { result } = asn1js.fromBER(new Uint8Array(leaf));
  edit(result as asn1js.Sequence);
  return Buffer.from(result.toBER());
}

const tbs = (c: asn1js.Sequence) => c.valueBlock.value[0] as asn1js.Sequence;
const tbsField = (c: asn1js.Sequence, i: number) => tbs(c).valueBlock.value[i]!;
const extensions = (c: asn1js.Sequence) => ((tbsField(c, 7) as asn1js.Constructed).valueBlock.value[0] as asn1js.Sequence).valueBlock.value as asn1js.Sequence[];
const longLength = (b: asn1js.BaseBlock) => {
  (b.lenBlock as unknown as { longFormUsed: boolean }).longFormUsed = true;
};

test('control: the leaf re-encoded unedited is byte for byte the leaf, and parses', (t) => {
  t.true(variant(() => {}).equals(leaf));
  t.notThrows(() => parseCertificate(leaf));
});

const cases: [string, Edit, RegExp][] = [
  ['the outer SEQUENCE with an indefinite length', (c) => {
    (c.lenBlock as unknown as { isIndefiniteForm: boolean }).isIndefiniteForm = true;
  }, /indefinite length/],
  ['the version INTEGER with a long-form length', (c) => longLength((tbsField(c, 0) as asn1js.Constructed).valueBlock.value[0]!), /shortest form/],
  ['the validity SEQUENCE with a long-form length', (c) => longLength(tbsField(c, 4)), /shortest form/],
  ['the empty subject with a long-form length', (c) => longLength(tbsField(c, 5)), /shortest form/],
  ['the signatureValue BIT STRING with a long-form length', (c) => longLength(c.valueBlock.value[2]!), /shortest form/],
  ['the serial number with a redundant leading 00', (c) => {
    const serial = tbsField(c, 1) as asn1js.Integer;
    serial.valueBlock.valueHexView = new Uint8Array([0, ...serial.valueBlock.valueHexView]);
  }, /INTEGER: not in its shortest form/],
  ['a negative serial number', (c) => {
    (tbsField(c, 1) as asn1js.Integer).valueBlock.valueHexView = new Uint8Array([0x80, 1]);
  }, /serialNumber: not positive/],
  ['a zero serial number', (c) => {
    (tbsField(c, 1) as asn1js.Integer).valueBlock.valueHexView = new Uint8Array([0]);
  }, /serialNumber: not positive/],
  ['a serial number of 21 octets', (c) => {
    (tbsField(c, 1) as asn1js.Integer).valueBlock.valueHexView = new Uint8Array(21).fill(0x11);
  }, /serialNumber: longer than 20 octets/],
  ['notBefore before 2050 as a GeneralizedTime', (c) => {
    const validity = tbsField(c, 4) as asn1js.Sequence;
    validity.valueBlock.value[0] = new asn1js.GeneralizedTime({ valueDate: new Date(Math.floor(pki.now / 1000) * 1000 - 60_000) });
  }, /a date before 2050 must be a UTCTime/],
  ['keyUsage critical TRUE encoded as 01', (c) => {
    const critical = extensions(c)[0]!.valueBlock.value[1] as asn1js.Boolean;
    critical.valueBlock.valueHexView = new Uint8Array([1]);
  }, /TRUE must be FF/],
  ['the EKU with critical FALSE written out', (c) => {
    const eku = extensions(c)[1]!;
    eku.valueBlock.value.splice(1, 0, new asn1js.Boolean({ value: false }));
  }, /critical FALSE written out/],
];

for (const [what, edit, message] of cases) {
  test(`refused: ${what}`, (t) => {
    const der = variant(edit);
    t.false(der.equals(leaf));
    t.throws(() => parseCertificate(der), { message });
  });
}

test('a BER leaf that the log recorded as given is refused by the verifier (the SET and proof are valid for it)', (t) => {
  const ber = variant(cases[0]![1]);
  const policy = { identity: EMAIL, issuer: ISSUER };
  t.notThrows(() => verifier.verify({ artifact, bundle: pki.sign(artifact, { leafSigner: signer, leafDer: leaf }), policy }), 'control: the DER leaf verifies');
  refuses(t, () => verifier.verify({ artifact, bundle: pki.sign(artifact, { leafSigner: signer, leafDer: ber }), policy }), 'CHAIN', /indefinite length \(BER, not DER\)/);
});

test('DER rules on raw elements: lengths, constructed strings, BOOLEAN, INTEGER, OID arcs', (t) => {
  const refused: [string, string, RegExp][] = [
    ['04 81 01 00', 'OCTET STRING, length 1 in the long form', /shortest form/],
    ['04 82 00 01 00', 'OCTET STRING, two length octets for 1', /shortest form/],
    ['30 80 05 00 00 00', 'SEQUENCE, indefinite length', /indefinite length/],
    ['24 03 04 01 00', 'a constructed OCTET STRING', /constructed encoding of a primitive type/],
    ['01 01 01', 'BOOLEAN TRUE as 01', /TRUE must be FF/],
    ['02 02 00 01', 'INTEGER 1 with a leading 00', /not in its shortest form/],
    ['02 02 ff 80', 'INTEGER -128 with a leading ff', /not in its shortest form/],
    ['06 04 2b 80 81 01', 'an OID arc padded with 80', /an arc padded with 80/],
  ];
  for (const [hex, what, message] of refused) t.throws(() => parseDer(Buffer.from(hex.replace(/ /g, ''), 'hex')), { message }, what);
  const accepted = ['04 01 00', '04 81 80 ' + '00 '.repeat(128), '04 82 01 00 ' + '00 '.repeat(256), '06 04 55 1d 20 00', '01 01 ff', '01 01 00', '02 01 00', '02 02 00 80', '02 01 80', '30 00', '06 03 2b 81 01'];
  for (const hex of accepted) t.notThrows(() => parseDer(Buffer.from(hex.replace(/ /g, ''), 'hex')), hex);
});
