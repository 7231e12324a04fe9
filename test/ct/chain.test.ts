import test from 'ava';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate, TBSCertificate } from '@peculiar/asn1-x509';
import { BadRequestError } from '../../core/errors.ts';
import { ENTRY_TYPE_PRECERT, ENTRY_TYPE_X509 } from '../../core/sct.ts';
import { AcceptedRoots, validateChain } from '../../log/ct/chain.ts';
import { parsePrecertExtraData, parseX509ExtraData, precertExtraData, x509ExtraData } from '../../log/ct/extra-data.ts';
import { decodeBase64Strict } from '../../log/ct/params.ts';
import { finalCertificate, makeIntermediate, makeLeaf, makeRoot, OID_CT_POISON, OID_PRECERT_SIGNING, resign } from './test-pki.ts';

const root = makeRoot();
const intermediate = makeIntermediate(root);
const roots = new AcceptedRoots([root.der]);
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest();

function rejects(t: import('ava').ExecutionContext, f: () => unknown, message: RegExp): void {
  const err = t.throws(f, { instanceOf: BadRequestError });
  t.regex(err!.message, message);
}

test('precert entry: issuer key hash of the intermediate SPKI, TBS without the poison and nothing else changed', (t) => {
  const precert = makeLeaf(intermediate);
  const v = validateChain([precert, intermediate.der, root.der], roots, 'precert');
  t.is(v.entry.type, ENTRY_TYPE_PRECERT);
  if (v.entry.type !== ENTRY_TYPE_PRECERT) return;
  t.deepEqual(v.entry.issuerKeyHash, sha256(intermediate.spki));
  const original = AsnConvert.parse(precert, Certificate).tbsCertificate;
  const stripped = AsnConvert.parse(v.entry.tbsCertificate, TBSCertificate);
  t.deepEqual(stripped.extensions!.map((e) => e.extnID), original.extensions!.map((e) => e.extnID).filter((o) => o !== OID_CT_POISON));
  t.deepEqual(AsnConvert.serialize(stripped.subject), AsnConvert.serialize(original.subject));
  t.deepEqual(stripped.serialNumber, original.serialNumber);
  // Oracle: the final certificate's TBS without the SCT list extension is byte-identical.
  const final = AsnConvert.parse(finalCertificate(precert, intermediate, Buffer.from([0, 0])), Certificate).tbsCertificate;
  final.extensions!.splice(final.extensions!.findIndex((e) => e.extnID === '1.3.6.1.4.1.11129.2.4.2'), 1);
  t.deepEqual(Buffer.from(AsnConvert.serialize(final)), v.entry.tbsCertificate);
  t.deepEqual(parsePrecertExtraData(v.extraData), { precertificate: precert, chain: [intermediate.der, root.der] });
});

test('a poison that is the only extension leaves no empty extensions field', (t) => {
  const v = validateChain([makeLeaf(intermediate, { poisonOnly: true }), intermediate.der], roots, 'precert');
  if (v.entry.type !== ENTRY_TYPE_PRECERT) return t.fail();
  t.is(AsnConvert.parse(v.entry.tbsCertificate, TBSCertificate).extensions, undefined);
});

test('the root is appended when the submitter leaves it out', (t) => {
  const cert = makeLeaf(intermediate, { poison: false });
  const v = validateChain([cert, intermediate.der], roots, 'x509');
  t.deepEqual(v.chain, [cert, intermediate.der, root.der]);
  t.deepEqual(v.entry, { type: ENTRY_TYPE_X509, certificate: cert });
  t.deepEqual(parseX509ExtraData(v.extraData), [intermediate.der, root.der]);
});

test('a precertificate issued directly by the root hashes the root key', (t) => {
  const v = validateChain([makeLeaf(root)], roots, 'precert');
  if (v.entry.type !== ENTRY_TYPE_PRECERT) return t.fail();
  t.deepEqual(v.entry.issuerKeyHash, sha256(root.spki));
});

test('roots are matched by key and bytes, never by name (sigstore-rust 53ca181)', (t) => {
  // Same subject DN as our root, different key: its chains must be refused.
  const impostor = makeRoot('sigstack test root');
  const impostorInt = makeIntermediate(impostor);
  rejects(t, () => validateChain([makeLeaf(impostorInt), impostorInt.der, impostor.der], roots, 'precert'), /accepted root/);
  rejects(t, () => validateChain([makeLeaf(impostorInt), impostorInt.der], roots, 'precert'), /accepted root/);
  // Same DN for the intermediate too: the issuer must be the one whose key signed, not the one with the name.
  const twin = makeIntermediate(root, 'sigstack test intermediate');
  rejects(t, () => validateChain([makeLeaf(twin), intermediate.der], roots, 'precert'), /chain\[0\] is not signed by chain\[1\]/);
});

