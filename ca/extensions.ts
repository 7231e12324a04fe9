import { createHash } from 'node:crypto';
import * as asn1js from 'asn1js';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, Extension, KeyIdentifier, KeyUsage } from '@peculiar/asn1-x509';
import { contextConstructedDer, encode, sequenceDer } from '../core/raw-der.ts';
import { canonicalP256Point } from '../core/p256-spki.ts';

/**
 * Certificate extensions: the standard ones of the Fulcio profile and Sigstore's own OIDs
 * (docs/oid-info.md upstream). All DER comes from asn1-schema or, for what every leaf encodes, from asn1js
 * directly (asn1-schema's reflection costs several times the encoding); nothing here encodes by hand.
 */

export const OID = {
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  basicConstraints: '2.5.29.19',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  subjectAltName: '2.5.29.17',
  codeSigning: '1.3.6.1.5.5.7.3.3',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  /** RFC 6962 section 3.1: marks a precertificate; critical, value NULL. */
  ctPoison: '1.3.6.1.4.1.11129.2.4.3',
  /** RFC 6962 section 3.3: embedded SignedCertificateTimestampList. */
  ctSctList: '1.3.6.1.4.1.11129.2.4.2',
  // Sigstore (1.3.6.1.4.1.57264.1.*). .1 to .6 hold raw bytes (a historical mistake kept for old verifiers);
  // .8 onwards hold DER UTF8Strings.
  issuerV1: '1.3.6.1.4.1.57264.1.1',
  githubWorkflowTrigger: '1.3.6.1.4.1.57264.1.2',
  githubWorkflowSha: '1.3.6.1.4.1.57264.1.3',
  githubWorkflowName: '1.3.6.1.4.1.57264.1.4',
  githubWorkflowRepository: '1.3.6.1.4.1.57264.1.5',
  githubWorkflowRef: '1.3.6.1.4.1.57264.1.6',
  otherNameSan: '1.3.6.1.4.1.57264.1.7',
  issuerV2: '1.3.6.1.4.1.57264.1.8',
  buildSignerUri: '1.3.6.1.4.1.57264.1.9',
  buildSignerDigest: '1.3.6.1.4.1.57264.1.10',
  runnerEnvironment: '1.3.6.1.4.1.57264.1.11',
  sourceRepositoryUri: '1.3.6.1.4.1.57264.1.12',
  sourceRepositoryDigest: '1.3.6.1.4.1.57264.1.13',
  sourceRepositoryRef: '1.3.6.1.4.1.57264.1.14',
  sourceRepositoryIdentifier: '1.3.6.1.4.1.57264.1.15',
  sourceRepositoryOwnerUri: '1.3.6.1.4.1.57264.1.16',
  sourceRepositoryOwnerIdentifier: '1.3.6.1.4.1.57264.1.17',
  buildConfigUri: '1.3.6.1.4.1.57264.1.18',
  buildConfigDigest: '1.3.6.1.4.1.57264.1.19',
  buildTrigger: '1.3.6.1.4.1.57264.1.20',
  runInvocationUri: '1.3.6.1.4.1.57264.1.21',
  sourceRepositoryVisibilityAtSigning: '1.3.6.1.4.1.57264.1.22',
  deploymentEnvironment: '1.3.6.1.4.1.57264.1.23',
  tokenSubject: '1.3.6.1.4.1.57264.1.24',
} as const;

/** An extension as the identity layer hands it over: OID and the DER extnValue content. */
export interface CertExtension {
  oid: string;
  value: Buffer;
  critical?: boolean;
}

export type SubjectAltName = { type: 'email' | 'uri' | 'otherName'; value: string };

export function toArrayBuffer(buf: Buffer): ArrayBuffer {
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length) as ArrayBuffer;
}

export function der(obj: unknown): Buffer {
  return Buffer.from(AsnConvert.serialize(obj));
}

/** DER UTF8String, the encoding of OIDs 1.3.6.1.4.1.57264.1.8 and later and of the OtherName SAN value. */
export function utf8StringDer(value: string): Buffer {
  return encode(new asn1js.Utf8String({ value }));
}

