/**
 * Test-only certificate hierarchies for the CT log tests: a root CA, an intermediate CA and leaf
 * (pre)certificates, built with node:crypto keys and @peculiar/asn1-x509 structures (not @peculiar/x509, whose
 * tsyringe dependency needs a Reflect metadata polyfill the project does not install), plus the CA's
 * "final certificate" step (poison swapped for the SCT list) used as an oracle.
 */
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier, AttributeTypeAndValue, AttributeValue, AuthorityKeyIdentifier, BasicConstraints, Certificate,
  ExtendedKeyUsage, Extension, Extensions, GeneralName, KeyIdentifier, KeyUsage, KeyUsageFlags, Name,
  RelativeDistinguishedName, SubjectAlternativeName, SubjectPublicKeyInfo, TBSCertificate, Validity, Version,
} from '@peculiar/asn1-x509';

export const OID_CT_POISON = '1.3.6.1.4.1.11129.2.4.3';
export const OID_SCT_LIST = '1.3.6.1.4.1.11129.2.4.2';
export const OID_PRECERT_SIGNING = '1.3.6.1.4.1.11129.2.4.4';
const OID_ECDSA_SHA256 = '1.2.840.10045.4.3.2';
const ASN1_NULL = Buffer.from([0x05, 0x00]);

export interface TestCa {
  der: Buffer;
  name: Name;
  spki: Buffer;
  privateKey: KeyObject;
}

function ext(extnID: string, critical: boolean, value: ArrayBuffer | Uint8Array): Extension {
  return new Extension({ extnID, critical, extnValue: new OctetString(value) });
}

/** A Name with one UTF8String CN. */
function dn(cn: string): Name {
  return new Name([new RelativeDistinguishedName([
    new AttributeTypeAndValue({ type: '2.5.4.3', value: new AttributeValue({ utf8String: cn }) }),
  ])]);
}

let serial = 1;

function issue(subject: Name, issuer: Name, spki: Buffer, signer: KeyObject, extensions: Extension[], validity: Validity): Buffer {
  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: new Uint8Array([0x01, serial++ & 0x7f]).buffer,
    signature: new AlgorithmIdentifier({ algorithm: OID_ECDSA_SHA256 }),
    issuer, validity, subject,
    subjectPublicKeyInfo: AsnConvert.parse(spki, SubjectPublicKeyInfo),
    extensions: new Extensions(extensions),
  });
  return signTbs(tbs, signer);
}

function signTbs(tbs: TBSCertificate, signer: KeyObject): Buffer {
  const tbsDer = Buffer.from(AsnConvert.serialize(tbs));
  const cert = new Certificate({
    tbsCertificate: tbs,
    signatureAlgorithm: new AlgorithmIdentifier({ algorithm: OID_ECDSA_SHA256 }),
    signatureValue: Uint8Array.from(sign('sha256', tbsDer, signer)).buffer,
  });
  return Buffer.from(AsnConvert.serialize(cert));
}

function keyPair(): { spki: Buffer; privateKey: KeyObject } {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { spki: publicKey.export({ type: 'spki', format: 'der' }), privateKey };
}

const CA_VALIDITY = new Validity({ notBefore: new Date('2024-01-01T00:00:00Z'), notAfter: new Date('2034-01-01T00:00:00Z') });

function caExtensions(extra: Extension[]): Extension[] {
  return [
    ext('2.5.29.19', true, AsnConvert.serialize(new BasicConstraints({ cA: true }))),
    ext('2.5.29.15', true, AsnConvert.serialize(new KeyUsage(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign))),
    ...extra,
  ];
}

export function makeRoot(cn = 'sigstack test root'): TestCa {
  const { spki, privateKey } = keyPair();
  const n = dn(cn);
  return { der: issue(n, n, spki, privateKey, caExtensions([]), CA_VALIDITY), name: n, spki, privateKey };
}

/** A CA certificate issued by `parent`; `extraEku` adds an extended key usage (e.g. precertificate signing). */
export function makeIntermediate(parent: TestCa, cn = 'sigstack test intermediate', extraEku?: string): TestCa {
  const { spki, privateKey } = keyPair();
  const n = dn(cn);
  const extra = extraEku ? [ext('2.5.29.37', false, AsnConvert.serialize(new ExtendedKeyUsage([extraEku])))] : [];
  return { der: issue(n, parent.name, spki, parent.privateKey, caExtensions(extra), CA_VALIDITY), name: n, spki, privateKey };
}

export interface LeafOptions {
  /** Add the CT poison extension (a precertificate). Default true. */
  poison?: boolean;
  /** Poison extension criticality. Default true. */
  poisonCritical?: boolean;
  /** Poison extension value. Default ASN.1 NULL. */
  poisonValue?: Buffer;
  /** The poison as the only extension. */
  poisonOnly?: boolean;
}

/** A Fulcio-like leaf (code-signing EKU, email SAN) issued by `issuer`. */
export function makeLeaf(issuer: TestCa, opts: LeafOptions = {}): Buffer {
  const { spki } = keyPair();
  const poison = ext(OID_CT_POISON, opts.poisonCritical ?? true, opts.poisonValue ?? ASN1_NULL);
  const usual = [
    ext('2.5.29.15', true, AsnConvert.serialize(new KeyUsage(KeyUsageFlags.digitalSignature))),
    ext('2.5.29.37', false, AsnConvert.serialize(new ExtendedKeyUsage(['1.3.6.1.5.5.7.3.3']))),
    ext('2.5.29.35', false, AsnConvert.serialize(new AuthorityKeyIdentifier({
      keyIdentifier: new KeyIdentifier(createHash('sha1').update(issuer.spki).digest()),
    }))),
    ext('2.5.29.17', true, AsnConvert.serialize(new SubjectAlternativeName([new GeneralName({ rfc822Name: 'alice@example.com' })]))),
  ];
  let extensions: Extension[];
  if (opts.poisonOnly) extensions = [poison];
  else if (opts.poison === false) extensions = usual;
  // The poison sits in the middle on purpose: the log must remove it without reordering the rest.
  else extensions = [...usual.slice(0, 2), poison, ...usual.slice(2)];
  const validity = new Validity({ notBefore: new Date('2025-01-01T00:00:00Z'), notAfter: new Date('2025-01-01T00:10:00Z') });
  return issue(new Name(), issuer.name, spki, issuer.privateKey, extensions, validity);
}

/**
 * What the CA does once it has the SCTs: the precertificate's TBS with the poison extension replaced, in place,
 * by the SCT list extension (an OCTET STRING wrapping the TLS SignedCertificateTimestampList), signed again.
 */
export function finalCertificate(precertDer: Buffer, issuer: TestCa, sctList: Buffer): Buffer {
  const tbs = AsnConvert.parse(precertDer, Certificate).tbsCertificate;
  const exts = tbs.extensions ?? new Extensions();
  const i = exts.findIndex((e) => e.extnID === OID_CT_POISON);
  if (i < 0) throw new Error('not a precertificate');
  exts.splice(i, 1, ext(OID_SCT_LIST, false, AsnConvert.serialize(new OctetString(sctList))));
  tbs.extensions = exts;
  return signTbs(tbs, issuer.privateKey);
}

/** Re-signs `certDer`'s TBS with another key: same bytes, wrong signature. */
export function resign(certDer: Buffer, key: KeyObject): Buffer {
  return signTbs(AsnConvert.parse(certDer, Certificate).tbsCertificate, key);
}
