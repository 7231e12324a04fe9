import { AsnConvert } from '@peculiar/asn1-schema';
import {
  AttributeTypeAndValue, AttributeValue, Certificate, Extensions, KeyUsageFlags, Name, RelativeDistinguishedName, SubjectPublicKeyInfo,
  TBSCertificate, Validity, Version,
} from '@peculiar/asn1-x509';
import type { Signer } from '../core/signer.ts';
import { ecdsaWithSha256, randomSerial, signTbs, wholeSeconds } from './certificate.ts';
import {
  authorityKeyIdExtension, basicConstraintsExtension, codeSigningEkuExtension, keyIdentifier, keyUsageExtension, toX509Extension,
  subjectKeyIdExtension, type CertExtension,
} from './extensions.ts';

/**
 * Creates the CA's own root and intermediate, shaped like Fulcio's certificate_maker templates:
 * root: CA, pathLen 1, keyCertSign|cRLSign, 10 years; intermediate: CA, pathLen 0, keyCertSign|cRLSign,
 * EKU codeSigning (verifiers chain EKUs), valid one day less than the root so it never outlives it.
 * Both ECDSA P-256 with SHA-256.
 */

const OID_ORGANIZATION = '2.5.4.10';
const OID_COMMON_NAME = '2.5.4.3';
const DAY_MS = 24 * 60 * 60 * 1000;

export interface CaHierarchyOptions {
  rootSigner: Signer;
  intermediateSigner: Signer;
  /** Organization (O) of both subjects; CNs are "<organization> root" / "<organization> intermediate". */
  organization?: string;
  now?: Date;
}

function subjectName(organization: string, commonName: string): Name {
  const rdn = (type: string, value: string) =>
    new RelativeDistinguishedName([new AttributeTypeAndValue({ type, value: new AttributeValue({ utf8String: value }) })]);
  return new Name([rdn(OID_ORGANIZATION, organization), rdn(OID_COMMON_NAME, commonName)]);
}

function addYears(d: Date, years: number): Date {
  const out = new Date(d);
  out.setUTCFullYear(out.getUTCFullYear() + years);
  return out;
}

function caTbs(subject: Name, issuer: Name, subjectKey: Signer, notBefore: Date, notAfter: Date, extensions: CertExtension[]): TBSCertificate {
  return new TBSCertificate({
    version: Version.v3,
    serialNumber: randomSerial(),
    signature: ecdsaWithSha256(),
    issuer,
    validity: new Validity({ notBefore, notAfter }),
    subject,
    subjectPublicKeyInfo: AsnConvert.parse(subjectKey.publicKeyDer, SubjectPublicKeyInfo),
    extensions: new Extensions(extensions.map(toX509Extension)),
  });
}

export function createCaHierarchy(opts: CaHierarchyOptions): { rootDer: Buffer; intermediateDer: Buffer } {
  const organization = opts.organization ?? 'sigstack';
  const notBefore = wholeSeconds((opts.now ?? new Date()).getTime());
  const rootNotAfter = addYears(notBefore, 10);
  const rootName = subjectName(organization, `${organization} root`);
  const rootKeyId = keyIdentifier(opts.rootSigner.publicKeyDer);
  const certSignFlags = KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign;

  const rootDer = signTbs(caTbs(rootName, rootName, opts.rootSigner, notBefore, rootNotAfter, [
    keyUsageExtension(certSignFlags),
    basicConstraintsExtension(true, 1),
    subjectKeyIdExtension(rootKeyId),
  ]), opts.rootSigner);

  const intermediateName = subjectName(organization, `${organization} intermediate`);
  const intermediateDer = signTbs(caTbs(intermediateName, rootName, opts.intermediateSigner, notBefore, new Date(rootNotAfter.getTime() - DAY_MS), [
    keyUsageExtension(certSignFlags),
    codeSigningEkuExtension(),
    basicConstraintsExtension(true, 0),
    subjectKeyIdExtension(keyIdentifier(opts.intermediateSigner.publicKeyDer)),
    authorityKeyIdExtension(rootKeyId),
  ]), opts.rootSigner);

  return { rootDer, intermediateDer };
}

/**
 * A new intermediate under an existing root (`sigstack ca rotate`): same profile as createCaHierarchy's, issued
 * by the root certificate's subject, ending a day before the root. The CN carries the date so that operators
 * (and `openssl x509 -text`) can tell the generations apart; verifiers tell them apart by key identifier.
 */
export function createIntermediate(opts: { rootSigner: Signer; rootDer: Buffer; intermediateSigner: Signer; organization?: string; now?: Date }): Buffer {
  const root = AsnConvert.parse(opts.rootDer, Certificate);
  if (!Buffer.from(AsnConvert.serialize(root.tbsCertificate.subjectPublicKeyInfo)).equals(opts.rootSigner.publicKeyDer)) {
    throw new Error('the root key does not belong to the root certificate');
  }
  const organization = opts.organization ?? 'sigstack';
  const now = opts.now ?? new Date();
  const notBefore = wholeSeconds(now.getTime());
  const notAfter = new Date(root.tbsCertificate.validity.notAfter.getTime().getTime() - DAY_MS);
  if (notAfter <= notBefore) throw new Error('the root certificate expires too soon to issue an intermediate');
  const name = subjectName(organization, `${organization} intermediate ${notBefore.toISOString().slice(0, 10)}`);
  return signTbs(caTbs(name, root.tbsCertificate.subject, opts.intermediateSigner, notBefore, notAfter, [
    keyUsageExtension(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign),
    codeSigningEkuExtension(),
    basicConstraintsExtension(true, 0),
    subjectKeyIdExtension(keyIdentifier(opts.intermediateSigner.publicKeyDer)),
    authorityKeyIdExtension(keyIdentifier(opts.rootSigner.publicKeyDer)),
  ]), opts.rootSigner);
}
