/**
 * Keys the log accepts in entries are held to one form each before node:crypto is asked anything about them
 * (core/public-key.ts). A P-256 key at the point at infinity made node abort the whole process (a reviewer's
 * hashedrekord with such a certificate, no token needed); a compressed point let the same key and signature be
 * logged twice and stored a key Go cannot parse; an RSA key with a ~3070-bit exponent cost ~17 ms per check.
 * Each is a 400 naming the field, inline and on the worker pool, with nothing logged.
 */
import test from 'ava';
import { createHash, ECDH, generateKeyPairSync, sign } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { RSAPublicKey } from '@peculiar/asn1-rsa';
import { AlgorithmIdentifier, Certificate, Extension, Extensions, Name, SubjectPublicKeyInfo, TBSCertificate, Validity, Version } from '@peculiar/asn1-x509';
import { derToPem } from '../../core/pem.ts';
import { generateSigner } from '../../core/signer.ts';
import { parseVerifierKey } from '../../log/kinds/verifier-key.ts';
import { postEntry, startInlineAndPooledRekor } from './rekor-server.ts';

const b64 = (b: Buffer | string) => Buffer.from(b).toString('base64');
const INFINITY = Buffer.from('3019301306072a8648ce3d020106082a8648ce3d03010703020000', 'hex');
const ARTIFACT = Buffer.from('artifact');

const ALG = new AlgorithmIdentifier({ algorithm: '1.2.840.10045.4.3.2' });

/** A TBS carrying `spki`; each of `planted` goes in an extension of its own, verbatim (bytes a certificate may carry besides its key). */
function tbsFor(spki: Buffer, planted: Buffer[]): TBSCertificate {
  return new TBSCertificate({
    version: Version.v3, serialNumber: new Uint8Array([1, 9]).buffer, signature: ALG, issuer: new Name([]), subject: new Name([]),
    validity: new Validity({ notBefore: new Date('2024-01-01T00:00:00Z'), notAfter: new Date('2034-01-01T00:00:00Z') }),
    subjectPublicKeyInfo: AsnConvert.parse(spki, SubjectPublicKeyInfo),
    extensions: planted.length === 0 ? undefined : new Extensions(planted.map((bytes, i) => new Extension({ extnID: `1.3.6.1.4.1.99999.${i + 1}`, critical: false, extnValue: new OctetString(bytes) }))),
  });
}

/** A certificate of tbsFor(spki, planted), signed by a throwaway CA (the log does not judge chains). */
function certificateFor(spki: Buffer, planted: Buffer[] = []): Buffer {
  const tbs = tbsFor(spki, planted);
  const signature = generateSigner().sign(Buffer.from(AsnConvert.serialize(tbs)));
  return Buffer.from(AsnConvert.serialize(new Certificate({ tbsCertificate: tbs, signatureAlgorithm: ALG, signatureValue: Uint8Array.from(signature).buffer })));
}

/**
 * A certificate whose SPKI is `spki` with its SEQUENCE length written the long way (30 81 59, BER: OpenSSL reads it,
 * Go does not), and the DER `spki` itself in an extension after it.
 */
function longFormSpkiCertificate(spki: Buffer): Buffer {
  let tbsDer = Buffer.from(AsnConvert.serialize(tbsFor(spki, [spki])));
  const at = tbsDer.indexOf(spki);
  tbsDer = Buffer.concat([tbsDer.subarray(0, at), Buffer.from([0x30, 0x81]), spki.subarray(1), tbsDer.subarray(at + spki.length)]);
  tbsDer.writeUInt16BE(tbsDer.readUInt16BE(2) + 1, 2); // the TBS is 30 82 LL LL: one byte longer now
  const body = Buffer.concat([tbsDer, Buffer.from(AsnConvert.serialize(ALG)), bitString(generateSigner().sign(tbsDer))]);
  return Buffer.concat([Buffer.from([0x30, 0x82, body.length >> 8, body.length & 0xff]), body]);
}

function bitString(bytes: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0x03, bytes.length + 1, 0]), bytes]);
}

function compressed(spki: Buffer): Buffer {
  const prefix = Buffer.from(spki.subarray(0, spki.length - 65));
  prefix[1] = prefix[1]! - 32;
  prefix[prefix.length - 2] = 34;
  return Buffer.concat([prefix, ECDH.convertKey(spki.subarray(-65), 'prime256v1', undefined, undefined, 'compressed') as Buffer]);
}

