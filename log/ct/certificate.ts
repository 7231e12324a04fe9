import { createHash, verify, X509Certificate, type KeyObject } from 'node:crypto';
import { importPublicKey } from '../../core/public-key.ts';
import * as asn1js from 'asn1js';
import { AsnConvert, AsnParser } from '@peculiar/asn1-schema';
import { BasicConstraints, Certificate, ExtendedKeyUsage, KeyUsage, KeyUsageFlags } from '@peculiar/asn1-x509';
import { BadRequestError } from '../../core/errors.ts';

/**
 * One submitted certificate, parsed once by asn1js (the parser under @peculiar/asn1-schema), read as an
 * asn1-x509 Certificate for its structure, and with the exact bytes of every TBS field kept from the same
 * parse (the TBS to sign-check, the SPKI for issuer_key_hash, the fields a precertificate entry keeps).
 * OpenSSL (node's X509Certificate) is only brought in when needed, never for an ECDSA-signed leaf.
 */
export class ParsedCertificate {
  #x509: X509Certificate | undefined;
  #publicKey: KeyObject | undefined;

  constructor(
    readonly der: Buffer,
    readonly asn: Certificate,
    /** The exact DER of the TBSCertificate (what the signature covers). */
    readonly tbs: Buffer,
    /** The exact DER of each field of the TBSCertificate but the extensions ([3]), in order. */
    readonly tbsFieldsWithoutExtensions: readonly Buffer[],
    /** The exact DER of each extension, in the order of `asn.tbsCertificate.extensions`. */
    readonly extensionDers: readonly Buffer[],
    /** The DER SubjectPublicKeyInfo exactly as it appears in the certificate (issuer_key_hash input). */
    readonly spki: Buffer,
    /** The exact DER of the outer signatureAlgorithm and of the TBS `signature` field (they must match). */
    readonly signatureAlgorithms: { outer: Buffer; inner: Buffer },
  ) {}

