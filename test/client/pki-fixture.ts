/**
 * An in-memory Sigstore deployment for the verifier's unit tests: a root and an intermediate CA, a CT log
 * key, a Rekor key and an RFC 6962 tree, producing v0.3 bundles and the matching trusted_root.json.
 * Independent of the servers, so each test can also build what a real stack never would (an intermediate
 * that expired, an SCT outside its log's validity, a forged SET...). @sigstore/verify accepting these bundles
 * (see verify-interop.test.ts) is what shows the fixture itself is right.
 */
import { createHash } from 'node:crypto';
import { AsnConvert, AsnProp, AsnPropTypes, AsnType, AsnTypeTypes, OctetString } from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier, AttributeTypeAndValue, AttributeValue, AuthorityKeyIdentifier, BasicConstraints, Certificate, ExtendedKeyUsage,
  Extension, Extensions, GeneralName, KeyIdentifier, KeyUsage, KeyUsageFlags, Name, OtherName, RelativeDistinguishedName,
  SubjectAlternativeName, SubjectKeyIdentifier, SubjectPublicKeyInfo, TBSCertificate, Validity, Version,
  id_ce_authorityKeyIdentifier, id_ce_basicConstraints, id_ce_extKeyUsage, id_ce_keyUsage, id_ce_subjectAltName,
  id_ce_subjectKeyIdentifier, id_kp_codeSigning,
} from '@peculiar/asn1-x509';
import { ENTRY_TYPE_PRECERT, HASH_SHA256, SIG_ECDSA, sctSignedData, serializeSctList, type SignedCertificateTimestamp } from '../../core/sct.ts';
import { derToPem } from '../../core/pem.ts';
import { generateSigner, type Signer } from '../../core/signer.ts';
import { signCheckpoint } from '../../log/checkpoint.ts';
import { leafHash, nodeHash } from '../../log/merkle/hash.ts';
import { canonicalize } from '../../client/verify/tlog-body.ts';
import { VerificationError } from '../../core/errors.ts';

@AsnType({ type: AsnTypeTypes.Choice })
class Utf8Value {
  @AsnProp({ type: AsnPropTypes.Utf8String }) value = '';
  constructor(value = '') {
    this.value = value;
  }
}

export const ISSUER = 'https://issuer.example.com';
export const EMAIL = 'alice@example.com';
const ECDSA_SHA256 = '1.2.840.10045.4.3.2';
const SCT_LIST_OID = '1.3.6.1.4.1.11129.2.4.2';

function name(cn: string): Name {
  return new Name([
    new RelativeDistinguishedName([new AttributeTypeAndValue({ type: '2.5.4.10', value: new AttributeValue({ utf8String: 'sigstack-test' }) })]),
    new RelativeDistinguishedName([new AttributeTypeAndValue({ type: '2.5.4.3', value: new AttributeValue({ utf8String: cn }) })]),
  ]);
}

function ext(extnID: string, critical: boolean, value: ArrayBuffer | Buffer): Extension {
  return new Extension({ extnID, critical, extnValue: new OctetString(value) });
}

export function keyId(signer: Signer): Buffer {
  return createHash('sha1').update(signer.publicKeyDer).digest();
}

export interface CertSpec {
  subject: Name;
  issuer: Name;
  issuerSigner: Signer;
  publicKeyDer: Buffer;
  notBefore: Date;
  notAfter: Date;
  extensions: Extension[];
}

export function tbsOf(spec: CertSpec): TBSCertificate {
  return new TBSCertificate({
    version: Version.v3,
    serialNumber: new Uint8Array(createHash('sha256').update(Math.random().toString()).digest().subarray(0, 16).map((b, i) => (i === 0 ? (b & 0x7f) | 1 : b))).buffer,
    signature: new AlgorithmIdentifier({ algorithm: ECDSA_SHA256 }),
    issuer: spec.issuer,
    validity: new Validity({ notBefore: spec.notBefore, notAfter: spec.notAfter }),
    subject: spec.subject,
    subjectPublicKeyInfo: AsnConvert.parse(spec.publicKeyDer, SubjectPublicKeyInfo),
    extensions: new Extensions(spec.extensions),
  });
}

