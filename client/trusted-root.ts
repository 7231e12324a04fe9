/**
 * trusted_root.json and signing_config.json, parsed and validated once into what the client needs.
 *
 * TrustMaterial is built once per verifier: every key object is created, every CA chain is checked (each
 * certificate signed by the next, all CAs, path lengths, a self-signed root) and every log is indexed by its
 * log id here, so that verifying a bundle only checks the leaf against an already-verified chain.
 * A trusted root that is ambiguous is refused rather than half-used: a missing validFor.start (TOB-SIGSTORE-5),
 * a log id that is malformed, does not match its key, or appears twice (sigstore-rust e7d92a0).
 */
import { createHash, type KeyObject } from 'node:crypto';
import { importPublicKey, UnsupportedKeyError } from '../core/public-key.ts';
import { HashAlgorithm, PublicKeyDetails, SigningConfig, TrustedRoot, type TimeRange, type TransparencyLogInstance } from '@sigstore/protobuf-specs';
import { readDocument, SIGNING_CONFIG_SHAPE, TRUSTED_ROOT_SHAPE } from './trust-document-shape.ts';
import { VerificationError } from '../core/errors.ts';
import { basicConstraints, keyUsage, KeyUsageFlags, parseCertificate, publicKeyOf, signedBy, subjectKeyId, type ParsedCertificate } from './verify/x509.ts';

export const TRUSTED_ROOT_MEDIA_TYPE = 'application/vnd.dev.sigstore.trustedroot+json;version=0.1';
export const SIGNING_CONFIG_MEDIA_TYPE = 'application/vnd.dev.sigstore.signingconfig.v0.2+json';

/** Milliseconds since the epoch; both ends inclusive (TOB-SIGSTORE-5). `end` is Infinity when open. */
export interface TimeWindow {
  start: number;
  end: number;
}

export function inWindow(w: TimeWindow, timeMs: number): boolean {
  return w.start <= timeMs && timeMs <= w.end;
}

export interface TrustedCaCertificate {
  cert: ParsedCertificate;
  publicKey: KeyObject;
  subjectKeyId?: Buffer;
}

export interface TrustedCa {
  uri: string;
  /** Issuing certificate first, self-signed root last; already verified as a chain. */
  chain: TrustedCaCertificate[];
  validFor: TimeWindow;
}

export interface TrustedLog {
  baseUrl: string;
  /** host[:port] of baseUrl: the name a Rekor checkpoint signature must carry. */
  host: string;
  /** SHA-256 of the DER public key. */
  logId: Buffer;
  publicKey: KeyObject;
  validFor: TimeWindow;
}

export interface TrustMaterial {
  cas: TrustedCa[];
  /** By hex log id. */
  tlogs: Map<string, TrustedLog>;
  ctlogs: Map<string, TrustedLog>;
  /**
   * Logs of the root whose key type these checks cannot verify (Ed25519, P-384/SHA-384, ...: the public-good root
   * lists Rekor v2's Ed25519 logs), by hex log id, with why: never used, so an entry or SCT of theirs is refused
   * by name, while the rest of the root stays usable.
   */
  unusableLogs: Map<string, string>;
}

function fail(message: string): never {
  throw new VerificationError('TRUSTED_ROOT', `trusted root: ${message}`);
}

function timeWindow(range: TimeRange | undefined, what: string): TimeWindow {
  if (!range?.start) fail(`${what}: validFor.start is missing`);
  const start = range.start.getTime();
  if (!Number.isFinite(start)) fail(`${what}: validFor.start is not a valid time`);
  const end = range.end === undefined ? Infinity : range.end.getTime();
  if (Number.isNaN(end) || end < start) fail(`${what}: validFor.end is not a valid time after start`);
  return { start, end };
}

/** Log key types whose signatures are SHA-256 based, with the key each one must actually be. */
const LOG_KEY_TYPES = new Map<PublicKeyDetails, { type: 'ec' | 'rsa'; curve?: string; bits?: number }>([
  [PublicKeyDetails.PKIX_ECDSA_P256_SHA_256, { type: 'ec', curve: 'prime256v1' }],
  [PublicKeyDetails.PKIX_ECDSA_P384_SHA_256, { type: 'ec', curve: 'secp384r1' }],
  [PublicKeyDetails.PKIX_ECDSA_P521_SHA_256, { type: 'ec', curve: 'secp521r1' }],
  [PublicKeyDetails.PKIX_RSA_PKCS1V15_2048_SHA256, { type: 'rsa', bits: 2048 }],
  [PublicKeyDetails.PKIX_RSA_PKCS1V15_3072_SHA256, { type: 'rsa', bits: 3072 }],
  [PublicKeyDetails.PKIX_RSA_PKCS1V15_4096_SHA256, { type: 'rsa', bits: 4096 }],
]);