/** An RSA SPKI with a real 3072-bit modulus and the given exponent (no signature by it can verify; none needs to). */
function rsaWithExponent(exponent: Buffer): Buffer {
  const der = generateKeyPairSync('rsa', { modulusLength: 3072 }).publicKey.export({ type: 'spki', format: 'der' });
  const info = AsnConvert.parse(der, SubjectPublicKeyInfo);
  const key = AsnConvert.parse(info.subjectPublicKey, RSAPublicKey);
  key.publicExponent = Uint8Array.from(exponent).buffer;
  info.subjectPublicKey = AsnConvert.serialize(key);
  return Buffer.from(AsnConvert.serialize(info));
}

/** An RSA SPKI whose AlgorithmIdentifier lacks the NULL parameters RFC 3279 requires (OpenSSL reads it; Go does not). */
function rsaWithoutNull(): Buffer {
  const info = AsnConvert.parse(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'der' }), SubjectPublicKeyInfo);
  info.algorithm = new AlgorithmIdentifier({ algorithm: info.algorithm.algorithm });
  return Buffer.from(AsnConvert.serialize(info));
}

const hashedrekord = (pem: string, signature: Buffer) => ({
  apiVersion: '0.0.1', kind: 'hashedrekord',
  spec: { signature: { content: b64(signature), publicKey: { content: b64(pem) } }, data: { hash: { algorithm: 'sha256', value: createHash('sha256').update(ARTIFACT).digest('hex') } } },
});

const TYPE = 'application/vnd.in-toto+json';
const PAYLOAD = Buffer.from('{"_type":"https://in-toto.io/Statement/v1"}');
const PAE = Buffer.concat([Buffer.from(`DSSEv1 ${TYPE.length} ${TYPE} ${PAYLOAD.length} `), PAYLOAD]);
const dsse = (sigs: Buffer[], verifiers: string[]) => ({
  apiVersion: '0.0.1', kind: 'dsse',
  spec: { proposedContent: { envelope: JSON.stringify({ payload: b64(PAYLOAD), payloadType: TYPE, signatures: sigs.map((s) => ({ sig: b64(s) })) }), verifiers: verifiers.map(b64) } },
});

test('keys in forms node or Go cannot be trusted with are 400s naming the field; nothing is logged and the server lives on', async (t) => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const signature = sign('sha256', ARTIFACT, privateKey);
  const explicit = generateKeyPairSync('ec', { namedCurve: 'P-256', paramEncoding: 'explicit' } as { namedCurve: string }).publicKey.export({ type: 'spki', format: 'der' });
  const cases: [unknown, RegExp][] = [
    [hashedrekord(derToPem(certificateFor(INFINITY)), signature), /^spec\.signature\.publicKey\.content holds a certificate whose public key cannot be parsed/],
    [hashedrekord(derToPem(INFINITY, 'PUBLIC KEY'), signature), /^spec\.signature\.publicKey\.content holds an ECDSA P-256 key whose point is not in the uncompressed form/],
    [hashedrekord(derToPem(compressed(spki), 'PUBLIC KEY'), signature), /holds an ECDSA P-256 key whose point is not in the uncompressed form/],
    [hashedrekord(derToPem(certificateFor(compressed(spki))), signature), /holds a certificate whose public key is an ECDSA P-256 key whose point is not in the uncompressed form/],
    [hashedrekord(derToPem(explicit, 'PUBLIC KEY'), signature), /holds an EC key with explicit curve parameters/],
    [hashedrekord(derToPem(certificateFor(rsaWithoutNull())), signature), /holds a certificate whose public key is a key not written in DER the one way/],
    [dsse([Buffer.alloc(384, 1)], [derToPem(rsaWithExponent(Buffer.concat([Buffer.of(0x3f), Buffer.alloc(383, 0xff)])), 'PUBLIC KEY')]), /^spec\.proposedContent\.verifiers\[0\] holds an RSA key whose public exponent is not an odd number from 3 to 2\^31-1/],
    [dsse([Buffer.alloc(384, 1)], [derToPem(rsaWithExponent(Buffer.from([0x00, 0x80, 0, 0, 1])), 'PUBLIC KEY')]), /public exponent is not an odd number from 3 to 2\^31-1/],
    [dsse([Buffer.alloc(128, 1)], [derToPem(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'der' }), 'PUBLIC KEY')]), /an RSA key of 1024 bits \(2048 to 4096 are accepted\)/],
  ];
  const rekor = await startInlineAndPooledRekor();
  t.teardown(rekor.close);
  for (const url of rekor.urls) {
    for (const [body, message] of cases) {
      const res = await postEntry(url, body);
      const err = await res.json() as { message: string };
      t.is(res.status, 400, err.message);
      t.regex(err.message, message);
    }
  }
  t.deepEqual(rekor.logs.map((l) => l.size()), [0, 0]);
  // the same key in its one form goes in once; the compressed spelling of it can never be a second entry
  const good = hashedrekord(derToPem(spki, 'PUBLIC KEY'), signature);
  t.is((await postEntry(rekor.urls[0], good)).status, 201);
  t.is((await postEntry(rekor.urls[0], good)).status, 409);
  t.is(rekor.logs[0].size(), 1);
});