export function signTbs(tbs: TBSCertificate, signer: Signer): Buffer {
  const tbsDer = Buffer.from(AsnConvert.serialize(tbs));
  const cert = new Certificate({ tbsCertificate: tbs, signatureAlgorithm: new AlgorithmIdentifier({ algorithm: ECDSA_SHA256 }), signatureValue: new Uint8Array(signer.sign(tbsDer)).buffer });
  return Buffer.from(AsnConvert.serialize(cert));
}

export function caCert(signer: Signer, opts: { cn: string; issuer?: { signer: Signer; cn: string }; notBefore: Date; notAfter: Date; pathLen?: number }): Buffer {
  const issuer = opts.issuer ?? { signer, cn: opts.cn };
  return signTbs(tbsOf({
    subject: name(opts.cn),
    issuer: name(issuer.cn),
    issuerSigner: issuer.signer,
    publicKeyDer: signer.publicKeyDer,
    notBefore: opts.notBefore,
    notAfter: opts.notAfter,
    extensions: [
      ext(id_ce_basicConstraints, true, AsnConvert.serialize(new BasicConstraints({ cA: true, pathLenConstraint: opts.pathLen }))),
      ext(id_ce_keyUsage, true, AsnConvert.serialize(new KeyUsage(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign))),
      ext(id_ce_subjectKeyIdentifier, false, AsnConvert.serialize(new SubjectKeyIdentifier(keyId(signer)))),
      ext(id_ce_authorityKeyIdentifier, false, AsnConvert.serialize(new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(keyId(issuer.signer)) }))),
    ],
  }), issuer.signer);
}

