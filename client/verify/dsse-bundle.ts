/**
 * Sigstore bundles (v0.2, v0.3) whose content is a DSSE envelope, as GitHub attestations and cosign v3 attach
 * them to images as OCI referrers. Exactly one tlog entry, dsse 0.0.1 or intoto 0.0.2 (read as upstream Rekor
 * stores it, intoto-body.ts), with both its inclusion promise and a checkpointed inclusion proof, bound to the
 * envelope's payload, its one signature and the certificate; then the certificate checks at the integrated time
 * and the statement's subject and predicate type, as for `.att`. The entry's envelope hash is not checked (a
 * bundle holds the parsed envelope, not the text that was logged; an intoto one is the client's claim anyway):
 * the payload hash and signature bind it instead, as every Sigstore verifier does.
 */
import { VerificationError } from '../../core/errors.ts';
import { parseTlogEntry, type ParsedTlogEntry } from '../bundle.ts';
import type { TrustMaterial } from '../trusted-root.ts';
import { BoundedCache } from './cache.ts';
import { verifyCertificateAndSet } from './cosign.ts';
import { bindEnvelope, checkStatement, parseDsseBody, parseEnvelope, type AttestationExpectation, type VerifiedAttestation } from './dsse.ts';
import { compilePolicy, type Policy } from './identity.ts';
import { parseIntotoBody } from './intoto-body.ts';
import { loadLeaf } from './leaf.ts';
import { array, base64, literal, object, shape, ShapeError } from './strict-json.ts';
import { findLog, verifyInclusion, type VerifiedCheckpoint } from './tlog.ts';
import { failClosed } from './fail-closed.ts';
import { jsonProblem, parseJsonBytes } from '../../core/json-text.ts';

const V02 = 'application/vnd.dev.sigstore.bundle+json;version=0.2';
const V03 = ['application/vnd.dev.sigstore.bundle.v0.3+json', 'application/vnd.dev.sigstore.bundle+json;version=0.3'];
const MAX_BUNDLE_TEXT = 8 * 1024 * 1024;
/** Caps counted before any parsing inside (sigstore-go GHSA-cq38-jh5f-37mq); one entry and no timestamps are then required. */
const MAX_TLOG_ENTRIES = 32;
const MAX_TIMESTAMPS = 32;
/** Verified checkpoints, per trust material: a checkpoint verified with one root's log key proves nothing for another. */
const checkpointsByTrust = new WeakMap<TrustMaterial, BoundedCache<string, VerifiedCheckpoint>>();

function checkpointsFor(trust: TrustMaterial): BoundedCache<string, VerifiedCheckpoint> {
  let c = checkpointsByTrust.get(trust);
  if (!c) {
    c = new BoundedCache(256);
    checkpointsByTrust.set(trust, c);
  }
  return c;
}

interface ParsedDsseBundle {
  leafDer: Buffer;
  chainDer: Buffer[];
  entry: ParsedTlogEntry;
  envelope: unknown;
  /** the entry's kind, as kindVersion names it; the body is read as that kind only */
  kind: 'dsse' | 'intoto';
}

