import { createHash } from 'node:crypto';
import { BadRequestError } from '../../core/errors.ts';
import { ENTRY_TYPE_PRECERT, ENTRY_TYPE_X509, type CtSignedEntry } from '../../core/sct.ts';
import {
  extendedKeyUsages, isCaCertificate, isSignedBy, parseCertificateStrict, ParsedCertificateCache, type ParsedCertificate,
} from './certificate.ts';
import { precertExtraData, x509ExtraData } from './extra-data.ts';
import { hasValidPoison, OID_PRECERT_SIGNING_EKU, precertTbsWithoutPoison } from './precert.ts';

/** rekor#823: never parse an unbounded number of certificates from one request. */
export const MAX_CHAIN_LENGTH = 10;

export type ChainKind = 'precert' | 'x509';

/**
 * The roots the log accepts chains to. A root is recognised by its exact DER, or as the key that signed the
 * last submitted certificate; never by subject name (sigstore-rust 53ca181: two CAs may share a DN).
 */
export class AcceptedRoots {
  readonly #roots: ParsedCertificate[];

  constructor(rootsDer: readonly Buffer[]) {
    if (rootsDer.length === 0) throw new Error('a CT log needs at least one accepted root');
    this.#roots = rootsDer.map((der, i) => {
      const root = parseCertificateStrict(Buffer.from(der), `accepted root ${i}`);
      if (!isCaCertificate(root, `accepted root ${i}`)) throw new Error(`accepted root ${i} is not a CA certificate`);
      return root;
    });
  }

  /** DER of every accepted root, for get-roots. */
  get ders(): Buffer[] {
    return this.#roots.map((r) => r.der);
  }

  /** The accepted root that is byte-for-byte `cert`, if any. */
  exactly(cert: ParsedCertificate): ParsedCertificate | undefined {
    return this.#roots.find((r) => r.der.equals(cert.der));
  }

  /** An accepted root whose key signed `cert`, if any. */
  issuerOf(cert: ParsedCertificate): ParsedCertificate | undefined {
    return this.#roots.find((r) => isSignedBy(cert, r));
  }
}

export interface ValidatedChain {
  /** The full chain, leaf first, ending with the accepted root (appended when the submitter left it out). */
  chain: Buffer[];
  /** What the SCT and the Merkle leaf commit to. */
  entry: CtSignedEntry;
  /** RFC 6962 get-entries `extra_data` for this entry. */
  extraData: Buffer;
}

function checkShape(chainDer: unknown): asserts chainDer is Buffer[] {
  if (!Array.isArray(chainDer)) throw new BadRequestError('chain must be an array of certificates');
  if (chainDer.length === 0) throw new BadRequestError('chain is empty');
  if (chainDer.length > MAX_CHAIN_LENGTH) {
    throw new BadRequestError(`chain has ${chainDer.length} certificates; at most ${MAX_CHAIN_LENGTH} are accepted`);
  }
  chainDer.forEach((c, i) => {
    if (!Buffer.isBuffer(c) || c.length === 0) throw new BadRequestError(`chain[${i}] is not certificate bytes`);
  });
}

/** Every certificate must be issued (signed) by the next one, and every issuer must be a CA. */
function checkLinks(certs: ParsedCertificate[], roots: AcceptedRoots): void {
  for (let i = 0; i + 1 < certs.length; i++) {
    const issuer = certs[i + 1]!;
    if (!isCaCertificate(issuer, `chain[${i + 1}]`)) throw new BadRequestError(`chain[${i + 1}] is not a CA certificate`);
    if (!isSignedBy(certs[i]!, issuer)) throw new BadRequestError(`chain[${i}] is not signed by chain[${i + 1}]`);
    if (i + 2 < certs.length && roots.exactly(issuer)) {
      throw new BadRequestError(`chain[${i + 1}] is an accepted root but is not the last certificate`);
    }
  }
}

/** Completes the chain to an accepted root, or refuses it. */
function anchor(certs: ParsedCertificate[], roots: AcceptedRoots): ParsedCertificate[] {
  const last = certs[certs.length - 1]!;
  if (roots.exactly(last)) return certs;
  const root = roots.issuerOf(last);
  if (!root) throw new BadRequestError('chain does not end at, or chain to, an accepted root');
  return [...certs, root];
}

/**
 * Validates a submitted chain (leaf first) for add-chain (`x509`) or add-pre-chain (`precert`) and computes the
 * RFC 6962 entry. Throws BadRequestError with a plain message for every refusal. `issuers` memoises the parse of
 * the certificates after the leaf.
 */
export function validateChain(chainDer: unknown, roots: AcceptedRoots, kind: ChainKind, issuers?: ParsedCertificateCache): ValidatedChain {
  checkShape(chainDer);
  // Only issuers are cached: the leaf is new with every submission.
  const submitted = chainDer.map((der, i) => (i > 0 && issuers ? issuers.parse(der, `chain[${i}]`) : parseCertificateStrict(der, `chain[${i}]`)));
  checkLinks(submitted, roots);
  const full = anchor(submitted, roots);
  const leaf = full[0]!;

  const poisoned = hasValidPoison(leaf, 'chain[0]');
  if (kind === 'precert' && !poisoned) throw new BadRequestError('chain[0] is not a precertificate: the critical CT poison extension is missing');
  if (kind === 'x509' && poisoned) throw new BadRequestError('chain[0] is a precertificate (CT poison extension); submit it to add-pre-chain');
  for (let i = 1; i < full.length; i++) {
    if (hasValidPoison(full[i]!, `chain[${i}]`)) throw new BadRequestError(`chain[${i}] is an issuer but carries the CT poison extension`);
  }
  const ders = full.map((c) => c.der);

  if (kind === 'x509') {
    return { chain: ders, entry: { type: ENTRY_TYPE_X509, certificate: leaf.der }, extraData: x509ExtraData(ders) };
  }
  const issuer = full[1];
  if (!issuer) throw new BadRequestError('precertificate has no issuer');
  if (extendedKeyUsages(issuer, 'chain[1]').includes(OID_PRECERT_SIGNING_EKU)) {
    // RFC 6962 §3.1 would then take issuer_key_hash and the TBS issuer from chain[2]; Fulcio never does this.
    throw new BadRequestError('precertificate signing certificates (EKU 1.3.6.1.4.1.11129.2.4.4) are not supported');
  }
  return {
    chain: ders,
    entry: {
      type: ENTRY_TYPE_PRECERT,
      issuerKeyHash: createHash('sha256').update(issuer.spki).digest(),
      tbsCertificate: precertTbsWithoutPoison(leaf),
    },
    extraData: precertExtraData(ders),
  };
}