  /** OpenSSL's view, built on first use (issuers' keys, signature algorithms other than ECDSA). */
  get x509(): X509Certificate {
    return (this.#x509 ??= new X509Certificate(this.der));
  }

  /**
   * The certified key as a KeyObject, imported once (issuers are cached, so once per issuer). Only a key in an
   * accepted form (core/public-key.ts) is imported; anything else throws, which isSignedBy reads as "not signed".
   */
  get publicKey(): KeyObject {
    return (this.#publicKey ??= importPublicKey(this.spki).key);
  }
}

const OID_BASIC_CONSTRAINTS = '2.5.29.19';
const OID_KEY_USAGE = '2.5.29.15';
const OID_EXT_KEY_USAGE = '2.5.29.37';

/** Bounded parse: a hostile certificate cannot make asn1js walk an arbitrarily large tree. */
const BER_OPTIONS = { maxDepth: 32, maxNodes: 20_000, parseEmbedded: false } as const;

const view = (b: asn1js.BaseBlock): Buffer => {
  const v = b.valueBeforeDecodeView;
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
};

function children(block: asn1js.BaseBlock | undefined): asn1js.BaseBlock[] {
  if (!(block instanceof asn1js.Constructed)) throw new Error('expected a constructed element');
  return block.valueBlock.value as asn1js.BaseBlock[];
}

/**
 * Parses `der` strictly. Re-serialising the parsed structure must give back the input byte for byte: this
 * refuses trailing bytes (which both parsers ignore), BER and non-minimal encodings, and it guarantees that the
 * precertificate TBS rebuilt from the submitted field bytes after removing the poison is the same one a
 * verifier re-encodes from the final certificate after removing the SCT list.
 */
export function parseCertificateStrict(der: Buffer, what: string): ParsedCertificate {
  const fail = (): never => {
    throw new BadRequestError(`${what} is not a DER X.509 certificate`);
  };
  let parsed: ParsedCertificate;
  try {
    // asn1js copies the input, so the views below never alias the caller's buffer.
    const { offset, result } = asn1js.fromBER(der, BER_OPTIONS);
    if (offset === -1 || result.error) return fail();
    const asn = AsnParser.fromASN<Certificate>(result, Certificate);
    if (!Buffer.from(AsnConvert.serialize(asn)).equals(der)) {
      throw new BadRequestError(`${what} is not strictly DER encoded (or has trailing bytes)`);
    }
    const [tbsBlock, outerAlgorithm] = children(result);
    const fields = children(tbsBlock);
    const first = fields[0]!.idBlock;
    const base = first.tagClass === 3 && first.tagNumber === 0 ? 1 : 0; // the version field is OPTIONAL
    const isExtensions = (f: asn1js.BaseBlock) => f.idBlock.tagClass === 3 && f.idBlock.tagNumber === 3;
    const extensionsField = fields.find(isExtensions);
    const extensionDers = extensionsField ? children(children(extensionsField)[0]).map(view) : [];
    if (extensionDers.length !== (asn.tbsCertificate.extensions?.length ?? 0)) return fail();
    parsed = new ParsedCertificate(Buffer.from(der), asn, view(tbsBlock!), fields.filter((f) => !isExtensions(f)).map(view), extensionDers, view(fields[base + 5]!), {
      outer: view(outerAlgorithm!),
      inner: view(fields[base + 1]!),
    });
  } catch (e) {
    if (e instanceof BadRequestError) throw e;
    return fail();
  }
  return parsed;
}

/**
 * Parsed issuer certificates by SHA-256 of their DER. The same intermediate and root arrive with every submission
 * and the ASN.1 parse dominates validation time; a parsed certificate is never mutated, so it can be shared.
 */
export class ParsedCertificateCache {
  readonly #byHash = new Map<string, ParsedCertificate>();
  constructor(private readonly capacity = 64) {}

  parse(der: Buffer, what: string): ParsedCertificate {
    const key = createHash('sha256').update(der).digest('hex');
    const hit = this.#byHash.get(key);
    if (hit) return hit;
    const parsed = parseCertificateStrict(der, what);
    this.#byHash.set(key, parsed);
    if (this.#byHash.size > this.capacity) this.#byHash.delete(this.#byHash.keys().next().value!);
    return parsed;
  }
}

/** The extensions of `cert` with OID `oid` (a certificate may not repeat one: RFC 5280 §4.2). */
export function extensionsWithOid(cert: ParsedCertificate, oid: string) {
  return (cert.asn.tbsCertificate.extensions ?? []).filter((e) => e.extnID === oid);
}

function singleExtensionValue(cert: ParsedCertificate, oid: string, what: string): Buffer | undefined {
  const found = extensionsWithOid(cert, oid);
  if (found.length > 1) throw new BadRequestError(`${what} repeats extension ${oid}`);
  return found[0] ? Buffer.from(found[0].extnValue.buffer) : undefined;
}

/** True when `cert` may issue certificates: basicConstraints cA, and keyCertSign if keyUsage is present. */
export function isCaCertificate(cert: ParsedCertificate, what: string): boolean {
  try {
    const bc = singleExtensionValue(cert, OID_BASIC_CONSTRAINTS, what);
    if (!bc || !AsnConvert.parse(bc, BasicConstraints).cA) return false;
    const ku = singleExtensionValue(cert, OID_KEY_USAGE, what);
    if (ku && (AsnConvert.parse(ku, KeyUsage).toNumber() & KeyUsageFlags.keyCertSign) === 0) return false;
    return true;
  } catch (e) {
    if (e instanceof BadRequestError) throw e;
    throw new BadRequestError(`${what} has a malformed basicConstraints or keyUsage extension`);
  }
}

/** The extended key usages of `cert` (empty when the extension is absent). */
export function extendedKeyUsages(cert: ParsedCertificate, what: string): string[] {
  const v = singleExtensionValue(cert, OID_EXT_KEY_USAGE, what);
  if (!v) return [];
  try {
    return [...AsnConvert.parse(v, ExtendedKeyUsage)];
  } catch {
    throw new BadRequestError(`${what} has a malformed extendedKeyUsage extension`);
  }
}

/** ECDSA signature algorithms (RFC 5758 3.2: no parameters) and their hashes, checked natively without OpenSSL's parse. */
const ECDSA_HASHES: Record<string, string> = {
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
};

/** Verified (subject -> issuers) links. Parsed certificates are immutable, so a success stays true. */
const verifiedLinks = new WeakMap<ParsedCertificate, WeakSet<ParsedCertificate>>();

/**
 * True when `subject` carries a valid signature by `issuer`'s key. ECDSA signatures by an EC key are checked
 * with node:crypto over the exact TBS bytes, after the checks OpenSSL's X509_verify makes first (the TBS
 * `signature` algorithm equals the outer one, no parameters); anything else goes to OpenSSL (X509Certificate).
 * Successes are remembered per object pair, which pays off for cached issuers (intermediate -> root).
 */
export function isSignedBy(subject: ParsedCertificate, issuer: ParsedCertificate): boolean {
  if (verifiedLinks.get(subject)?.has(issuer)) return true;
  let ok: boolean;
  try {
    // The issuer's key through the gated import first, whatever the algorithm: a submitted chain's RSA key with
    // a ~3070-bit exponent, which OpenSSL takes, cost ~9 ms per check on the event loop (a reviewer's add-chain
    // flood); the gate refuses it (throws, read as "not signed").
    const key = issuer.publicKey;
    const algorithm = subject.asn.signatureAlgorithm;
    const hash = ECDSA_HASHES[algorithm.algorithm];
    if (hash && algorithm.parameters === undefined && key.asymmetricKeyType === 'ec') {
      ok = subject.signatureAlgorithms.inner.equals(subject.signatureAlgorithms.outer)
        && verify(hash, subject.tbs, { key, dsaEncoding: 'der' }, Buffer.from(subject.asn.signatureValue));
    } else {
      ok = subject.x509.verify(key);
    }
  } catch {
    ok = false;
  }
  if (ok) {
    const set = verifiedLinks.get(subject) ?? new WeakSet<ParsedCertificate>();
    set.add(issuer);
    verifiedLinks.set(subject, set);
  }
  return ok;
}
