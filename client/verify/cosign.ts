/**
 * cosign-style detached signatures, as stored on a `.sig` image or written by `cosign sign`: a payload, a
 * base64 signature, a PEM certificate (and chain), and the "bundle" annotation that carries the log's inclusion
 * promise: `{"SignedEntryTimestamp", "Payload": {body, integratedTime, logIndex, logID}}`. There is no
 * inclusion proof in that format, so the SET is the offline proof of logging (as in `cosign verify --offline`).
 *
 * The checks are the bundle verifier's, in the same order and equally strict: the logged hashedrekord must be
 * about exactly this payload, signature and certificate; the SET must verify before its time is used; the
 * chain, SCTs, signature and identity are checked at that time. Exported for the OCI commands; the cert+SET
 * core (`verifyCertificateAndSet`) is shared with the DSSE verifier.
 */
import { createHash } from 'node:crypto';
import { VerificationError } from '../../core/errors.ts';
import type { TrustMaterial } from '../trusted-root.ts';
import { verifyChain } from './chain.ts';
import { certificateIdentity, compilePolicy, verifyIdentity, type Policy } from './identity.ts';
import { loadLeaf, type LeafState } from './leaf.ts';
import { verifyScts } from './sct.ts';
import { verifyMessageSignature } from './signature.ts';
import { base64, hex, object, ShapeError, string, uint } from './strict-json.ts';
import { parseHashedRekordBody, pemCertificates } from './tlog-body.ts';
import { checkIntegratedTime, findLog, verifySet, type SetFields } from './tlog.ts';
import { failClosed } from './fail-closed.ts';
import { jsonProblem, parseJsonText } from '../../core/json-text.ts';

export interface SignedEntry extends SetFields {
  signedEntryTimestamp: Buffer;
  canonicalizedBody: Buffer;
}

export interface DetachedVerification {
  identity: string;
  issuer: string;
  integratedTime: number;
  logIndex: number;
  checks: string[];
}

const MAX_SET_BUNDLE = 256 * 1024;

/** The `dev.sigstore.cosign/bundle` annotation, strictly: exactly cosign's fields, canonical encodings. */
export function parseSetBundle(text: string): SignedEntry {
  if (typeof text !== 'string' || text.length > MAX_SET_BUNDLE) throw new VerificationError('BUNDLE', 'signature bundle annotation: missing or too large');
  let json: unknown;
  try {
    json = parseJsonText(text);
  } catch (e) {
    throw new VerificationError('BUNDLE', `signature bundle annotation: ${jsonProblem(e, 'not JSON')}`);
  }
  try {
    const b = object(json, 'bundle', ['SignedEntryTimestamp', 'Payload']);
    const p = object(b.Payload, 'bundle.Payload', ['body', 'integratedTime', 'logIndex', 'logID']);
    const bodyB64 = string(p.body, 'bundle.Payload.body');
    return {
      signedEntryTimestamp: base64(b.SignedEntryTimestamp, 'bundle.SignedEntryTimestamp', { max: 512 }),
      canonicalizedBody: base64(bodyB64, 'bundle.Payload.body', { max: 256 * 1024 }),
      canonicalizedBodyBase64: bodyB64,
      // cosign's RekorPayload has int64 fields: a JSON number, never a string as proto3 JSON allows
      integratedTime: uint(number(p.integratedTime, 'bundle.Payload.integratedTime'), 'bundle.Payload.integratedTime'),
      logIndex: uint(number(p.logIndex, 'bundle.Payload.logIndex'), 'bundle.Payload.logIndex'),
      logId: hex(p.logID, 'bundle.Payload.logID', 32),
    };
  } catch (e) {
    if (e instanceof ShapeError) throw new VerificationError('BUNDLE', `signature bundle annotation: ${e.message}`);
    throw e;
  }
}

function number(value: unknown, path: string): number {
  if (typeof value !== 'number') throw new ShapeError(`${path}: expected a JSON number`);
  return value;
}

/**
 * An annotation's PEM with the whitespace Go's pem.Decode (cosign) passes over made canonical: CRLF line ends,
 * blank lines around and between blocks. Annotations are written by the signing client (a chain file given to
 * cosign, say), not re-encoded by a log; anything else outside the blocks is still refused by the strict reader.
 */
function annotationPem(text: string): string {
  return `${text.replace(/\r\n/g, '\n').replace(/(-----END CERTIFICATE-----\n)(?:[ \t]*\n)+/g, '$1').trim()}\n`;
}

export function singleCertificate(pem: unknown, what: string): Buffer {
  if (typeof pem !== 'string' || pem.length > 64 * 1024) throw new VerificationError('CHAIN', `${what}: missing or too large`);
  const ders = pemCertificates(annotationPem(pem), 1);
  if (ders?.length !== 1) throw new VerificationError('CHAIN', `${what}: expected one PEM certificate and nothing else`);
  return ders[0]!;
}

