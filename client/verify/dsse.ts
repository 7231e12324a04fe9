/**
 * DSSE attestations (cosign's `.att` layers, logged as dsse v0.0.1): the envelope, its one signature by the
 * certificate key over the pre-authentication encoding, the log entry bound to this envelope and signature,
 * then the in-toto statement: its subject must name the expected digest (a failed subject check is a failure,
 * CVE-2026-31830) and its predicate type must be the one asked for (GHSA-vjxv-45g9-9296); a payload that
 * cannot be read is an error, not a skipped check (GHSA-w6c6-c85g-mmv6).
 * Exactly one signature: with several, "which one vouches" would be left to chance (TOB-SIGSTORE-9).
 */
import { createHash } from 'node:crypto';
import { VerificationError } from '../../core/errors.ts';
import type { TrustMaterial } from '../trusted-root.ts';
import { pemCertificate, readLoggedBody, sha256Field } from './tlog-body.ts';
import { chainAnnotation, parseSetBundle, singleCertificate, verifyCertificateAndSet, type DetachedVerification } from './cosign.ts';
import { compilePolicy, type Policy } from './identity.ts';
import { loadLeaf, type LeafState } from './leaf.ts';
import { array, base64, literal, object, shape, ShapeError, string } from './strict-json.ts';
import { failClosed } from './fail-closed.ts';
import { signatureVerifies } from './signature.ts';
import { isRecord, JsonTextError, jsonProblem, parseJsonBytes } from '../../core/json-text.ts';

export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
const STATEMENT_TYPES = ['https://in-toto.io/Statement/v0.1', 'https://in-toto.io/Statement/v1'];
const MAX_ENVELOPE = 8 * 1024 * 1024;
/** Caps on a statement's subjects and on the digests of each one (sigstore-go GHSA-cq38-jh5f-37mq). */
export const MAX_SUBJECTS = 1024;
export const MAX_DIGESTS_PER_SUBJECT = 32;

export interface InTotoStatement {
  _type: string;
  predicateType: string;
  /** Each subject as signed (in-toto ResourceDescriptor fields this verifier reads and type-checks). */
  subject: { name?: string; uri?: string; annotations?: Record<string, unknown>; digest: Record<string, string> }[];
  predicate: unknown;
}

export interface DsseAttestation {
  /** The envelope JSON text exactly as stored (its SHA-256 is the logged envelopeHash). */
  envelope: Buffer;
  certificate: string;
  chain?: string;
  bundle?: string;
}

export interface AttestationExpectation {
  /** sha256 hex of the subject (the image manifest digest). */
  sha256: string;
  predicateType: string;
}

export interface VerifiedAttestation extends DetachedVerification {
  statement: InTotoStatement;
}

