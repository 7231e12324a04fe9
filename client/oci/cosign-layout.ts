/**
 * cosign's tag-based layout (specs/SIGNATURE_SPEC.md, ATTESTATION_SPEC.md): the signatures of the image with
 * digest `sha256:<hex>` are the layers of one OCI image manifest tagged `sha256-<hex>.sig` (attestations:
 * `.att`), each layer a payload blob with the signature, certificate, chain and SET bundle as annotations.
 *
 * Parsing counts before it reads anything: a manifest with more than MAX_ATTACHMENTS layers is refused
 * outright (GHSA-vfp6-jrw2-99g9, GHSA-95pr-fxf5-86gv), not truncated, since a truncated list could hide the
 * one signature that matters behind 100 junk ones just as well as an endless one.
 */
import { OCI_MANIFEST, sha256Digest } from './registry.ts';
import { isRecord, jsonProblem, parseJsonBytes } from '../../core/json-text.ts';

export const SIMPLE_SIGNING_MEDIA_TYPE = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const DSSE_MEDIA_TYPE = 'application/vnd.dsse.envelope.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const COSIGN_SIGNATURE_TYPE = 'cosign container image signature';

export const ANNOTATION_SIGNATURE = 'dev.cosignproject.cosign/signature';
export const ANNOTATION_CERTIFICATE = 'dev.sigstore.cosign/certificate';
export const ANNOTATION_CHAIN = 'dev.sigstore.cosign/chain';
export const ANNOTATION_BUNDLE = 'dev.sigstore.cosign/bundle';
export const ANNOTATION_PREDICATE_TYPE = 'predicateType';

/** At most this many signatures (or attestations) are considered per image, as cosign since 2.2.1. */
export const MAX_ATTACHMENTS = 100;

export function attachmentTag(digest: string, suffix: 'sig' | 'att'): string {
  if (!/^sha256:[0-9a-f]{64}$/.test(digest)) throw new Error(`not a sha256 digest: ${digest.slice(0, 80)}`);
  return `${digest.replace(':', '-')}.${suffix}`;
}

export interface Descriptor {
  mediaType: string;
  size: number;
  digest: string;
  annotations?: Record<string, string>;
}

export class LayoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LayoutError';
  }
}

/** The simple-signing payload exactly as cosign marshals it (Go struct field order). */
export function simpleSigningPayload(dockerReference: string, manifestDigest: string): Buffer {
  return Buffer.from(JSON.stringify({
    critical: { identity: { 'docker-reference': dockerReference }, image: { 'docker-manifest-digest': manifestDigest }, type: COSIGN_SIGNATURE_TYPE },
    optional: null,
  }));
}

export interface SimpleSigning {
  critical: { identity: { 'docker-reference': string }; image: { 'docker-manifest-digest': string }; type: string };
  optional: Record<string, unknown> | null;
}

/**
 * The members of a payload object, by the lower-case name Go's encoding/json would match them to. Go matches names
 * case-insensitively (the spec's own example writes "Docker-manifest-digest"), and with Unicode folding too: it reads
 * "docker-manifeſt-digest" (long s) as "docker-manifest-digest". So names must be ASCII, each known member may be
 * spelled once, and a member this verifier does not know is refused (the containers-signature spec: consumers MUST
 * reject unrecognised members of `critical`): a payload one reader takes for another image is never accepted.
 */
function members(v: unknown, what: string, known: readonly string[]): Map<string, unknown> {
  if (!isRecord(v)) throw new LayoutError(`payload: ${what} is not an object`);
  const out = new Map<string, unknown>();
  for (const [key, value] of Object.entries(v)) {
    const name = key.toLowerCase();
    if (!/^[\x20-\x7e]*$/.test(key) || !known.includes(name)) throw new LayoutError(`payload: ${what} has an unknown member ${JSON.stringify(key.slice(0, 80))}`);
    if (out.has(name)) throw new LayoutError(`payload: "${name}" appears twice in ${what}`);
    out.set(name, value);
  }
  return out;
}