/** A chain annotation: PEM certificates and nothing else (at most 10); absent or empty is no chain. */
export function chainAnnotation(pem: string | undefined): Buffer[] {
  if (pem === undefined || pem === '') return [];
  const ders = pemCertificates(annotationPem(pem), 10);
  if (!ders || ders.length === 0) throw new VerificationError('CHAIN', 'chain annotation: not PEM certificates alone');
  if (ders.length > 10) throw new VerificationError('CHAIN', 'chain annotation: more than 10 certificates');
  return ders;
}

/**
 * The part every detached format shares: the SET of `entry` by a trusted log, the time checks, the leaf's chain
 * and SCTs at the integrated time, and the identity policy. The caller has already bound the entry body to what
 * was signed and verified the signature itself with `leaf.publicKey`.
 */
export function verifyCertificateAndSet(trust: TrustMaterial, leaf: LeafState, chainDer: Buffer[], entry: SignedEntry, policy: Policy, nowMs: number): DetachedVerification {
  const compiled = compilePolicy(policy);
  const checks: string[] = [];
  const log = findLog(entry, trust);
  verifySet(entry, log);
  checks.push(`inclusion promise (SET): signed by the transparency log ${log.baseUrl} (verified offline)`);
  const timeMs = checkIntegratedTime(entry, log, nowMs, leaf.cert);
  checks.push(`integrated time: ${new Date(timeMs).toISOString()}, not in the future, within the log key and certificate validity`);
  const { ca, issuer } = verifyChain(leaf, trust, timeMs, chainDer);
  checks.push(`certificate chain: issued by the trusted CA ${ca.uri}, every certificate valid at the integrated time, code signing`);
  const ctlogs = verifyScts(leaf, issuer, trust.ctlogs);
  checks.push(`certificate transparency: embedded SCT verified for ${ctlogs.length} trusted CT log${ctlogs.length > 1 ? 's' : ''}`);
  const identity = certificateIdentity(leaf);
  verifyIdentity(identity, compiled);
  checks.push(`identity: ${identity.san} matches ${compiled.identity.describe}; issuer ${identity.issuer} matches ${compiled.issuer.describe}`);
  return { identity: identity.san, issuer: identity.issuer, integratedTime: entry.integratedTime, logIndex: entry.logIndex, checks };
}

export interface CosignSignature {
  /** The signed bytes (the simple-signing payload blob). */
  payload: Uint8Array;
  /** `dev.cosignproject.cosign/signature`: base64 DER ECDSA. */
  signature: string;
  /** `dev.sigstore.cosign/certificate`: PEM. */
  certificate: string;
  /** `dev.sigstore.cosign/chain`: PEM, intermediates then root; must be the trusted CA's chain when present. */
  chain?: string;
  /** `dev.sigstore.cosign/bundle`: the SET bundle JSON. */
  bundle?: string;
}

/**
 * The two annotations every cosign signature needs offline: the SET bundle (without it nothing ties the signature
 * to the log) and the base64 signature. Shared by the certificate and the managed-key paths.
 */
export function readSetAndSignature(sig: { bundle?: string; signature: string }): { entry: ReturnType<typeof parseSetBundle>; signature: Buffer } {
  if (sig.bundle === undefined) throw new VerificationError('BUNDLE', 'the signature carries no transparency log bundle: it cannot be verified offline');
  const entry = parseSetBundle(sig.bundle);
  try {
    return { entry, signature: base64(sig.signature, 'signature', { max: 1024 }) };
  } catch (e) {
    throw new VerificationError('SIGNATURE', `signature annotation: ${(e as Error).message}`);
  }
}

/** Verifies one cosign signature offline; throws VerificationError naming the failed check. */
export function verifyCosignSignature(trust: TrustMaterial, sig: CosignSignature, policy: Policy, nowMs = Date.now()): DetachedVerification {
  return failClosed(() => {
    compilePolicy(policy);
    const { entry, signature } = readSetAndSignature(sig);
    const leafDer = singleCertificate(sig.certificate, 'certificate annotation');
    const chainDer = chainAnnotation(sig.chain);
    const checks: string[] = [];
    const body = parseHashedRekordBody(entry.canonicalizedBody);
    const digest = createHash('sha256').update(sig.payload).digest();
    if (!body.digest.equals(digest)) throw new VerificationError('TLOG_BODY', 'tlog entry body: the logged digest is not the SHA-256 of the payload');
    if (!body.signature.equals(signature)) throw new VerificationError('TLOG_BODY', 'tlog entry body: the logged signature is not this signature');
    if (!body.certificateDer.equals(leafDer)) throw new VerificationError('TLOG_BODY', 'tlog entry body: the logged certificate is not this certificate');
    checks.push('tlog entry: a hashedrekord of this payload\'s digest, this signature and this certificate');
    const leaf = loadLeaf(leafDer);
    verifyMessageSignature(sig.payload, signature, leaf.publicKey);
    const result = verifyCertificateAndSet(trust, leaf, chainDer, entry, policy, nowMs);
    result.checks.unshift(...checks);
    result.checks.splice(result.checks.length - 1, 0, 'signature: verifies over the payload with the certificate key');
    return result;
  });
}