/** DER OCTET STRING holding `value`. */
function octetStringDer(value: Uint8Array): Buffer {
  return encode(new asn1js.OctetString({ valueHex: value }));
}

export function toX509Extension(ext: CertExtension): Extension {
  return new Extension({ extnID: ext.oid, critical: ext.critical ?? false, extnValue: new OctetString(ext.value) });
}

/** Encoded OBJECT IDENTIFIERs by dotted string: extension OIDs come from the fixed table above. */
const oidDerCache = new Map<string, Uint8Array>();

function oidDer(oid: string): Uint8Array {
  let der = oidDerCache.get(oid);
  if (!der) {
    der = new Uint8Array(new asn1js.ObjectIdentifier({ value: oid }).toBER(false));
    if (oidDerCache.size < 256) oidDerCache.set(oid, der);
  }
  return der;
}

/**
 * The DER of one Extension, byte-identical to asn1-x509's `AsnConvert.serialize(toX509Extension(ext))` (the
 * `critical` BOOLEAN left out when false, its DEFAULT) but encoded by asn1js directly: this runs for every
 * extension of every certificate, and asn1-schema's reflection costs several times the encoding itself.
 * test/ca/leaf-encoding.test.ts checks the two agree.
 */
export function extensionDer(ext: CertExtension): Buffer {
  return sequenceDer(ext.critical ? [oidDer(ext.oid), DER_TRUE, octetStringDer(ext.value)] : [oidDer(ext.oid), octetStringDer(ext.value)]);
}

const DER_TRUE = encode(new asn1js.Boolean({ value: true }));

/** The subjectPublicKey BIT STRING contents of a DER SubjectPublicKeyInfo (parsed by asn1js, not by hand). */
export function subjectPublicKeyBits(spkiDer: Buffer): Buffer {
  const point = canonicalP256Point(spkiDer); // the common case, without an ASN.1 parse
  if (point) return Buffer.from(point);
  const { offset, result } = asn1js.fromBER(spkiDer, { parseEmbedded: false });
  const key = offset === spkiDer.length && result instanceof asn1js.Sequence ? result.valueBlock.value[1] : undefined;
  if (!(key instanceof asn1js.BitString) || key.valueBlock.unusedBits !== 0) throw new Error('not a DER SubjectPublicKeyInfo');
  return Buffer.from(key.valueBlock.valueHexView);
}

/** RFC 5280 4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING contents. */
export function keyIdentifier(spkiDer: Buffer): Buffer {
  return createHash('sha1').update(subjectPublicKeyBits(spkiDer)).digest();
}

export function keyUsageExtension(flags: number): CertExtension {
  return { oid: OID.keyUsage, critical: true, value: der(new KeyUsage(flags)) };
}

export function codeSigningEkuExtension(): CertExtension {
  return { oid: OID.extKeyUsage, value: der(new ExtendedKeyUsage([OID.codeSigning])) };
}

export function basicConstraintsExtension(ca: boolean, pathLen?: number): CertExtension {
  return { oid: OID.basicConstraints, critical: true, value: der(new BasicConstraints({ cA: ca, pathLenConstraint: pathLen })) };
}

export function subjectKeyIdExtension(keyId: Buffer): CertExtension {
  // KeyIdentifier ::= OCTET STRING (asn1js directly: this runs for every leaf)
  return { oid: OID.subjectKeyIdentifier, value: octetStringDer(keyId) };
}

export function authorityKeyIdExtension(keyId: Buffer): CertExtension {
  return { oid: OID.authorityKeyIdentifier, value: der(new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(keyId) })) };
}

/** A GeneralName `[tagNumber] IMPLICIT IA5String` (rfc822Name 1, uniformResourceIdentifier 6), its bytes as asn1js writes an IA5String. */
function ia5GeneralNameDer(tagNumber: number, value: string): Buffer {
  const ia5 = new asn1js.IA5String({ value });
  return encode(new asn1js.Primitive({ idBlock: { tagClass: 3, tagNumber }, valueHex: ia5.valueBlock.valueHexView }));
}