test('dsse: a signature repeated in the envelope is checked once and stored once', async (t) => {
  const signer = generateSigner();
  const rekor = await startInlineAndPooledRekor();
  t.teardown(rekor.close);
  const sig = signer.sign(PAE);
  const res = await postEntry(rekor.urls[1], dsse(Array(16).fill(sig), [signer.publicKey.export({ type: 'spki', format: 'pem' }).toString()]));
  t.is(res.status, 201);
  const entry = Object.values(await res.json() as Record<string, { body: string }>)[0]!;
  t.is(JSON.parse(Buffer.from(entry.body, 'base64').toString()).spec.signatures.length, 1);
});

test('a certificate\'s key is read from its own SubjectPublicKeyInfo, never from the same bytes planted in an extension', async (t) => {
  const ecKey = () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    return { privateKey, spki: publicKey.export({ type: 'spki', format: 'der' }) };
  };
  const a = ecKey();
  const b = ecKey();
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const rsaSpki = rsa.publicKey.export({ type: 'spki', format: 'der' });
  const bySigner = (key: Parameters<typeof sign>[2]) => sign('sha256', ARTIFACT, key);
  const rekor = await startInlineAndPooledRekor();
  t.teardown(rekor.close);
  const post = async (cert: Buffer, signature: Buffer) => {
    const res = await postEntry(rekor.urls[1], hashedrekord(derToPem(cert), signature));
    return { status: res.status, message: (await res.json() as { message?: string }).message ?? '' };
  };
  const refused = (answer: { status: number; message: string }, message: RegExp) => {
    t.is(answer.status, 400, answer.message);
    t.regex(answer.message, message);
  };
  // An RSA certificate carrying a canonical P-256 key in an extension: only the RSA key signs for it.
  const rsaCert = certificateFor(rsaSpki, [b.spki]);
  refused(await post(rsaCert, bySigner(b.privateKey)), /signature does not verify/);
  t.is((await post(rsaCert, bySigner(rsa.privateKey))).status, 201);
  // A compressed key with the canonical spelling of another key (or of itself) beside it: refused as compressed.
  for (const planted of [b.spki, a.spki]) {
    refused(await post(certificateFor(compressed(a.spki), [planted]), bySigner(a.privateKey)), /point is not in the uncompressed form/);
  }
  // The point at infinity with a canonical key beside it: refused, and the process lives on (next request answered).
  refused(await post(certificateFor(INFINITY, [b.spki]), bySigner(b.privateKey)), /public key cannot be parsed/);
  // The certified key signs for it, with another key's SPKI beside it or not; a certificate repeating its key's x is
  // ambiguous and refused.
  t.is((await post(certificateFor(a.spki, [b.spki]), bySigner(a.privateKey))).status, 201);
  refused(await post(certificateFor(a.spki, [b.spki]), bySigner(b.privateKey)), /signature does not verify/);
  refused(await post(certificateFor(a.spki, [a.spki.subarray(-64, -32)]), bySigner(a.privateKey)), /x coordinate the certificate repeats/);
  // A key whose SPKI has a long-form length (30 81 59: BER, which OpenSSL reads and Go does not) with its DER copy in
  // an extension: the copy is found but is not the certificate's own SPKI (a reviewer's 201 before).
  refused(await post(longFormSpkiCertificate(a.spki), bySigner(a.privateKey)), /not written in DER the one way/);
  t.is(rekor.logs[1].size(), 2);

  // Which path read the key: from the SPKI's bytes (curve and point known, no DER export) for an EC certificate; the
  // general one (OpenSSL's export) for an RSA one. The same key either way.
  const read = (cert: Buffer) => parseVerifierKey(Buffer.from(derToPem(cert)), 'pem');
  const plain = read(certificateFor(a.spki));
  t.is(plain.form?.type, 'ec');
  t.deepEqual(plain.publicKey.export({ type: 'spki', format: 'der' }), a.spki);
  const rsaRead = read(rsaCert);
  t.is(rsaRead.form, undefined);
  t.deepEqual(rsaRead.publicKey.export({ type: 'spki', format: 'der' }), rsaSpki);
});
