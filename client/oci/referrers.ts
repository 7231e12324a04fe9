/**
 * The newer layout (cosign v3 --new-bundle-format, GitHub attestations, @sigstore/oci): a Sigstore bundle pushed
 * as an OCI 1.1 artifact manifest whose `subject` is the image, found through the referrers API, or, on a
 * registry without it, through the referrers tag schema: an image index tagged `sha256-<hex>` listing them.
 * Reading counts entries before fetching any (at most MAX_ATTACHMENTS) and reads every manifest and bundle
 * with a ceiling; the subject of each artifact must be the image, whatever the index says.
 */
import { attachmentLayers, MAX_ATTACHMENTS, type Descriptor } from './cosign-layout.ts';
import { OCI_INDEX, OCI_MANIFEST, parseJson, RegistryError, sha256Digest, type Manifest, type RegistryClient } from './registry.ts';

export const BUNDLE_ARTIFACT_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
export const OCI_EMPTY = 'application/vnd.oci.empty.v1+json';
const EMPTY_CONFIG = Buffer.from('{}');
export const MAX_BUNDLE = 4 * 1024 * 1024;

export interface ReferrerDescriptor extends Descriptor {
  artifactType?: string;
}

function indexManifests(index: unknown): ReferrerDescriptor[] {
  const manifests = (index as { manifests?: unknown })?.manifests;
  if (!Array.isArray(manifests)) throw new RegistryError('referrers index: no manifests list');
  if (manifests.length > MAX_ATTACHMENTS) throw new RegistryError(`referrers index: ${manifests.length} entries, more than the limit of ${MAX_ATTACHMENTS}`);
  return attachmentLayers({ layers: manifests.map((m) => ({ ...m })) }).map((d, i) => ({ ...d, artifactType: typeof (manifests[i] as ReferrerDescriptor).artifactType === 'string' ? (manifests[i] as ReferrerDescriptor).artifactType : undefined }));
}

/** Pushes `bundle` as a referrer of `subject`, and records it in the fallback tag when the registry has no referrers API. */
export async function attachBundle(client: RegistryClient, repo: string, subject: Manifest, bundle: Buffer, annotations: Record<string, string>): Promise<string> {
  const bundleDigest = await client.pushBlob(repo, bundle);
  const configDigest = await client.pushBlob(repo, EMPTY_CONFIG);
  const allAnnotations = { 'org.opencontainers.image.created': new Date().toISOString(), ...annotations };
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: BUNDLE_ARTIFACT_TYPE,
    config: { mediaType: OCI_EMPTY, size: EMPTY_CONFIG.length, digest: configDigest },
    layers: [{ mediaType: BUNDLE_ARTIFACT_TYPE, size: bundle.length, digest: bundleDigest }],
    subject: { mediaType: subject.mediaType || OCI_MANIFEST, size: subject.bytes.length, digest: subject.digest },
    annotations: allAnnotations,
  }));
  const digest = sha256Digest(manifest);
  await client.putManifest(repo, digest, manifest, OCI_MANIFEST);
  const found = await client.referrers(repo, subject.digest);
  if (found?.api) return digest;
  // Referrers tag schema: add ourselves to the index under sha256-<hex> (created if absent).
  const tag = subject.digest.replace(':', '-');
  const existing = await client.getManifest(repo, tag);
  const index = existing ? parseJson(existing.bytes, `index ${tag}`) as { manifests: unknown[] } : { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] as unknown[] };
  const entries = indexManifests(index);
  if (!entries.some((m) => m.digest === digest)) {
    if (entries.length >= MAX_ATTACHMENTS) throw new RegistryError(`${tag} already lists ${entries.length} referrers, the limit per image`);
    index.manifests.push({ mediaType: OCI_MANIFEST, digest, size: manifest.length, artifactType: BUNDLE_ARTIFACT_TYPE, annotations: allAnnotations });
    await client.putManifest(repo, tag, Buffer.from(JSON.stringify(index)), OCI_INDEX);
  }
  return digest;
}

export interface BundleReferrer {
  digest: string;
  /**
   * Fetches the referrer's manifest and bundle; undefined when the manifest is not a Sigstore bundle about this
   * subject. Loaded one at a time by the caller, so at most one bundle (MAX_BUNDLE) is held per image at once,
   * never MAX_ATTACHMENTS of them.
   */
  load(): Promise<{ bundle: Buffer; annotations: Record<string, string> } | undefined>;
}

/** The Sigstore bundles attached to `subjectDigest` (at most MAX_ATTACHMENTS), listed from the referrers index. */
export async function bundleReferrers(client: RegistryClient, repo: string, subjectDigest: string): Promise<BundleReferrer[]> {
  const found = await client.referrers(repo, subjectDigest, BUNDLE_ARTIFACT_TYPE);
  if (!found) return [];
  return indexManifests(found.index)
    .filter((d) => (d.artifactType === undefined || d.artifactType === BUNDLE_ARTIFACT_TYPE) && d.size <= client.maxManifestBytes)
    .map((d) => ({
      digest: d.digest,
      async load() {
        const m = await client.getManifest(repo, d.digest);
        if (!m) return undefined;
        const doc = parseJson(m.bytes, `referrer ${d.digest}`) as { artifactType?: unknown; subject?: { digest?: unknown }; layers?: unknown; annotations?: Record<string, string> };
        if (doc.subject?.digest !== subjectDigest) return undefined; // listed under this image, but not about it
        const layers = attachmentLayers(doc);
        if (layers.length !== 1 || layers[0]!.mediaType !== BUNDLE_ARTIFACT_TYPE && doc.artifactType !== BUNDLE_ARTIFACT_TYPE) return undefined;
        if (layers[0]!.size > MAX_BUNDLE) return undefined;
        return { bundle: await client.getBlob(repo, layers[0]!.digest, MAX_BUNDLE), annotations: typeof doc.annotations === 'object' && doc.annotations ? doc.annotations : {} };
      },
    }));
}