/** Reads a simple-signing payload and checks it claims `manifestDigest` with cosign's type. */
export function checkSimpleSigningPayload(payload: Buffer, manifestDigest: string): SimpleSigning {
  let json: unknown;
  try {
    json = parseJsonBytes(payload); // one reading only: no duplicate names, valid UTF-8, no lone surrogates
  } catch (e) {
    throw new LayoutError(`payload: ${jsonProblem(e, 'not JSON')}`);
  }
  const top = members(json, 'the payload', ['critical', 'optional']);
  const critical = members(top.get('critical'), 'critical', ['identity', 'image', 'type']);
  const type = critical.get('type');
  if (type !== COSIGN_SIGNATURE_TYPE) throw new LayoutError(`payload: critical.type is ${JSON.stringify(type)?.slice(0, 80)}, not "${COSIGN_SIGNATURE_TYPE}"`);
  const digest = members(critical.get('image'), 'critical.image', ['docker-manifest-digest']).get('docker-manifest-digest');
  if (digest !== manifestDigest) throw new LayoutError(`payload: it signs the image ${String(digest).slice(0, 80)}, not ${manifestDigest}`);
  const identity = critical.get('identity');
  const ref = identity === undefined || identity === null ? '' : members(identity, 'critical.identity', ['docker-reference']).get('docker-reference') ?? '';
  if (typeof ref !== 'string') throw new LayoutError('payload: critical.identity.docker-reference is not a string');
  const optional = top.get('optional') ?? null;
  if (optional !== null && !isRecord(optional)) throw new LayoutError('payload: optional is neither an object nor null');
  return {
    critical: { identity: { 'docker-reference': ref }, image: { 'docker-manifest-digest': manifestDigest }, type: COSIGN_SIGNATURE_TYPE },
    optional,
  };
}

function isDescriptor(d: unknown): d is Descriptor {
  if (typeof d !== 'object' || d === null) return false;
  const x = d as Record<string, unknown>;
  const ann = x.annotations;
  return typeof x.mediaType === 'string' && Number.isSafeInteger(x.size) && (x.size as number) >= 0 && typeof x.digest === 'string' &&
    /^sha256:[0-9a-f]{64}$/.test(x.digest) &&
    (ann === undefined || (typeof ann === 'object' && ann !== null && Object.values(ann).every((v) => typeof v === 'string')));
}

/** The layers of a `.sig`/`.att` manifest, refused if more than MAX_ATTACHMENTS or malformed. */
export function attachmentLayers(manifest: unknown): Descriptor[] {
  if (typeof manifest !== 'object' || manifest === null) throw new LayoutError('signature manifest: not an object');
  const layers = (manifest as { layers?: unknown }).layers;
  if (!Array.isArray(layers)) throw new LayoutError('signature manifest: no layers');
  if (layers.length > MAX_ATTACHMENTS) throw new LayoutError(`signature manifest: ${layers.length} layers, more than the limit of ${MAX_ATTACHMENTS} signatures per image`);
  return layers.map((l, i) => {
    if (!isDescriptor(l)) throw new LayoutError(`signature manifest: layer ${i} is not a valid descriptor`);
    return l;
  });
}

/** cosign's config blob for a signature image: an empty image config whose rootfs lists the layers. */
export function signatureConfig(layers: Descriptor[]): Buffer {
  return Buffer.from(JSON.stringify({
    architecture: '',
    created: '0001-01-01T00:00:00Z',
    history: [{ created: '0001-01-01T00:00:00Z' }],
    os: '',
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
    config: {},
  }));
}

export function signatureManifest(config: Buffer, layers: Descriptor[]): Buffer {
  return Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: OCI_CONFIG, size: config.length, digest: sha256Digest(config) },
    layers,
  }));
}