test('broken links are refused', (t) => {
  const other = makeRoot('other');
  rejects(t, () => validateChain([resign(makeLeaf(intermediate), other.privateKey), intermediate.der], roots, 'precert'), /not signed by/);
  rejects(t, () => validateChain([makeLeaf(intermediate), resign(intermediate.der, other.privateKey), root.der], roots, 'precert'), /not signed by/);
  // A leaf cannot act as an issuer.
  const notCa = makeLeaf(intermediate, { poison: false });
  rejects(t, () => validateChain([makeLeaf(intermediate), notCa, intermediate.der], roots, 'precert'), /not a CA/);
  // The accepted root must come last.
  rejects(t, () => validateChain([makeLeaf(intermediate), intermediate.der, root.der, root.der], roots, 'precert'), /not the last/);
});

test('issuers are checked top down: a chain that reaches no accepted root is refused before the certificates under its top are even parsed', (t) => {
  const other = makeRoot('other');
  const garbage = Buffer.from('not a certificate at all');
  // Bottom up, chain[1] would be refused first as "not a DER X.509 certificate" after parsing it; top down, the
  // unanchored top decides alone (an open endpoint must not parse nine certificates for a stranger's chain).
  rejects(t, () => validateChain([makeLeaf(intermediate), ...Array(8).fill(garbage), other.der], roots, 'precert'), /does not end at, or chain to, an accepted root/);
  // Anchored top: the refusal is at the first certificate under it, nearest the root.
  const junkCa = makeIntermediate(other, 'junk');
  rejects(t, () => validateChain([makeLeaf(intermediate), garbage, junkCa.der, intermediate.der], roots, 'precert'), /chain\[2\] is not signed by chain\[3\]/);
  rejects(t, () => validateChain([makeLeaf(intermediate), garbage, intermediate.der], roots, 'precert'), /chain\[1\] is not a DER X.509 certificate/);
  // The leaf is parsed after its path: an unanchored path wins over a malformed leaf.
  rejects(t, () => validateChain([garbage, other.der], roots, 'precert'), /does not end at/);
});

test('poison rules for add-pre-chain and add-chain', (t) => {
  rejects(t, () => validateChain([makeLeaf(intermediate, { poison: false }), intermediate.der], roots, 'precert'), /poison extension is missing/);
  rejects(t, () => validateChain([makeLeaf(intermediate), intermediate.der], roots, 'x509'), /add-pre-chain/);
  rejects(t, () => validateChain([makeLeaf(intermediate, { poisonCritical: false }), intermediate.der], roots, 'precert'), /not critical/);
  rejects(t, () => validateChain([makeLeaf(intermediate, { poisonValue: Buffer.from([0x04, 0x00]) }), intermediate.der], roots, 'precert'), /not ASN.1 NULL/);
  rejects(t, () => validateChain([makeLeaf(intermediate, { poisonCritical: false }), intermediate.der], roots, 'x509'), /not critical/);
});

test('precertificate signing certificates are refused clearly', (t) => {
  const pcs = makeIntermediate(intermediate, 'precert signer', OID_PRECERT_SIGNING);
  rejects(t, () => validateChain([makeLeaf(pcs), pcs.der, intermediate.der], roots, 'precert'), /precertificate signing certificates/);
});

test('shape and encoding: empty, too long (rekor#823), not bytes, garbage, trailing bytes, BER', (t) => {
  const precert = makeLeaf(intermediate);
  rejects(t, () => validateChain('x', roots, 'precert'), /array/);
  rejects(t, () => validateChain([], roots, 'precert'), /empty/);
  rejects(t, () => validateChain(Array(11).fill(intermediate.der), roots, 'precert'), /at most 10/);
  rejects(t, () => validateChain(['abc'], roots, 'precert'), /not certificate bytes/);
  rejects(t, () => validateChain([Buffer.from('not a certificate')], roots, 'precert'), /not a DER X.509/);
  rejects(t, () => validateChain([Buffer.concat([precert, Buffer.from([0])]), intermediate.der], roots, 'precert'), /strictly DER/);
  // Long-form length for the outer SEQUENCE: valid BER, not DER.
  const body = precert.subarray(4);
  const ber = Buffer.concat([Buffer.from([0x30, 0x83, 0x00]), precert.subarray(2, 4), body]);
  rejects(t, () => validateChain([ber, intermediate.der], roots, 'precert'), /DER/);
});

test('the accepted roots themselves must be CA certificates', (t) => {
  t.throws(() => new AcceptedRoots([]));
  t.throws(() => new AcceptedRoots([makeLeaf(root, { poison: false })]), { message: /not a CA/ });
});