function parse(input: Buffer): ParsedDsseBundle {
  if (input.length > MAX_BUNDLE_TEXT) throw new ShapeError('bundle: larger than 8 MiB');
  let json: unknown;
  try {
    json = parseJsonBytes(input);
  } catch (e) {
    throw new ShapeError(`bundle: ${jsonProblem(e, 'not JSON')}`);
  }
  const b = object(json, 'bundle', ['mediaType', 'verificationMaterial', 'dsseEnvelope', 'messageSignature'], ['mediaType', 'verificationMaterial']);
  const mediaType = literal(b.mediaType, 'mediaType', [V02, ...V03]);
  if (b.dsseEnvelope === undefined || b.messageSignature !== undefined) throw new ShapeError('bundle: not a DSSE bundle');
  const vm = object(b.verificationMaterial, 'verificationMaterial', ['certificate', 'x509CertificateChain', 'tlogEntries', 'timestampVerificationData'], ['tlogEntries']);
  // Both lists counted before anything inside them is parsed (sigstore-go GHSA-cq38-jh5f-37mq), and strictly: a
  // timestamp list that is not an array, or material under another name, is refused, not taken for "none".
  const tsv = vm.timestampVerificationData;
  if (tsv !== undefined && tsv !== null) {
    const t = object(tsv, 'verificationMaterial.timestampVerificationData', ['rfc3161Timestamps'], []);
    if (t.rfc3161Timestamps !== undefined && array(t.rfc3161Timestamps, 'verificationMaterial.timestampVerificationData.rfc3161Timestamps', MAX_TIMESTAMPS).length > 0) {
      throw new ShapeError('verificationMaterial.timestampVerificationData.rfc3161Timestamps: RFC 3161 timestamps are not supported');
    }
  }
  const entries = array(vm.tlogEntries, 'verificationMaterial.tlogEntries', MAX_TLOG_ENTRIES);
  if (entries.length !== 1) throw new ShapeError(`verificationMaterial.tlogEntries: expected exactly one entry, got ${entries.length}`);
  let certs: Buffer[];
  if (mediaType === V02) {
    const chain = array(object(vm.x509CertificateChain, 'verificationMaterial.x509CertificateChain', ['certificates']).certificates, 'certificates', 10);
    certs = chain.map((c, i) => base64(object(c, `certificates[${i}]`, ['rawBytes']).rawBytes, `certificates[${i}].rawBytes`, { max: 16 * 1024 }));
    if (certs.length === 0 || vm.certificate !== undefined) throw new ShapeError('verificationMaterial: a v0.2 bundle carries its certificate in x509CertificateChain');
  } else {
    if (vm.x509CertificateChain !== undefined) throw new ShapeError('verificationMaterial.x509CertificateChain: not allowed in a v0.3 bundle');
    certs = [base64(object(vm.certificate, 'verificationMaterial.certificate', ['rawBytes']).rawBytes, 'verificationMaterial.certificate.rawBytes', { max: 16 * 1024 })];
  }
  // the same reader as message-signature bundles (client/bundle.ts), for the two DSSE kinds
  const { kind, ...entry } = parseTlogEntry(entries[0], { dsse: '0.0.1', intoto: '0.0.2' });
  return { leafDer: certs[0]!, chainDer: certs.slice(1), entry, envelope: b.dsseEnvelope, kind };
}

/** Verifies a DSSE Sigstore bundle offline against `trust`; throws VerificationError naming the failed check. */
export function verifyDsseBundle(trust: TrustMaterial, bundle: Buffer, expect: AttestationExpectation, policy: Policy, nowMs = Date.now()): VerifiedAttestation {
  return failClosed(() => {
    compilePolicy(policy);
    const { b, env } = shape(() => {
      const b: ParsedDsseBundle = parse(bundle);
      return { b, env: parseEnvelope(b.envelope) };
    }, 'BUNDLE', '');
    const leaf = loadLeaf(b.leafDer);
    const logged = b.kind === 'dsse' ? parseDsseBody(b.entry.canonicalizedBody) : parseIntotoBody(b.entry.canonicalizedBody);
    const checks = [bindEnvelope(logged, env, leaf, b.leafDer)];
    const result = verifyCertificateAndSet(trust, leaf, b.chainDer, b.entry, policy, nowMs);
    verifyInclusion(b.entry, findLog(b.entry, trust), checkpointsFor(trust));
    result.checks.unshift(...checks, `inclusion proof: entry ${b.entry.logIndex} is in the tree of size ${b.entry.inclusionProof.treeSize}, whose checkpoint the log signed`);
    const statement = checkStatement(env.payload, expect);
    result.checks.push(`in-toto statement: predicate type ${statement.predicateType}, a subject with digest sha256:${expect.sha256}`);
    return { ...result, statement };
  });
}