function parseLog(log: TransparencyLogInstance, what: string): TrustedLog {
  let url: URL;
  try {
    url = new URL(log.baseUrl);
  } catch {
    fail(`${what}: ${log.baseUrl ? `baseUrl "${log.baseUrl.slice(0, 200)}" is not a URL` : 'baseUrl is missing'}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') fail(`${what}: baseUrl must be http(s)`);
  if (log.hashAlgorithm !== HashAlgorithm.SHA2_256) fail(`${what}: only SHA2_256 logs are supported`);
  const key = log.publicKey;
  if (!key?.rawBytes?.length) fail(`${what}: publicKey.rawBytes is missing`);
  // The SET, checkpoint and SCT checks verify with SHA-256 (PKCS#1 v1.5 for RSA), so a log key is accepted when its
  // keyDetails says exactly that and the key is what keyDetails claims; P-384/SHA-384, P-521/SHA-512, Ed25519 and
  // RSA-PSS logs need those checks to take the digest from the key, and are refused until they do.
  const expected = LOG_KEY_TYPES.get(key.keyDetails);
  if (!expected) {
    const reason = `keyDetails ${PublicKeyDetails[key.keyDetails] ?? key.keyDetails} is not supported for logs (${[...LOG_KEY_TYPES.keys()].map((k) => PublicKeyDetails[k]).join(', ')})`;
    // A well-formed log of a named type the checks cannot verify is set aside, never used; anything malformed is
    // refused. (Its logId is not checked against the key: Rekor v2's Ed25519 logs derive it as a C2SP note key id.)
    const id = log.logId?.keyId;
    const named = PublicKeyDetails[key.keyDetails] !== undefined && key.keyDetails !== PublicKeyDetails.PUBLIC_KEY_DETAILS_UNSPECIFIED;
    if (named && id?.length === 32 && parsesAsKey(key.rawBytes)) throw new UnusableLog(Buffer.from(id).toString('hex'), `${what}: ${reason}`);
    fail(`${what}: ${reason}`);
  }
  let publicKey: KeyObject;
  try {
    publicKey = importPublicKey(Buffer.from(key.rawBytes)).key; // a form node can be asked about (core/public-key.ts)
  } catch (e) {
    fail(`${what}: publicKey.rawBytes ${e instanceof UnsupportedKeyError ? `holds ${e.message}` : 'is not a DER public key'}`);
  }
  const d = publicKey.asymmetricKeyDetails;
  if (publicKey.asymmetricKeyType !== expected.type || (expected.curve && d?.namedCurve !== expected.curve) || (expected.bits && d?.modulusLength !== expected.bits)) {
    fail(`${what}: publicKey is not the ${PublicKeyDetails[key.keyDetails]} key its keyDetails says`);
  }
  const logId = log.logId?.keyId;
  if (!logId || logId.length !== 32) fail(`${what}: logId.keyId must be 32 bytes`);
  // A log id that is not the hash of the key would let one key answer for another log's entries.
  if (!createHash('sha256').update(key.rawBytes).digest().equals(logId)) fail(`${what}: logId is not the SHA-256 of its public key`);
  if (log.checkpointKeyId?.keyId.length && !log.checkpointKeyId.keyId.equals(logId)) fail(`${what}: a checkpointKeyId other than the logId is not supported`);
  return { baseUrl: log.baseUrl, host: url.host, logId: Buffer.from(logId), publicKey, validFor: timeWindow(key.validFor, what) };
}

function parsesAsKey(der: Uint8Array): boolean {
  try {
    importPublicKey(Buffer.from(der));
    return true;
  } catch {
    return false;
  }
}

/** Thrown by parseLog for a well-formed log whose key type cannot be verified here. */
class UnusableLog extends Error {
  constructor(readonly logIdHex: string, readonly reason: string) {
    super(reason);
  }
}

function indexLogs(logs: TransparencyLogInstance[], kind: string, unusable: Map<string, string>): Map<string, TrustedLog> {
  const byId = new Map<string, TrustedLog>();
  const setAside = new Set<string>();
  logs.forEach((l, i) => {
    let log: TrustedLog;
    try {
      log = parseLog(l, `${kind}[${i}]`);
    } catch (e) {
      if (!(e instanceof UnusableLog)) throw e;
      if (setAside.has(e.logIdHex) || byId.has(e.logIdHex)) fail(`${kind}[${i}]: duplicate log id ${e.logIdHex}`);
      setAside.add(e.logIdHex);
      unusable.set(e.logIdHex, e.reason);
      return;
    }
    const id = log.logId.toString('hex');
    if (byId.has(id) || setAside.has(id)) fail(`${kind}[${i}]: duplicate log id ${id}`);
    byId.set(id, log);
  });
  return byId;
}

/** Checks a CA chain once: each certificate a CA signed by the next, path lengths respected, a self-signed root last. */
function verifiedChain(ders: Buffer[], what: string): TrustedCaCertificate[] {
  if (ders.length === 0) fail(`${what}: certChain is empty`);
  const chain = ders.map((der, i): TrustedCaCertificate => {
    let cert: ParsedCertificate;
    try {
      cert = parseCertificate(Buffer.from(der));
    } catch (e) {
      fail(`${what}: certificate ${i}: ${(e as Error).message}`);
    }
    const bc = basicConstraints(cert);
    if (!bc.ca) fail(`${what}: certificate ${i} is not a CA`);
    // i CA certificates sit between this one and a leaf it ultimately certifies.
    if (bc.pathLen !== undefined && bc.pathLen < i) fail(`${what}: certificate ${i} has pathLenConstraint ${bc.pathLen}`);
    const ku = keyUsage(cert);
    if (ku !== undefined && !(ku & KeyUsageFlags.keyCertSign)) fail(`${what}: certificate ${i} may not sign certificates`);
    return { cert, publicKey: publicKeyOf(cert), subjectKeyId: subjectKeyId(cert) };
  });
  chain.forEach((c, i) => {
    const parent = chain[i + 1] ?? c; // the root signs itself
    if (!c.cert.issuerDer.equals(parent.cert.subjectDer)) fail(`${what}: certificate ${i} is not issued by the next one in the chain`);
    if (!signedBy(c.cert, parent.publicKey)) fail(`${what}: the signature on certificate ${i} does not verify`);
  });
  return chain;
}

/** Parses and validates trusted_root.json (text or object) into TrustMaterial; throws VerificationError('TRUSTED_ROOT'). */
export function parseTrustedRoot(input: unknown): TrustMaterial {
  const root = readDocument(input, TRUSTED_ROOT_SHAPE, TRUSTED_ROOT_MEDIA_TYPE, (json) => TrustedRoot.fromJSON(json), fail);
  const cas = root.certificateAuthorities.map((ca, i): TrustedCa => ({
    uri: ca.uri,
    chain: verifiedChain(ca.certChain?.certificates.map((c) => c.rawBytes) ?? [], `certificateAuthorities[${i}]`),
    validFor: timeWindow(ca.validFor, `certificateAuthorities[${i}]`),
  }));
  const unusableLogs = new Map<string, string>();
  return { cas, tlogs: indexLogs(root.tlogs, 'tlogs', unusableLogs), ctlogs: indexLogs(root.ctlogs, 'ctlogs', unusableLogs), unusableLogs };
}

export interface SigningServices {
  caUrl: string;
  rekorUrl: string;
}

/**
 * signing_config.json v0.2: the first CA (Fulcio v1 API) and Rekor v1 log valid now.
 * Throws Error when the file is malformed or names no usable service.
 */
export function parseSigningConfig(input: unknown, nowMs = Date.now()): SigningServices {
  const problem: (m: string) => never = (m) => {
    throw new Error(`signing config: ${m}`);
  };
  const config = readDocument(input, SIGNING_CONFIG_SHAPE, SIGNING_CONFIG_MEDIA_TYPE, (json) => SigningConfig.fromJSON(json), problem);
  const pick = (services: SigningConfig['caUrls'], what: string): string => {
    const s = services.find((svc) => {
      if (svc.majorApiVersion !== 1 || !svc.url) return false;
      const start = svc.validFor?.start?.getTime() ?? NaN;
      const end = svc.validFor?.end?.getTime() ?? Infinity;
      return start <= nowMs && nowMs <= end;
    });
    if (!s) throw new Error(`signing config: no ${what} with API version 1 valid now`);
    return s.url.replace(/\/+$/, '');
  };
  return { caUrl: pick(config.caUrls, 'CA'), rekorUrl: pick(config.rekorTlogUrls, 'transparency log') };
}
