/**
 * Sigstore bundles: writing v0.3 (what `sigstack sign` produces, through @sigstore/bundle's serializer so the
 * JSON is byte-for-byte what sigstore-js writes) and reading them strictly for the verifier.
 *
 * The reader accepts only what the verifier fully checks: one hashedrekord 0.0.1 tlog entry carrying both an
 * inclusion promise (SET) and a checkpointed inclusion proof, a message signature over SHA-256, and the
 * signing certificate. Anything else (DSSE, RFC 3161 timestamps, unknown fields) is refused with a message
 * saying what was found, instead of being skipped. Bundles signed with a managed key (verificationMaterial
 * `publicKey: {hint}`) have their own reader, parseKeyBundle: neither reader accepts the other's bundles, so a
 * key bundle can never pass where a certificate is required, nor a certificate bundle where a key is.
 */
import { BUNDLE_V02_MEDIA_TYPE, BUNDLE_V03_LEGACY_MEDIA_TYPE, BUNDLE_V03_MEDIA_TYPE, bundleToJSON, type Bundle, type SerializedBundle } from '@sigstore/bundle';
import { HashAlgorithm } from '@sigstore/protobuf-specs';
import { array, base64, literal, object, ShapeError, string, uint, type JsonObject } from './verify/strict-json.ts';
import { jsonProblem, parseJsonBytes, parseJsonText } from '../core/json-text.ts';
import { hasLoneSurrogate } from '../core/unicode.ts';

export type { SerializedBundle };
export { BUNDLE_V03_MEDIA_TYPE };

export interface ParsedTlogEntry {
  logIndex: number;
  /** SHA-256 of the log's public key. */
  logId: Buffer;
  integratedTime: number;
  signedEntryTimestamp: Buffer;
  inclusionProof: { logIndex: number; rootHash: Buffer; treeSize: number; hashes: Buffer[]; checkpoint: string };
  canonicalizedBody: Buffer;
  /** The body as it appeared in the bundle (base64): the SET payload embeds it, no need to re-encode. */
  canonicalizedBodyBase64: string;
}

export interface ParsedBundle {
  mediaType: string;
  /** The signing certificate, DER. */
  leafDer: Buffer;
  /** Its base64 text from the bundle: the key of the verifier's certificate cache. */
  leafBase64: string;
  /** v0.2 only: the certificates after the leaf in x509CertificateChain (must be the trusted chain). */
  chainDer: Buffer[];
  /** messageSignature.messageDigest.digest (SHA2_256). */
  messageDigest: Buffer;
  signature: Buffer;
  tlogEntry: ParsedTlogEntry;
}

const MAX_CERT = 16 * 1024;
const MAX_BODY = 256 * 1024;
const MAX_CHECKPOINT = 64 * 1024;
/** A proof for a tree of up to 2^64 leaves has at most 64 hashes. */
const MAX_PROOF_HASHES = 64;

/** A bundle is a few kilobytes; anything this large is not one and is not parsed. */
const MAX_BUNDLE_TEXT = 4 * 1024 * 1024;

/** Everything the verifier can be handed as a bundle: JSON text, bytes or the parsed object. */
export function toObject(input: unknown): unknown {
  if (typeof input === 'string' || input instanceof Uint8Array) {
    if (input.length > MAX_BUNDLE_TEXT) throw new ShapeError('bundle: larger than 4 MiB');
    try {
      return typeof input === 'string' ? parseJsonText(input) : parseJsonBytes(input);
    } catch (e) {
      throw new ShapeError(`bundle: ${jsonProblem(e, 'not valid JSON')}`);
    }
  }
  return input;
}

/** Text that is signed as UTF-8 must have a UTF-8 form: a lone surrogate would be signed as U+FFFD instead. */
function wellFormed(text: string, path: string): string {
  if (hasLoneSurrogate(text)) throw new ShapeError(`${path}: holds a lone surrogate (no UTF-8 form)`);
  return text;
}

