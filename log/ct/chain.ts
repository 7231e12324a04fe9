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

/** What validating the certificates after the leaf established: it depends only on their bytes and the roots. */
export interface IssuerPath {
  /** The issuers, nearest first, ending with the accepted root (appended when the submitter left it out). */
  readonly issuers: readonly ParsedCertificate[];
  /** SHA-256 of the nearest issuer's SPKI: the precertificate entry's issuer_key_hash. */
  readonly issuerKeyHash: Buffer;
  /** Whether the nearest issuer is a Precertificate Signing Certificate (read on first use: only add-pre-chain asks). */
  readonly precertSigningIssuer: boolean;
}

/**
 * Validates the certificates after the leaf (`chain[1..]`): each is a CA, each is signed by the next, an accepted
 * root appears only last, the path ends at (or is signed by) an accepted root, and no issuer is a precertificate.
 * The CA sends the same intermediate and root with every precertificate, so a validated path is remembered by the
 * exact DER of its certificates (never by names: two CAs may share a DN): a submission then costs the parse and
 * signature check of its leaf only. Failures are not remembered. One cache per set of accepted roots.
 */
export class IssuerPathCache {
  readonly #paths = new Map<string, IssuerPath>();
  readonly #parsed = new ParsedCertificateCache();
  constructor(private readonly roots: AcceptedRoots, private readonly capacity = 64) {}