test('extra_data encodings round-trip (property)', (t) => {
  const cert = fc.uint8Array({ minLength: 1, maxLength: 64 }).map((u) => Buffer.from(u));
  fc.assert(fc.property(fc.array(cert, { minLength: 1, maxLength: 6 }), (chain) => {
    const p = parsePrecertExtraData(precertExtraData(chain));
    return p.precertificate.equals(chain[0]!) && p.chain.length === chain.length - 1 &&
      p.chain.every((c, i) => c.equals(chain[i + 1]!)) &&
      parseX509ExtraData(x509ExtraData(chain)).every((c, i) => c.equals(chain[i + 1]!));
  }));
  t.throws(() => parseX509ExtraData(Buffer.from([0, 0, 5, 0, 0, 1, 1])), { instanceOf: RangeError });
});

test('strict base64 accepts exactly the canonical encodings (property)', (t) => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }), (u) => {
    const s = Buffer.from(u).toString('base64');
    return decodeBase64Strict(s)!.equals(Buffer.from(u));
  }));
  fc.assert(fc.property(fc.string({ maxLength: 12 }), (s) => {
    const d = decodeBase64Strict(s);
    return d === undefined || d.toString('base64') === s;
  }));
  for (const bad of ['QQ', 'QR==', 'QQ==QQ==', 'Q Q==', 'QQ=', '-_8=']) t.is(decodeBase64Strict(bad), undefined, bad);
});

test('an issuer key in a form the project refuses (RSA with a 3,000-bit exponent, ~9 ms a check on the event loop) never signs a link, even over a valid signature', async (t) => {
  const { createPrivateKey, createPublicKey, generateKeyPairSync, sign } = await import('node:crypto');
  const { AsnConvert } = await import('@peculiar/asn1-schema');
  const { AlgorithmIdentifier, Certificate, Name, SubjectPublicKeyInfo, TBSCertificate, Validity, Version } = await import('@peculiar/asn1-x509');
  const { isSignedBy, parseCertificateStrict } = await import('../../log/ct/certificate.ts');
  // An RSA-3072 key with a huge odd public exponent e and d = e^-1 mod lcm(p-1, q-1): OpenSSL signs and verifies with it.
  const jwk = generateKeyPairSync('rsa', { modulusLength: 3072 }).privateKey.export({ format: 'jwk' });
  const big = (s: string) => BigInt(`0x${Buffer.from(s, 'base64url').toString('hex')}`);
  const b64 = (n: bigint) => Buffer.from(n.toString(16).padStart(Math.ceil(n.toString(16).length / 2) * 2, '0'), 'hex').toString('base64url');
  const [p, q] = [big(jwk.p!), big(jwk.q!)];
  const gcd = (a: bigint, b: bigint): bigint => (b === 0n ? a : gcd(b, a % b));
  const lambda = ((p - 1n) * (q - 1n)) / gcd(p - 1n, q - 1n);
  const inverse = (a: bigint, m: bigint) => { let [r0, r1, s0, s1] = [a % m, m, 1n, 0n]; while (r1 !== 0n) { const k = r0 / r1; [r0, r1] = [r1, r0 - k * r1]; [s0, s1] = [s1, s0 - k * s1]; } return r0 === 1n ? ((s0 % m) + m) % m : undefined; };
  let e = (1n << 3000n) + 1n;
  let d: bigint | undefined;
  while (!(d = inverse(e, lambda))) e += 2n;
  const privateKey = createPrivateKey({ key: { kty: 'RSA', n: jwk.n, e: b64(e), d: b64(d), p: jwk.p, q: jwk.q, dp: b64(d % (p - 1n)), dq: b64(d % (q - 1n)), qi: jwk.qi }, format: 'jwk' });
  const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  const alg = new AlgorithmIdentifier({ algorithm: '1.2.840.113549.1.1.11', parameters: null });
  const tbs = new TBSCertificate({
    version: Version.v3, serialNumber: new Uint8Array([1, 2]).buffer, signature: alg, issuer: new Name([]), subject: new Name([]),
    validity: new Validity({ notBefore: new Date('2025-01-01T00:00:00Z'), notAfter: new Date('2035-01-01T00:00:00Z') }),
    subjectPublicKeyInfo: AsnConvert.parse(spki, SubjectPublicKeyInfo),
  });
  const tbsDer = Buffer.from(AsnConvert.serialize(tbs));
  const der = Buffer.from(AsnConvert.serialize(new Certificate({ tbsCertificate: tbs, signatureAlgorithm: alg, signatureValue: Uint8Array.from(sign('sha256', tbsDer, privateKey)).buffer })));
  const cert = parseCertificateStrict(der, 'self-signed');
  t.true(cert.x509.verify(cert.x509.publicKey), 'OpenSSL itself takes the key and the signature');
  t.false(isSignedBy(cert, cert));
});