function parseCertificateContent(vm: JsonObject, mediaType: string): { leafB64: string; leafDer: Buffer; chainDer: Buffer[] } {
  if (vm.publicKey !== undefined) throw new ShapeError('verificationMaterial.publicKey: a key-based bundle (signed with a managed key); verify it with the signer\'s public key (--key), not with identities');
  if (mediaType === BUNDLE_V02_MEDIA_TYPE) {
    // v0.2 carries the certificate as a chain; the stock sigstore-js signer writes the leaf alone.
    if (vm.certificate !== undefined) throw new ShapeError('verificationMaterial.certificate: not allowed in a v0.2 bundle');
    const chain = object(vm.x509CertificateChain, 'verificationMaterial.x509CertificateChain', ['certificates']);
    const certs = array(chain.certificates, 'verificationMaterial.x509CertificateChain.certificates', 10);
    if (certs.length === 0) throw new ShapeError('verificationMaterial.x509CertificateChain.certificates: empty');
    const ders = certs.map((c, i) => {
      const path = `verificationMaterial.x509CertificateChain.certificates[${i}]`;
      const raw = object(c, path, ['rawBytes']).rawBytes;
      return { b64: string(raw, `${path}.rawBytes`), der: base64(raw, `${path}.rawBytes`, { max: MAX_CERT }) };
    });
    return { leafB64: ders[0]!.b64, leafDer: ders[0]!.der, chainDer: ders.slice(1).map((d) => d.der) };
  }
  if (vm.x509CertificateChain !== undefined) throw new ShapeError('verificationMaterial.x509CertificateChain: not allowed in a v0.3 bundle (use certificate)');
  const raw = object(vm.certificate, 'verificationMaterial.certificate', ['rawBytes']).rawBytes;
  return { leafB64: string(raw, 'verificationMaterial.certificate.rawBytes'), leafDer: base64(raw, 'verificationMaterial.certificate.rawBytes', { max: MAX_CERT }), chainDer: [] };
}

/**
 * The one tlog entry of a bundle, of one of `kinds` (kind -> the one version read); its kind comes back with it.
 * Message-signature bundles take hashedrekord 0.0.1; DSSE bundles dsse 0.0.1 and intoto 0.0.2.
 */
export function parseTlogEntry<K extends string = 'hashedrekord'>(value: unknown, kinds: Readonly<Record<K, string>> = { hashedrekord: '0.0.1' } as Record<K, string>): ParsedTlogEntry & { kind: K } {
  const p = 'verificationMaterial.tlogEntries[0]';
  // proto3 JSON omits zero values: logIndex 0 (the first entry of a log) and empty proof hashes are absent.
  const e = object(value, p, ['logIndex', 'logId', 'kindVersion', 'integratedTime', 'inclusionPromise', 'inclusionProof', 'canonicalizedBody'],
    ['logId', 'kindVersion', 'integratedTime', 'inclusionPromise', 'inclusionProof', 'canonicalizedBody']);
  const kv = object(e.kindVersion, `${p}.kindVersion`, ['kind', 'version']);
  const kind = literal(kv.kind, `${p}.kindVersion.kind`, Object.keys(kinds) as K[]);
  literal(kv.version, `${p}.kindVersion.version`, [kinds[kind]!]);
  const logId = base64(object(e.logId, `${p}.logId`, ['keyId']).keyId, `${p}.logId.keyId`, { length: 32 });
  const promise = object(e.inclusionPromise, `${p}.inclusionPromise`, ['signedEntryTimestamp']);
  const proof = object(e.inclusionProof, `${p}.inclusionProof`, ['logIndex', 'rootHash', 'treeSize', 'hashes', 'checkpoint'], ['rootHash', 'treeSize', 'checkpoint']);
  const checkpoint = object(proof.checkpoint, `${p}.inclusionProof.checkpoint`, ['envelope']);
  const logIndex = uint(e.logIndex ?? 0, `${p}.logIndex`);
  const proofIndex = uint(proof.logIndex ?? 0, `${p}.inclusionProof.logIndex`);
  // A sharded log (Rekor after a key rotation) numbers entries globally (logIndex, bound by the SET) and proves
  // them in their shard's tree (inclusionProof.logIndex = global - the sizes of the earlier shards), so the
  // proof's index may be smaller, never larger: a shard-local index above the global one is a lie.
  if (proofIndex > logIndex) throw new ShapeError(`${p}.inclusionProof.logIndex: ${proofIndex} is greater than the entry's logIndex ${logIndex}`);
  const bodyB64 = string(e.canonicalizedBody, `${p}.canonicalizedBody`);
  return {
    kind,
    logIndex,
    logId,
    integratedTime: uint(e.integratedTime, `${p}.integratedTime`),
    signedEntryTimestamp: base64(promise.signedEntryTimestamp, `${p}.inclusionPromise.signedEntryTimestamp`, { max: 512 }),
    inclusionProof: {
      logIndex: proofIndex,
      rootHash: base64(proof.rootHash, `${p}.inclusionProof.rootHash`, { length: 32 }),
      treeSize: uint(proof.treeSize, `${p}.inclusionProof.treeSize`),
      hashes: array(proof.hashes ?? [], `${p}.inclusionProof.hashes`, MAX_PROOF_HASHES).map((h, i) => base64(h, `${p}.inclusionProof.hashes[${i}]`, { length: 32 })),
      checkpoint: wellFormed(string(checkpoint.envelope, `${p}.inclusionProof.checkpoint.envelope`, MAX_CHECKPOINT), `${p}.inclusionProof.checkpoint.envelope`),
    },
    canonicalizedBody: base64(bodyB64, `${p}.canonicalizedBody`, { max: MAX_BODY }),
    canonicalizedBodyBase64: bodyB64,
  };
}