/** RFC 6962 Merkle tree over leaf hashes. */
export function mth(leaves: Buffer[]): Buffer {
  if (leaves.length === 1) return leaves[0]!;
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return nodeHash(mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}

export function path(m: number, leaves: Buffer[]): Buffer[] {
  if (leaves.length === 1) return [];
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return m < k ? [...path(m, leaves.slice(0, k)), mth(leaves.slice(k))] : [...path(m - k, leaves.slice(k)), mth(leaves.slice(0, k))];
}

export interface LeafOptions {
  san?: GeneralName | GeneralName[];
  issuer?: string | null;
  issuerV1?: string;
  notBefore?: Date;
  notAfter?: Date;
  sctTime?: number;
  ctSigner?: Signer;
  eku?: string[];
  extraExtensions?: Extension[];
  noSct?: boolean;
  /** The issuer key hash the SCT is computed over, instead of the real issuer's. */
  sctIssuerKey?: Buffer;
  sctExtensions?: Buffer;
  /** The intermediate that issues the leaf (default: this PKI's), with its subject CN. */
  issuerSigner?: Signer;
}

export interface SignOptions extends LeafOptions {
  integratedTime?: number;
  /** Entries appended to the log before this one (so the proof is not trivial). */
  padding?: number;
  leafSigner?: Signer;
  leafDer?: Buffer;
  /** The signature put in the bundle and the log (default: the leaf key over the artifact). */
  signature?: Buffer;
  /** Replaces the logged body (the log signs whatever it is given here). */
  body?: (digest: Buffer, signature: Buffer, leafDer: Buffer) => Buffer;
}

export class TestPki {
  readonly now = Date.now();
  readonly root = generateSigner();
  readonly intermediate = generateSigner();
  readonly ct = generateSigner();
  readonly rekor = generateSigner();
  readonly rekorUrl = 'https://rekor.test.example:8443';
  readonly rekorHost = 'rekor.test.example:8443';
  readonly treeId = '1234567890';
  readonly rootDer: Buffer;
  readonly intermediateDer: Buffer;
  readonly entries: Buffer[] = [];

  constructor(opts: { intermediateNotAfter?: Date } = {}) {
    const notBefore = new Date(this.now - 86_400_000);
    this.rootDer = caCert(this.root, { cn: 'root', notBefore, notAfter: new Date(this.now + 365 * 86_400_000), pathLen: 1 });
    this.intermediateDer = caCert(this.intermediate, {
      cn: 'intermediate', issuer: { signer: this.root, cn: 'root' }, notBefore, notAfter: opts.intermediateNotAfter ?? new Date(this.now + 300 * 86_400_000), pathLen: 0,
    });
  }

  trustedRoot(opts: { ctStart?: string; ctEnd?: string; caStart?: string | null; tlogStart?: string; extraCaChains?: Buffer[][] } = {}): Record<string, any> {
    const start = new Date(this.now - 86_400_000).toISOString();
    const log = (s: Signer, url: string, validFor: Record<string, string>) => ({
      baseUrl: url,
      hashAlgorithm: 'SHA2_256',
      publicKey: { rawBytes: s.publicKeyDer.toString('base64'), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor },
      logId: { keyId: s.keyId.toString('base64') },
    });
    return {
      mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
      tlogs: [log(this.rekor, this.rekorUrl, { start: opts.tlogStart ?? start })],
      certificateAuthorities: [[this.intermediateDer, this.rootDer], ...(opts.extraCaChains ?? [])].map((chain, i) => ({
        subject: { organization: 'sigstack-test', commonName: 'root' },
        uri: `https://ca${i || ''}.test.example`,
        certChain: { certificates: chain.map((d) => ({ rawBytes: d.toString('base64') })) },
        validFor: opts.caStart === null ? {} : { start: opts.caStart ?? start },
      })),
      ctlogs: [log(this.ct, 'https://ct.test.example', opts.ctEnd ? { start: opts.ctStart ?? start, end: opts.ctEnd } : { start: opts.ctStart ?? start })],
      timestampAuthorities: [],
    };
  }

  /** A Fulcio-style leaf with an embedded SCT. */
  leaf(signer: Signer, o: LeafOptions = {}): Buffer {
    const issuerSigner = o.issuerSigner ?? this.intermediate;
    const exts = [
      ext(id_ce_keyUsage, true, AsnConvert.serialize(new KeyUsage(KeyUsageFlags.digitalSignature))),
      ext(id_ce_extKeyUsage, false, AsnConvert.serialize(new ExtendedKeyUsage(o.eku ?? [id_kp_codeSigning]))),
      ext(id_ce_subjectKeyIdentifier, false, AsnConvert.serialize(new SubjectKeyIdentifier(keyId(signer)))),
      ext(id_ce_authorityKeyIdentifier, false, AsnConvert.serialize(new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(keyId(issuerSigner)) }))),
      ext(id_ce_subjectAltName, true, AsnConvert.serialize(new SubjectAlternativeName(([] as GeneralName[]).concat(o.san ?? new GeneralName({ rfc822Name: EMAIL }))))),
      ...(o.issuerV1 !== undefined ? [ext('1.3.6.1.4.1.57264.1.1', false, Buffer.from(o.issuerV1))] : []),
      ...(o.issuer === null ? [] : [ext('1.3.6.1.4.1.57264.1.8', false, AsnConvert.serialize(new Utf8Value(o.issuer ?? ISSUER)))]),
      ...(o.extraExtensions ?? []),
    ];
    const spec: CertSpec = {
      subject: new Name([]),
      issuer: name('intermediate'),
      issuerSigner,
      publicKeyDer: signer.publicKeyDer,
      notBefore: o.notBefore ?? new Date(this.now - 60_000),
      notAfter: o.notAfter ?? new Date(this.now + 540_000),
      extensions: exts,
    };
    const tbs = tbsOf(spec);
    if (!o.noSct) {
      const ct = o.ctSigner ?? this.ct;
      const timestamp = BigInt(o.sctTime ?? this.now - 59_000);
      const issuerKeyHash = o.sctIssuerKey ?? createHash('sha256').update(issuerSigner.publicKeyDer).digest();
      const extensions = o.sctExtensions ?? Buffer.alloc(0);
      const signed = sctSignedData(timestamp, { type: ENTRY_TYPE_PRECERT, issuerKeyHash, tbsCertificate: Buffer.from(AsnConvert.serialize(tbs)) }, extensions);
      const sct: SignedCertificateTimestamp = {
        version: 0, logId: ct.keyId, timestamp, extensions, hashAlgorithm: HASH_SHA256, signatureAlgorithm: SIG_ECDSA, signature: ct.sign(signed),
      };
      tbs.extensions!.push(ext(SCT_LIST_OID, false, AsnConvert.serialize(new OctetString(serializeSctList([sct])))));
    }
    return signTbs(tbs, issuerSigner);
  }

  hashedRekordBody(digest: Buffer, signature: Buffer, leafDer: Buffer): Buffer {
    return Buffer.from(canonicalize({
      apiVersion: '0.0.1',
      kind: 'hashedrekord',
      spec: {
        data: { hash: { algorithm: 'sha256', value: digest.toString('hex') } },
        signature: { content: signature.toString('base64'), publicKey: { content: Buffer.from(derToPem(leafDer)).toString('base64') } },
      },
    })!);
  }

  append(body: Buffer): number {
    this.entries.push(body);
    return this.entries.length - 1;
  }

  checkpoint(size: number, signer = this.rekor, signerName = this.rekorHost): string {
    const rootHash = mth(this.entries.slice(0, size).map((e) => leafHash(e)));
    return signCheckpoint({ origin: `${this.rekorHost} - ${this.treeId}`, size, rootHash }, signerName, signer);
  }

  setFor(body: Buffer, integratedTime: number, logIndex: number, signer = this.rekor): Buffer {
    return signer.sign(Buffer.from(canonicalize({ body: body.toString('base64'), integratedTime, logID: this.rekor.keyId.toString('hex'), logIndex })!));
  }

  /** Signs `artifact` and logs it; returns the serialized v0.3 bundle. */
  sign(artifact: Buffer, o: SignOptions = {}): Record<string, any> {
    const signer = o.leafSigner ?? generateSigner();
    const leafDer = o.leafDer ?? this.leaf(signer, o);
    const digest = createHash('sha256').update(artifact).digest();
    const signature = o.signature ?? signer.sign(artifact);
    const body = (o.body ?? this.hashedRekordBody.bind(this))(digest, signature, leafDer);
    for (let i = 0; i < (o.padding ?? 2); i++) this.append(Buffer.from(`padding ${this.entries.length}`));
    const logIndex = this.append(body);
    const size = this.entries.length;
    const integratedTime = o.integratedTime ?? Math.floor((this.now - 30_000) / 1000);
    const leaves = this.entries.map((e) => leafHash(e));
    return {
      mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
      verificationMaterial: {
        certificate: { rawBytes: leafDer.toString('base64') },
        tlogEntries: [{
          logIndex: String(logIndex),
          logId: { keyId: this.rekor.keyId.toString('base64') },
          kindVersion: { kind: 'hashedrekord', version: '0.0.1' },
          integratedTime: String(integratedTime),
          inclusionPromise: { signedEntryTimestamp: this.setFor(body, integratedTime, logIndex).toString('base64') },
          inclusionProof: {
            logIndex: String(logIndex),
            rootHash: mth(leaves).toString('base64'),
            treeSize: String(size),
            hashes: path(logIndex, leaves).map((h) => h.toString('base64')),
            checkpoint: { envelope: this.checkpoint(size) },
          },
          canonicalizedBody: body.toString('base64'),
        }],
        timestampVerificationData: {},
      },
      messageSignature: { messageDigest: { algorithm: 'SHA2_256', digest: digest.toString('base64') }, signature: signature.toString('base64') },
    };
  }
}

export { GeneralName, OtherName, Utf8Value, ext, name };

/** Asserts that `fn` throws VerificationError with `code` (and a message matching `message`). */
export function refuses(t: { throws: (fn: () => unknown, expectations?: object) => any; is: (a: unknown, b: unknown, m?: string) => void; regex: (s: string, r: RegExp) => void },
  fn: () => unknown, code: string, message?: RegExp): void {
  const err = t.throws(fn, { instanceOf: VerificationError });
  if (!err) return;
  t.is(err.code, code, err.message);
  if (message) t.regex(err.message, message);
}
