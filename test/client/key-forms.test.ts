/**
 * Keys the client reads from outside (a bundle's certificate, a trusted root, a cosign key file) are held to the
 * forms core/public-key.ts accepts before node:crypto is asked about them: node 20 aborts the process (no
 * exception) when asked for the details or the JWK of a P-256 key at the point at infinity, which OpenSSL
 * imports. A verifier in an admission webhook must refuse such a bundle, not die of it.
 */
import test from 'ava';
import { ECDH, generateKeyPairSync } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import { VerificationError } from '../../core/errors.ts';
import { derToPem } from '../../core/pem.ts';
import { importPublicKey, publicKeyForm, UnsupportedKeyError } from '../../core/public-key.ts';
import { loadLeaf } from '../../client/verify/leaf.ts';
import { parseTrustedRoot } from '../../client/trusted-root.ts';
import { KeyFileError, readPublicKey } from '../../client/oci/cosign-key.ts';
import { name, signTbs, tbsOf, TestPki } from './pki-fixture.ts';

const INFINITY = Buffer.from('3019301306072a8648ce3d020106082a8648ce3d03010703020000', 'hex');
const p256 = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' });

function compressed(spki: Buffer): Buffer {
  const prefix = Buffer.from(spki.subarray(0, spki.length - 65));
  prefix[1] = prefix[1]! - 32;
  prefix[prefix.length - 2] = 34;
  return Buffer.concat([prefix, ECDH.convertKey(spki.subarray(-65), 'prime256v1', undefined, undefined, 'compressed') as Buffer]);
}
const explicit = () => generateKeyPairSync('ec', { namedCurve: 'P-256', paramEncoding: 'explicit' } as { namedCurve: string }).publicKey.export({ type: 'spki', format: 'der' });

function rsaWithoutNull(): Buffer {
  const info = AsnConvert.parse(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'der' }), SubjectPublicKeyInfo);
  info.algorithm = new AlgorithmIdentifier({ algorithm: info.algorithm.algorithm });
  return Buffer.from(AsnConvert.serialize(info));
}

test('the accepted forms import to the same key node exports; every other form is refused by its bytes alone', (t) => {
  for (const [type, options] of [['ec', { namedCurve: 'P-256' }], ['ec', { namedCurve: 'P-384' }], ['ec', { namedCurve: 'P-521' }], ['ed25519', {}], ['rsa', { modulusLength: 2048 }], ['rsa', { modulusLength: 4096 }]] as const) {
    const spki = generateKeyPairSync(type as 'ec', options as { namedCurve: string }).publicKey.export({ type: 'spki', format: 'der' });
    t.deepEqual(importPublicKey(spki).key.export({ type: 'spki', format: 'der' }), spki, `${type} ${JSON.stringify(options)}`);
  }
  const refused: [string, Buffer][] = [
    ['infinity', INFINITY], ['compressed', compressed(p256())], ['explicit parameters', explicit()], ['trailing byte', Buffer.concat([p256(), Buffer.of(0)])],
    ['secp256k1', generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey.export({ type: 'spki', format: 'der' })],
    ['RSA 1024', generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'der' })],
    ['x25519', generateKeyPairSync('x25519').publicKey.export({ type: 'spki', format: 'der' })],
    ['RSA without NULL parameters', rsaWithoutNull()],
  ];
  for (const [what, spki] of refused) t.throws(() => publicKeyForm(spki), { instanceOf: UnsupportedKeyError }, what);
  const offCurve = p256();
  offCurve[offCurve.length - 1]! ^= 1;
  t.throws(() => importPublicKey(offCurve), { instanceOf: UnsupportedKeyError, message: /not on the curve/ });
});

test('a bundle leaf whose key is at infinity, compressed or with explicit parameters is a CHAIN refusal, not an abort', (t) => {
  const pki = new TestPki();
  for (const spki of [INFINITY, compressed(p256()), explicit()]) {
    const der = signTbs(tbsOf({
      subject: name('subject'), issuer: name('intermediate'), issuerSigner: pki.intermediate, publicKeyDer: spki,
      notBefore: new Date(pki.now), notAfter: new Date(pki.now + 60_000), extensions: [],
    }), pki.intermediate);
    t.throws(() => loadLeaf(der), { instanceOf: VerificationError, message: /^signing certificate: / });
  }
});

test('a trusted root whose log key is at infinity, and a cosign key file holding one, are refused with their own errors', (t) => {
  const pki = new TestPki();
  const root = pki.trustedRoot();
  root.tlogs[0].publicKey.rawBytes = INFINITY.toString('base64');
  t.throws(() => parseTrustedRoot(root), { instanceOf: VerificationError, message: /publicKey\.rawBytes holds an ECDSA P-256 key whose point is not in the uncompressed form/ });
  t.throws(() => readPublicKey(derToPem(INFINITY, 'PUBLIC KEY')), { instanceOf: KeyFileError, message: /only ECDSA P-256 keys are supported/ });
  t.throws(() => readPublicKey(derToPem(compressed(p256()), 'PUBLIC KEY')), { instanceOf: KeyFileError });
});