/**
 * Parses a bundle (JSON text, bytes or object) strictly. Throws ShapeError naming the offending field.
 * proto3 JSON omits default values, so an absent log index (0), absent proof `hashes` (a one-entry tree) and
 * an absent or empty `timestampVerificationData` are accepted; nothing else is optional.
 */
export function parseBundle(input: unknown): ParsedBundle {
  const { mediaType, vm, entry, ms } = parseMessageBundle(input);
  const cert = parseCertificateContent(vm, mediaType);
  return { mediaType, leafDer: cert.leafDer, leafBase64: cert.leafB64, chainDer: cert.chainDer, messageDigest: ms.messageDigest, signature: ms.signature, tlogEntry: entry };
}

export interface ParsedKeyBundle {
  mediaType: string;
  /** verificationMaterial.publicKey.hint: an unauthenticated name for the key (may be empty). */
  keyHint: string;
  messageDigest: Buffer;
  signature: Buffer;
  tlogEntry: ParsedTlogEntry;
}

/** A message-signature bundle signed with a managed key: `publicKey: {hint}` and nothing else as material. */
export function parseKeyBundle(input: unknown): ParsedKeyBundle {
  const { mediaType, vm, entry, ms } = parseMessageBundle(input);
  if (vm.certificate !== undefined || vm.x509CertificateChain !== undefined) {
    throw new ShapeError('verificationMaterial: a certificate bundle (keyless); verify it with identity and issuer, not with a key');
  }
  const pk = object(vm.publicKey, 'verificationMaterial.publicKey', ['hint'], []);
  return { mediaType, keyHint: pk.hint === undefined ? '' : string(pk.hint, 'verificationMaterial.publicKey.hint', 256), messageDigest: ms.messageDigest, signature: ms.signature, tlogEntry: entry };
}

