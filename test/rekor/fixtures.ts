/**
 * Test fixtures for the Rekor face: signing keys of every kind hashedrekord accepts, a certificate for any
 * public key (built with @peculiar/asn1-x509, signed by a throwaway P-256 CA), and proposed entries.
 */
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier, AttributeTypeAndValue, AttributeValue, Certificate, Name, RelativeDistinguishedName,
  SubjectPublicKeyInfo, TBSCertificate, Validity, Version,
} from '@peculiar/asn1-x509';
import { ed25519ph } from '@noble/curves/ed25519';

export type Alg = 'sha256' | 'sha384' | 'sha512';

export interface TestKey {
  name: string;
  publicKey: KeyObject;
  alg: Alg;
  /** Signature over `data` the way a client signs an artifact (hash-and-sign; Ed25519ph for Ed25519). */
  sign(data: Buffer): Buffer;
}

export function ecKey(curve: 'P-256' | 'P-384' | 'P-521' = 'P-256'): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: curve });
  const alg: Alg = curve === 'P-256' ? 'sha256' : curve === 'P-384' ? 'sha384' : 'sha512';
  return { name: `ecdsa-${curve}`, publicKey, alg, sign: (data) => sign(alg, data, privateKey) };
}

export function rsaKey(bits = 2048): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: bits });
  return { name: `rsa-${bits}`, publicKey, alg: 'sha256', sign: (data) => sign('sha256', data, privateKey) };
}

export function ed25519Key(): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const seed = Buffer.from(privateKey.export({ format: 'jwk' }).d!, 'base64url');
  // Ed25519ph (RFC 8032 prehash variant): noble hashes `data` with SHA-512 itself.
  return { name: 'ed25519ph', publicKey, alg: 'sha512', sign: (data) => Buffer.from(ed25519ph.sign(data, seed)) };
}

export function digestOf(alg: Alg, data: Buffer): Buffer {
  return createHash(alg).update(data).digest();
}

export function toPem(type: string, der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${type}-----\n${lines.join('\n')}\n-----END ${type}-----\n`;
}

export function publicKeyPem(key: KeyObject): string {
  return key.export({ type: 'spki', format: 'pem' }).toString();
}

const ca = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
let serial = 1;

/** DER certificate for `subjectKey`, issued by a throwaway CA (the log reads only the key from it). */
export function certificateFor(subjectKey: KeyObject, cn = 'rekor test signer'): Buffer {
  const name = new Name([new RelativeDistinguishedName([
    new AttributeTypeAndValue({ type: '2.5.4.3', value: new AttributeValue({ utf8String: cn }) }),
  ])]);
  const spki = subjectKey.export({ type: 'spki', format: 'der' });
  const ecdsaSha256 = new AlgorithmIdentifier({ algorithm: '1.2.840.10045.4.3.2' });
  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: new Uint8Array([0x01, serial++ & 0x7f]).buffer,
    signature: ecdsaSha256,
    issuer: name,
    subject: name,
    validity: new Validity({ notBefore: new Date('2024-01-01T00:00:00Z'), notAfter: new Date('2034-01-01T00:00:00Z') }),
    subjectPublicKeyInfo: AsnConvert.parse(spki, SubjectPublicKeyInfo),
  });
  const signature = sign('sha256', Buffer.from(AsnConvert.serialize(tbs)), ca);
  return Buffer.from(AsnConvert.serialize(new Certificate({
    tbsCertificate: tbs,
    signatureAlgorithm: ecdsaSha256,
    signatureValue: Uint8Array.from(signature).buffer,
  })));
}

export interface Proposal {
  apiVersion: string;
  kind: string;
  spec: {
    signature: { content: string; publicKey: { content: string } };
    data: { hash: { algorithm: string; value: string } };
  };
}

export function proposal(signature: Buffer, keyPem: string, alg: string, digestHex: string): Proposal {
  return {
    apiVersion: '0.0.1',
    kind: 'hashedrekord',
    spec: {
      signature: { content: signature.toString('base64'), publicKey: { content: Buffer.from(keyPem).toString('base64') } },
      data: { hash: { algorithm: alg, value: digestHex } },
    },
  };
}

/** A valid proposal: `key` signs `data`; the entry names the key as a bare PEM key or inside a certificate. */
export function signedProposal(key: TestKey, data: Buffer, form: 'key' | 'cert' = 'key') {
  const signature = key.sign(data);
  const digest = digestOf(key.alg, data);
  const keyPem = form === 'key' ? publicKeyPem(key.publicKey) : toPem('CERTIFICATE', certificateFor(key.publicKey));
  return { proposal: proposal(signature, keyPem, key.alg, digest.toString('hex')), signature, digest, keyPem };
}

/**
 * The canonical body Rekor would store, written out by hand (keys in RFC 8785 order) so the test does not
 * reuse the code under test.
 */
export function expectedBody(signature: Buffer, keyPem: string, alg: string, digestHex: string): string {
  return `{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{"data":{"hash":{"algorithm":"${alg}","value":"${digestHex}"}},` +
    `"signature":{"content":"${signature.toString('base64')}","publicKey":{"content":"${Buffer.from(keyPem).toString('base64')}"}}}}`;
}