// The DSSE v1 PAE, as log/kinds/dsse.ts computes it; repeated here because client/verify may not import log/kinds.
export function preAuthEncoding(payloadType: string, payload: Buffer): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `), type, Buffer.from(` ${payload.length} `), payload]);
}

/** An object of any members (strict-json's object() checks names, quadratic in their number). */
function jsonObject(value: unknown, path: string): void {
  if (!isRecord(value)) throw new ShapeError(`${path}: expected an object`);
}

function parseStatement(payload: Buffer): InTotoStatement {
  let json: unknown;
  try {
    json = parseJsonBytes(payload);
  } catch (e) {
    throw new VerificationError('STATEMENT', `in-toto statement: the payload is ${e instanceof JsonTextError ? `not one JSON reading: ${e.message}` : 'not JSON'}`);
  }
  return shape(() => {
    const s = object(json, 'statement', ['_type', 'predicateType', 'subject', 'predicate'], ['_type', 'predicateType', 'subject']);
    literal(s._type, 'statement._type', STATEMENT_TYPES);
    const subjects = array(s.subject, 'statement.subject', MAX_SUBJECTS).map((x, i) => {
      const o = object(x, `statement.subject[${i}]`, ['name', 'digest', 'uri', 'annotations'], ['digest']);
      // Counted before anything reads the digests: the strict read below is quadratic in their number.
      const n = typeof o.digest === 'object' && o.digest !== null && !Array.isArray(o.digest) ? Object.keys(o.digest).length : 0;
      if (n > MAX_DIGESTS_PER_SUBJECT) throw new ShapeError(`statement.subject[${i}].digest: ${n} digests, more than the cap of ${MAX_DIGESTS_PER_SUBJECT} per subject`);
      const d = object(o.digest, `statement.subject[${i}].digest`, Object.keys((o.digest ?? {}) as object), []);
      if (Object.keys(d).length === 0) throw new ShapeError(`statement.subject[${i}].digest: empty (a subject is named by at least one digest)`);
      for (const [k, v] of Object.entries(d)) string(v, `statement.subject[${i}].digest.${k}`, 256);
      // The other fields have their in-toto types or the statement is not read: a subject is returned as signed.
      if (o.name !== undefined) string(o.name, `statement.subject[${i}].name`, 4096);
      if (o.uri !== undefined) string(o.uri, `statement.subject[${i}].uri`, 4096);
      if (o.annotations !== undefined) jsonObject(o.annotations, `statement.subject[${i}].annotations`);
      return o as InTotoStatement['subject'][number];
    });
    if (s.predicate !== undefined) jsonObject(s.predicate, 'statement.predicate');
    return { _type: s._type as string, predicateType: string(s.predicateType, 'statement.predicateType', 1024), subject: subjects, predicate: s.predicate };
  }, 'STATEMENT', 'in-toto statement');
}

export interface ParsedEnvelope {
  payloadType: string;
  payload: Buffer;
  sigText: string;
  signature: Buffer;
  /** The signature's keyid; an empty one is read as absent (DSSE: optional, unauthenticated) */
  keyid?: string;
}

/** A DSSE envelope (JSON object) with exactly one signature (TOB-SIGSTORE-9) and the in-toto payload type. */
export function parseEnvelope(json: unknown): ParsedEnvelope {
  return shape(() => {
    const e = object(json, 'envelope', ['payload', 'payloadType', 'signatures']);
    const sigs = array(e.signatures, 'envelope.signatures', 16);
    if (sigs.length !== 1) throw new ShapeError(`envelope.signatures: expected exactly one signature, got ${sigs.length}`);
    const sig = object(sigs[0], 'envelope.signatures[0]', ['keyid', 'sig'], ['sig']);
    return {
      payloadType: literal(e.payloadType, 'envelope.payloadType', [IN_TOTO_PAYLOAD_TYPE]),
      payload: base64(e.payload, 'envelope.payload', { max: MAX_ENVELOPE }),
      sigText: string(sig.sig, 'envelope.signatures[0].sig', 2048),
      signature: base64(sig.sig, 'envelope.signatures[0].sig', { max: 1024 }),
      keyid: sig.keyid === undefined ? undefined : string(sig.keyid, 'envelope.signatures[0].keyid', 1024) || undefined,
    };
  }, 'BUNDLE', 'DSSE envelope');
}

/** What a log entry says about a DSSE envelope, whatever its kind (dsse 0.0.1 here, intoto 0.0.2 in intoto-body.ts). */
export interface LoggedEnvelope {
  /** kind and version, for the check's description */
  kind: string;
  payloadHash: Buffer;
  /** the envelope signature as DSSE base64 text */
  signature: string;
  /** PEM of the logged certificate or key */
  verifier: string;
  /** intoto bodies keep the payload type; dsse bodies do not */
  payloadType?: string;
  /** intoto bodies keep the signature's keyid (null: none); dsse bodies keep none to compare (undefined) */
  keyid?: string | null;
}

export interface LoggedDsse extends LoggedEnvelope {
  envelopeHash: Buffer;
}

/** A dsse 0.0.1 canonical body with exactly one signature. */
export function parseDsseBody(body: Buffer): LoggedDsse {
  return shape(() => readLoggedBody(body, 'dsse', '0.0.1', (v) => {
    const spec = object(v, 'spec', ['envelopeHash', 'payloadHash', 'signatures']);
    const sigs = array(spec.signatures, 'spec.signatures', 16);
    if (sigs.length !== 1) throw new ShapeError(`spec.signatures: expected exactly one, got ${sigs.length}`);
    const s = object(sigs[0], 'spec.signatures[0]', ['signature', 'verifier']);
    return {
      kind: 'dsse 0.0.1',
      envelopeHash: sha256Field(spec.envelopeHash, 'spec.envelopeHash'),
      payloadHash: sha256Field(spec.payloadHash, 'spec.payloadHash'),
      signature: string(s.signature, 'spec.signatures[0].signature', 2048),
      verifier: base64(s.verifier, 'spec.signatures[0].verifier', { max: 32 * 1024 }).toString('utf8'),
    };
  }), 'TLOG_BODY', 'tlog entry body');
}

/** The logged entry is about this payload, signature and certificate, and the signature verifies with its key. */
export function bindEnvelope(logged: LoggedEnvelope, env: ParsedEnvelope, leaf: LeafState, leafDer: Buffer): string {
  if (!logged.payloadHash.equals(createHash('sha256').update(env.payload).digest())) throw new VerificationError('TLOG_BODY', 'tlog entry body: the logged payload hash is not this payload\'s');
  if (logged.payloadType !== undefined && logged.payloadType !== env.payloadType) throw new VerificationError('TLOG_BODY', 'tlog entry body: the logged payload type is not the envelope\'s');
  if (logged.signature !== env.sigText) throw new VerificationError('TLOG_BODY', 'tlog entry body: the logged signature is not the envelope\'s');
  if (logged.keyid !== undefined && logged.keyid !== (env.keyid ?? null)) throw new VerificationError('TLOG_BODY', 'tlog entry body: the logged keyid is not the envelope\'s');
  // exactly one PEM certificate and nothing else: text around it, or a second key, would be read one way here and
  // maybe another way elsewhere (upstream copies an intoto publicKey byte for byte from the client)
  const loggedCert = pemCertificate(logged.verifier);
  if (!loggedCert?.equals(leafDer)) throw new VerificationError('TLOG_BODY', 'tlog entry body: the logged verifier is not this certificate');
  if (!signatureVerifies(preAuthEncoding(env.payloadType, env.payload), leaf.publicKey, env.signature)) throw new VerificationError('SIGNATURE', 'the DSSE signature does not verify with the certificate key');
  return `tlog entry: a ${logged.kind} entry of this payload, signature and certificate; the one DSSE signature verifies with the certificate key`;
}

/** The statement names the expected digest and predicate type; unreadable is a failure, never a skip. */
export function checkStatement(payload: Buffer, expect: AttestationExpectation): InTotoStatement {
  const statement = parseStatement(payload);
  if (statement.predicateType !== expect.predicateType) {
    throw new VerificationError('PREDICATE_TYPE', `the predicate type is ${JSON.stringify(statement.predicateType.slice(0, 200))}, not ${JSON.stringify(expect.predicateType)}`);
  }
  if (!statement.subject.some((x) => x.digest.sha256 === expect.sha256)) {
    throw new VerificationError('SUBJECT', `no subject of the statement has the digest sha256:${expect.sha256}`);
  }
  return statement;
}

/** The envelope of an `.att` layer and its SET bundle annotation, each size-capped and strictly parsed. */
export function readSignedEnvelope(att: { envelope: Buffer; bundle?: string }): { entry: ReturnType<typeof parseSetBundle>; env: ParsedEnvelope } {
  if (att.envelope.length > MAX_ENVELOPE) throw new VerificationError('BUNDLE', 'DSSE envelope: larger than 8 MiB');
  if (att.bundle === undefined) throw new VerificationError('BUNDLE', 'the attestation carries no transparency log bundle: it cannot be verified offline');
  const entry = parseSetBundle(att.bundle);
  let json: unknown;
  try {
    json = parseJsonBytes(att.envelope);
  } catch (e) {
    throw new VerificationError('BUNDLE', `DSSE envelope: ${jsonProblem(e, 'not JSON')}`);
  }
  return { entry, env: parseEnvelope(json) };
}

/** Verifies one DSSE attestation offline; throws VerificationError naming the failed check. */
export function verifyDsseAttestation(trust: TrustMaterial, att: DsseAttestation, expect: AttestationExpectation, policy: Policy, nowMs = Date.now()): VerifiedAttestation {
  return failClosed(() => {
    compilePolicy(policy);
    const { entry, env } = readSignedEnvelope(att);
    const leafDer = singleCertificate(att.certificate, 'certificate annotation');
    const chainDer = chainAnnotation(att.chain);

    // The log entry must be a dsse 0.0.1 body about exactly this envelope, payload, signature and certificate.
    const logged = parseDsseBody(entry.canonicalizedBody);
    if (!logged.envelopeHash.equals(createHash('sha256').update(att.envelope).digest())) throw new VerificationError('TLOG_BODY', 'tlog entry body: the logged envelope hash is not this envelope\'s');
    const leaf = loadLeaf(leafDer);
    const checks = [bindEnvelope(logged, env, leaf, leafDer)];
    const result = verifyCertificateAndSet(trust, leaf, chainDer, entry, policy, nowMs);
    result.checks.unshift(...checks);

    const statement = checkStatement(env.payload, expect);
    result.checks.push(`in-toto statement: predicate type ${statement.predicateType}, a subject with digest sha256:${expect.sha256}`);
    return { ...result, statement };
  });
}