/** What both readers share: the media type, the verification material's fields, one tlog entry, the message signature. */
function parseMessageBundle(input: unknown): { mediaType: string; vm: JsonObject; entry: ParsedTlogEntry; ms: { messageDigest: Buffer; signature: Buffer } } {
  const b = object(toObject(input), 'bundle', ['mediaType', 'verificationMaterial', 'messageSignature', 'dsseEnvelope'], ['mediaType', 'verificationMaterial']);
  const mediaType = string(b.mediaType, 'mediaType', 256);
  if (mediaType === 'application/vnd.dev.sigstore.bundle+json;version=0.1') {
    throw new ShapeError('mediaType: v0.1 bundles are not supported (they lack a checkpointed inclusion proof)');
  }
  literal(mediaType, 'mediaType', [BUNDLE_V03_MEDIA_TYPE, BUNDLE_V03_LEGACY_MEDIA_TYPE, BUNDLE_V02_MEDIA_TYPE]);
  if (b.dsseEnvelope !== undefined) throw new ShapeError('dsseEnvelope: DSSE bundles (attestations) are verified by verify-attestation; only message signatures here');
  const vm = object(b.verificationMaterial, 'verificationMaterial', ['certificate', 'x509CertificateChain', 'publicKey', 'tlogEntries', 'timestampVerificationData'], ['tlogEntries']);
  const tsv = vm.timestampVerificationData;
  if (tsv !== undefined && tsv !== null) {
    const t = object(tsv, 'verificationMaterial.timestampVerificationData', ['rfc3161Timestamps'], []);
    if (t.rfc3161Timestamps !== undefined && array(t.rfc3161Timestamps, 'verificationMaterial.timestampVerificationData.rfc3161Timestamps', 32).length > 0) {
      throw new ShapeError('verificationMaterial.timestampVerificationData.rfc3161Timestamps: RFC 3161 timestamps are not supported');
    }
  }
  // Count before parsing anything inside (sigstore-go GHSA-cq38-jh5f-37mq).
  const entries = array(vm.tlogEntries, 'verificationMaterial.tlogEntries', 32);
  if (entries.length !== 1) throw new ShapeError(`verificationMaterial.tlogEntries: expected exactly one entry, got ${entries.length}`);
  const material = ['certificate', 'x509CertificateChain', 'publicKey'].filter((k) => vm[k] !== undefined && vm[k] !== null);
  if (material.length !== 1) throw new ShapeError(`verificationMaterial: expected exactly one of certificate, x509CertificateChain, publicKey, got ${material.length}`);
  if (b.messageSignature === undefined || b.messageSignature === null) throw new ShapeError('messageSignature: missing');
  const ms = object(b.messageSignature, 'messageSignature', ['messageDigest', 'signature']);
  const md = object(ms.messageDigest, 'messageSignature.messageDigest', ['algorithm', 'digest']);
  literal(md.algorithm, 'messageSignature.messageDigest.algorithm', ['SHA2_256']);
  return {
    mediaType,
    vm,
    entry: parseTlogEntry(entries[0]),
    ms: { messageDigest: base64(md.digest, 'messageSignature.messageDigest.digest', { length: 32 }), signature: base64(ms.signature, 'messageSignature.signature', { max: 1024 }) },
  };
}

export interface BundleParts {
  /** The signing certificate (keyless), or ... */
  leafDer?: Buffer;
  /** ... the hint naming a managed public key (base64 SHA-256 of its DER, as sigstore-go): exactly one of the two. */
  publicKeyHint?: string;
  digest: Buffer;
  signature: Buffer;
  logIndex: number;
  logId: Buffer;
  integratedTime: number;
  signedEntryTimestamp: Buffer;
  inclusionProof: ParsedTlogEntry['inclusionProof'];
  canonicalizedBody: Buffer;
}

/** What the log answered about one entry, as a bundle's tlog entry (every kind). */
export type LoggedEntryParts = Pick<BundleParts, 'logIndex' | 'logId' | 'integratedTime' | 'signedEntryTimestamp' | 'inclusionProof' | 'canonicalizedBody'>;

export function bundleTlogEntry(kindVersion: { kind: string; version: string }, e: LoggedEntryParts): Bundle['verificationMaterial']['tlogEntries'][number] {
  return {
    logIndex: String(e.logIndex),
    logId: { keyId: e.logId },
    kindVersion,
    integratedTime: String(e.integratedTime),
    inclusionPromise: { signedEntryTimestamp: e.signedEntryTimestamp },
    inclusionProof: {
      logIndex: String(e.inclusionProof.logIndex),
      rootHash: e.inclusionProof.rootHash,
      treeSize: String(e.inclusionProof.treeSize),
      hashes: e.inclusionProof.hashes,
      checkpoint: { envelope: e.inclusionProof.checkpoint },
    },
    canonicalizedBody: e.canonicalizedBody,
  };
}

/** A v0.3 message-signature bundle, serialized by @sigstore/bundle exactly as sigstore-js does. */
export function buildBundle(parts: BundleParts): SerializedBundle {
  if ((parts.leafDer === undefined) === (parts.publicKeyHint === undefined)) throw new Error('buildBundle: give exactly one of leafDer and publicKeyHint');
  const bundle: Bundle = {
    mediaType: BUNDLE_V03_MEDIA_TYPE,
    verificationMaterial: {
      content: parts.leafDer
        ? { $case: 'certificate', certificate: { rawBytes: parts.leafDer } }
        : { $case: 'publicKey', publicKey: { hint: parts.publicKeyHint! } },
      tlogEntries: [bundleTlogEntry({ kind: 'hashedrekord', version: '0.0.1' }, parts)],
      timestampVerificationData: { rfc3161Timestamps: [] },
    },
    content: {
      $case: 'messageSignature',
      messageSignature: { messageDigest: { algorithm: HashAlgorithm.SHA2_256, digest: parts.digest }, signature: parts.signature },
    },
  };
  return bundleToJSON(bundle);
}