/**
 * The SAN: critical, because the subject is empty (RFC 5280 4.2.1.6). GeneralNames with one name, encoded with
 * asn1js directly (this runs for every leaf); test/ca/leaf-encoding.test.ts checks it equals asn1-x509's
 * GeneralNames encoding for every kind of name.
 */
export function subjectAltNameExtension(san: SubjectAltName): CertExtension {
  let name: Buffer;
  if (san.type === 'email') name = ia5GeneralNameDer(1, san.value);
  else if (san.type === 'uri') name = ia5GeneralNameDer(6, san.value);
  // otherName [0] IMPLICIT OtherName: the type id, then the value as [0] EXPLICIT UTF8String
  else name = contextConstructedDer(0, [oidDer(OID.otherNameSan), contextConstructedDer(0, [utf8StringDer(san.value)])]);
  return { oid: OID.subjectAltName, critical: true, value: sequenceDer([name]) };
}

export function ctPoisonExtension(): CertExtension {
  // RFC 6962: "extnValue OCTET STRING which contains ASN.1 NULL data (0x05 0x00)".
  return { oid: OID.ctPoison, critical: true, value: Buffer.from([0x05, 0x00]) };
}

/** The SCT list extension: an OCTET STRING wrapping the TLS-encoded SignedCertificateTimestampList. */
export function sctListExtension(tlsSctList: Buffer): CertExtension {
  return { oid: OID.ctSctList, value: octetStringDer(tlsSctList) };
}

/** The values of Fulcio's own extensions, by name (upstream certificate.Extensions). */
export interface FulcioExtensionValues {
  issuer: string;
  githubWorkflowTrigger?: string;
  githubWorkflowSha?: string;
  githubWorkflowName?: string;
  githubWorkflowRepository?: string;
  githubWorkflowRef?: string;
  buildSignerUri?: string;
  buildSignerDigest?: string;
  runnerEnvironment?: string;
  sourceRepositoryUri?: string;
  sourceRepositoryDigest?: string;
  sourceRepositoryRef?: string;
  sourceRepositoryIdentifier?: string;
  sourceRepositoryOwnerUri?: string;
  sourceRepositoryOwnerIdentifier?: string;
  buildConfigUri?: string;
  buildConfigDigest?: string;
  buildTrigger?: string;
  runInvocationUri?: string;
  sourceRepositoryVisibilityAtSigning?: string;
  deploymentEnvironment?: string;
  tokenSubject?: string;
}

const RAW_FIELDS = ['githubWorkflowTrigger', 'githubWorkflowSha', 'githubWorkflowName', 'githubWorkflowRepository', 'githubWorkflowRef'] as const;
const DER_FIELDS = [
  'buildSignerUri', 'buildSignerDigest', 'runnerEnvironment', 'sourceRepositoryUri', 'sourceRepositoryDigest',
  'sourceRepositoryRef', 'sourceRepositoryIdentifier', 'sourceRepositoryOwnerUri', 'sourceRepositoryOwnerIdentifier',
  'buildConfigUri', 'buildConfigDigest', 'buildTrigger', 'runInvocationUri', 'sourceRepositoryVisibilityAtSigning',
  'deploymentEnvironment', 'tokenSubject',
] as const;

/**
 * Renders Fulcio's extensions in upstream's order: 1.1 (raw issuer), 1.2-1.6 (raw), 1.8 (issuer), then
 * 1.9-1.24 (DER UTF8String). Empty values are left out; the issuer is mandatory.
 */
export function renderFulcioExtensions(values: FulcioExtensionValues): CertExtension[] {
  if (!values.issuer) throw new Error('extensions must have a non-empty issuer');
  const out: CertExtension[] = [{ oid: OID.issuerV1, value: Buffer.from(values.issuer, 'utf8') }];
  for (const field of RAW_FIELDS) {
    const v = values[field];
    if (v) out.push({ oid: OID[field], value: Buffer.from(v, 'utf8') });
  }
  out.push({ oid: OID.issuerV2, value: utf8StringDer(values.issuer) });
  for (const field of DER_FIELDS) {
    const v = values[field];
    if (v) out.push({ oid: OID[field], value: utf8StringDer(v) });
  }
  return out;
}