  resolve(issuerDers: readonly Buffer[]): IssuerPath {
    const hash = createHash('sha256');
    for (const der of issuerDers) hash.update(createHash('sha256').update(der).digest());
    const key = hash.digest('hex');
    const hit = this.#paths.get(key);
    if (hit) return hit;
    const path = validateIssuers(issuerDers, (j) => this.#parsed.parse(issuerDers[j]!, `chain[${j + 1}]`), this.roots);
    this.#paths.set(key, path);
    if (this.#paths.size > this.capacity) this.#paths.delete(this.#paths.keys().next().value!);
    return path;
  }
}

/**
 * Top down: the last certificate is anchored at an accepted root first, then each link is checked from the root
 * towards the leaf, parsing each certificate only when its turn comes. add-chain is open to anyone, so a chain
 * that does not reach an accepted root must be refused for the cost of one parse and the roots' signature checks,
 * not ten strict parses and nine signature checks (~22 ms of event loop for a 10-certificate chain, measured);
 * past the anchor, every further link needs a signature by a key the roots vouch for.
 */
function validateIssuers(ders: readonly Buffer[], parse: (j: number) => ParsedCertificate, roots: AcceptedRoots): IssuerPath {
  const certs: ParsedCertificate[] = new Array(ders.length);
  const checkCa = (j: number): void => {
    if (!isCaCertificate(certs[j]!, `chain[${j + 1}]`)) throw new BadRequestError(`chain[${j + 1}] is not a CA certificate`);
  };
  const last = ders.length - 1;
  certs[last] = parse(last);
  checkCa(last);
  const root = anchorOf(certs[last]!, roots);
  for (let j = last - 1; j >= 0; j--) {
    const at = `chain[${j + 1}]`;
    certs[j] = parse(j);
    checkCa(j);
    if (roots.exactly(certs[j]!)) throw new BadRequestError(`${at} is an accepted root but is not the last certificate`);
    if (!isSignedBy(certs[j]!, certs[j + 1]!)) throw new BadRequestError(`${at} is not signed by chain[${j + 2}]`);
  }
  const issuers = root ? [...certs, root] : certs;
  issuers.forEach((cert, j) => {
    if (hasValidPoison(cert, `chain[${j + 1}]`)) throw new BadRequestError(`chain[${j + 1}] is an issuer but carries the CT poison extension`);
  });
  const nearest = issuers[0]!;
  let precertSigning: boolean | undefined;
  return {
    issuers,
    issuerKeyHash: createHash('sha256').update(nearest.spki).digest(),
    get precertSigningIssuer() {
      return (precertSigning ??= extendedKeyUsages(nearest, 'chain[1]').includes(OID_PRECERT_SIGNING_EKU));
    },
  };
}

/** The accepted root to append after `last` (undefined when `last` is one), or a refusal. */
function anchorOf(last: ParsedCertificate, roots: AcceptedRoots): ParsedCertificate | undefined {
  if (roots.exactly(last)) return undefined;
  const root = roots.issuerOf(last);
  if (!root) throw new BadRequestError('chain does not end at, or chain to, an accepted root');
  return root;
}

/** Completes the chain to an accepted root, or refuses it. */
function anchor(certs: ParsedCertificate[], roots: AcceptedRoots): ParsedCertificate[] {
  const root = anchorOf(certs[certs.length - 1]!, roots);
  return root ? [...certs, root] : certs;
}

/**
 * Validates a submitted chain (leaf first) for add-chain (`x509`) or add-pre-chain (`precert`) and computes the
 * RFC 6962 entry. Throws BadRequestError with a plain message for every refusal. `issuers` remembers validated
 * issuer paths (the same checks, made once per distinct path); without it every submission validates its own.
 */
export function validateChain(chainDer: unknown, roots: AcceptedRoots, kind: ChainKind, issuers?: IssuerPathCache): ValidatedChain {
  checkShape(chainDer);
  // The issuer path first (top down, see validateIssuers), then the leaf, which is new with every submission:
  // parsed (strictly) and signature-checked every time.
  const path = chainDer.length > 1 ? (issuers ?? new IssuerPathCache(roots)).resolve(chainDer.slice(1)) : undefined;
  const leaf = parseCertificateStrict(chainDer[0]!, 'chain[0]');
  let full: ParsedCertificate[];
  if (path) {
    if (!isSignedBy(leaf, path.issuers[0]!)) throw new BadRequestError('chain[0] is not signed by chain[1]');
    full = [leaf, ...path.issuers];
  } else {
    // No issuer submitted: the leaf is an accepted root itself, or signed by one.
    full = anchor([leaf], roots);
  }

  const poisoned = hasValidPoison(leaf, 'chain[0]');
  if (kind === 'precert' && !poisoned) throw new BadRequestError('chain[0] is not a precertificate: the critical CT poison extension is missing');
  if (kind === 'x509' && poisoned) throw new BadRequestError('chain[0] is a precertificate (CT poison extension); submit it to add-pre-chain');
  if (!path) {
    for (let i = 1; i < full.length; i++) {
      if (hasValidPoison(full[i]!, `chain[${i}]`)) throw new BadRequestError(`chain[${i}] is an issuer but carries the CT poison extension`);
    }
  }
  const ders = full.map((c) => c.der);

  if (kind === 'x509') {
    return { chain: ders, entry: { type: ENTRY_TYPE_X509, certificate: leaf.der }, extraData: x509ExtraData(ders) };
  }
  const issuer = full[1];
  if (!issuer) throw new BadRequestError('precertificate has no issuer');
  const precertSigning = path ? path.precertSigningIssuer : extendedKeyUsages(issuer, 'chain[1]').includes(OID_PRECERT_SIGNING_EKU);
  if (precertSigning) {
    // RFC 6962 §3.1 would then take issuer_key_hash and the TBS issuer from chain[2]; Fulcio never does this.
    throw new BadRequestError('precertificate signing certificates (EKU 1.3.6.1.4.1.11129.2.4.4) are not supported');
  }
  return {
    chain: ders,
    entry: {
      type: ENTRY_TYPE_PRECERT,
      issuerKeyHash: path ? path.issuerKeyHash : createHash('sha256').update(issuer.spki).digest(),
      tbsCertificate: precertTbsWithoutPoison(leaf),
    },
    extraData: precertExtraData(ders),
  };
}

/**
 * The RFC 6962 entry of a precertificate that the CA in this process has just built and signed, from the bytes it
 * built it from: the chain as add-pre-chain takes it, and `tbsWithoutPoisonDer`, the precertificate's TBS without
 * the poison. The issuer path gets the same checks as add-pre-chain (cached by bytes) and gives the issuer key
 * hash; the leaf is taken on trust: it is not parsed, nor its signature checked, nor its TBS compared. That trust
 * is why this is never reachable from outside the process (log/ct/routes.ts calls validateChain only). For the
 * same precertificate the entry and extra_data are byte-identical to validateChain's (test/ct/own-precert.test.ts).
 */
export function ownPrecertEntry(chainDer: Buffer[], tbsWithoutPoisonDer: Buffer, issuers: IssuerPathCache): ValidatedChain {
  checkShape(chainDer);
  if (chainDer.length < 2) throw new BadRequestError('precertificate has no issuer');
  if (!Buffer.isBuffer(tbsWithoutPoisonDer) || tbsWithoutPoisonDer.length === 0) throw new BadRequestError('TBS without poison is missing');
  const path = issuers.resolve(chainDer.slice(1));
  if (path.precertSigningIssuer) throw new BadRequestError('precertificate signing certificates (EKU 1.3.6.1.4.1.11129.2.4.4) are not supported');
  const ders = [chainDer[0]!, ...path.issuers.map((c) => c.der)];
  return {
    chain: ders,
    entry: { type: ENTRY_TYPE_PRECERT, issuerKeyHash: path.issuerKeyHash, tbsCertificate: tbsWithoutPoisonDer },
    extraData: precertExtraData(ders),
  };
}
