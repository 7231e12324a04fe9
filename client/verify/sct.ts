/**
 * Embedded SCTs (RFC 6962 3.2). Each SCT signed the precertificate's TBS, which is the leaf's TBS without the
 * SCT list extension (see precertificateTbs), together with the SHA-256 of the public key of the issuer that
 * the chain check actually verified (sigstore-rust 53ca181: not a certificate looked up by name).
 * The CT log is found by log id = SHA-256(SPKI), and the SCT's timestamp must fall in that log key's validFor
 * (sigstore-go#350). SCTs from logs the trusted root does not list are skipped; an SCT from a trusted log that
 * does not verify fails the bundle; at least one distinct trusted log must have vouched (GHSA-9vcr-p3rj-q5q6).
 */
import { createHash } from 'node:crypto';
import { contextConstructedDer, sequenceDer } from './der.ts';
import { VerificationError } from '../../core/errors.ts';
import { ENTRY_TYPE_PRECERT, HASH_SHA256, parseSctList, sctSignedData, SIG_ECDSA, type SignedCertificateTimestamp } from '../../core/sct.ts';
import { inWindow, type TrustedCaCertificate, type TrustedLog } from '../trusted-root.ts';
import type { LeafState } from './leaf.ts';
import { octetStringExtension } from './x509.ts';
import { signatureVerifies } from './signature.ts';

export const SCT_LIST_OID = '1.3.6.1.4.1.11129.2.4.2';
/** At most this many SCTs are looked at: a certificate carries one per CT log, a handful at most. */
const MAX_SCTS = 16;

function fail(message: string): never {
  throw new VerificationError('SCT', message);
}

/**
 * The leaf's TBSCertificate without the SCT list extension, DER: what the CT log signed. Every field and every
 * remaining extension keeps its exact bytes; asn1js writes only the three new headers (the extensions SEQUENCE,
 * its [3] and the TBS SEQUENCE, whose lengths changed) around the concatenated parts (core/raw-der.ts). (It used
 * to re-encode the whole TBS through @peculiar/asn1-x509; test/client/precert-tbs.test.ts checks the two agree
 * byte for byte.)
 */
export function precertificateTbs(leaf: LeafState): Buffer {
  const extensions = [...leaf.cert.extensions].filter(([oid]) => oid !== SCT_LIST_OID).map(([, ext]) => ext.der);
  return sequenceDer([...leaf.cert.tbsFieldsDer, contextConstructedDer(3, [sequenceDer(extensions)])]);
}

function embeddedScts(leaf: LeafState): SignedCertificateTimestamp[] {
  let list: Buffer | undefined;
  try {
    list = octetStringExtension(leaf.cert, SCT_LIST_OID);
  } catch {
    fail('the SCT list extension is malformed');
  }
  if (!list) fail('the signing certificate has no embedded SCT');
  let scts: SignedCertificateTimestamp[];
  try {
    scts = parseSctList(list);
  } catch (e) {
    fail(`the SCT list is malformed (${(e as Error).message})`);
  }
  if (scts.length === 0) fail('the SCT list is empty');
  if (scts.length > MAX_SCTS) fail(`more than ${MAX_SCTS} SCTs`);
  return scts;
}

/** SHA-256 of each issuing CA's SubjectPublicKeyInfo, computed once per trusted certificate. */
const issuerKeyHashes = new WeakMap<TrustedCaCertificate, Buffer>();

function issuerKeyHashOf(issuer: TrustedCaCertificate): Buffer {
  let hash = issuerKeyHashes.get(issuer);
  if (!hash) {
    hash = createHash('sha256').update(issuer.cert.spkiDer).digest();
    issuerKeyHashes.set(issuer, hash);
  }
  return hash;
}

/** Returns the hex ids of the distinct trusted CT logs whose SCT verified. Cached on the leaf per issuer. */
export function verifyScts(leaf: LeafState, issuer: TrustedCaCertificate, ctlogs: Map<string, TrustedLog>): string[] {
  if (leaf.sct?.issuer === issuer) return leaf.sct.logIds;
  const scts = embeddedScts(leaf);
  const issuerKeyHash = issuerKeyHashOf(issuer);
  const tbsCertificate = precertificateTbs(leaf);
  const verified = new Set<string>();
  for (const sct of scts) {
    const id = sct.logId.toString('hex');
    const log = ctlogs.get(id);
    if (!log || !inWindow(log.validFor, Number(sct.timestamp))) continue;
    if (sct.hashAlgorithm !== HASH_SHA256 || sct.signatureAlgorithm !== SIG_ECDSA) fail(`SCT from CT log ${log.baseUrl} uses an unsupported algorithm`);
    const signed = sctSignedData(sct.timestamp, { type: ENTRY_TYPE_PRECERT, issuerKeyHash, tbsCertificate }, sct.extensions);
    if (!signatureVerifies(signed, log.publicKey, sct.signature)) fail(`SCT from CT log ${log.baseUrl} does not verify for this certificate`);
    verified.add(id);
  }
  if (verified.size === 0) fail('no SCT from a trusted CT log valid at its timestamp');
  const logIds = [...verified];
  leaf.sct = { issuer, logIds };
  return logIds;
}
