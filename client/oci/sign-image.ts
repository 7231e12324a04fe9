/**
 * `sigstack sign-image`: keyless signing of an image as cosign does it. The tag is resolved to the manifest
 * digest once, and from then on only the digest is used: the payload names the digest, the signature tag is
 * derived from it, so moving the tag later cannot move the signature onto other content.
 */
import type { SerializedBundle } from '@sigstore/bundle';
import type { KeyObject } from 'node:crypto';
import { REQUEST_TIMEOUT_MS, signArtifact } from '../sign.ts';
import { signAndLogWithKey } from '../sign-key.ts';
import {
  ANNOTATION_BUNDLE, ANNOTATION_CERTIFICATE, ANNOTATION_CHAIN, ANNOTATION_SIGNATURE, attachmentLayers, attachmentTag, MAX_ATTACHMENTS,
  signatureConfig, signatureManifest, SIMPLE_SIGNING_MEDIA_TYPE, simpleSigningPayload, type Descriptor,
} from './cosign-layout.ts';
import type { Credentials } from './credentials.ts';
import { derToPem } from '../../core/pem.ts';
import { formatReference, parseReference, repositoryName } from './reference.ts';
import { OCI_MANIFEST, parseJson, RegistryClient, RegistryError } from './registry.ts';
import { attachBundle } from './referrers.ts';

export interface SignImageOptions {
  image: string;
  /** Keyless: the OIDC token (ignored with `key`). */
  identityToken: string;
  /** A managed key (cosign.key, decrypted) instead of a keyless certificate. */
  key?: KeyObject;
  fulcioUrl: string;
  rekorUrl: string;
  credentials?: Credentials;
  insecure?: boolean;
  /** Attach a Sigstore bundle over the manifest as an OCI 1.1 referrer instead of writing the `.sig` tag. */
  newBundleFormat?: boolean;
  fetch?: typeof fetch;
  onProgress?: (line: string) => void;
}

export interface SignedImage {
  /** registry/repository@sha256:... */
  reference: string;
  digest: string;
  /** The `.sig` tag, or with newBundleFormat the digest of the referrer manifest. */
  signatureTag: string;
  logIndex: number;
  /** The Sigstore bundle of the payload signature (for --new-bundle-format and for callers). */
  /** Keyless signing only. */
  bundle?: SerializedBundle;
  payload: Buffer;
}

/** The CA chain (intermediates then root) as the CA's trust bundle gives it, for the chain annotation. */
export async function caChainPem(fulcioUrl: string, fetchImpl: typeof fetch): Promise<string | undefined> {
  try {
    const res = await fetchImpl(`${fulcioUrl.replace(/\/+$/, '')}/api/v2/trustBundle`, { headers: { Accept: 'application/json' }, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    if (!res.ok) return undefined;
    const json = await res.json() as { chains?: { certificates?: unknown }[] };
    const certs = json.chains?.[0]?.certificates;
    if (!Array.isArray(certs) || !certs.every((c) => typeof c === 'string')) return undefined;
    return certs.map((c: string) => (c.endsWith('\n') ? c : `${c}\n`)).join('');
  } catch {
    return undefined; // the chain annotation is optional: verifiers use their trusted root
  }
}

/** The pieces of a signed v0.3 bundle that cosign's annotations carry. */
function annotationsFromBundle(bundle: SerializedBundle, chain: string | undefined): Record<string, string> {
  const vm = bundle.verificationMaterial as unknown as {
    certificate: { rawBytes: string };
    tlogEntries: { logIndex?: string; logId: { keyId: string }; integratedTime: string; inclusionPromise: { signedEntryTimestamp: string }; canonicalizedBody: string }[];
  };
  const entry = vm.tlogEntries[0]!;
  const content = bundle as unknown as { messageSignature: { signature: string } };
  // Go marshals the bundle struct in declaration order: SignedEntryTimestamp, then Payload{body, integratedTime, logIndex, logID}.
  const setBundle = JSON.stringify({
    SignedEntryTimestamp: entry.inclusionPromise.signedEntryTimestamp,
    Payload: {
      body: entry.canonicalizedBody,
      integratedTime: Number(entry.integratedTime),
      logIndex: Number(entry.logIndex ?? 0), // proto3 JSON omits a zero logIndex
      logID: Buffer.from(entry.logId.keyId, 'base64').toString('hex'),
    },
  });
  const annotations: Record<string, string> = {
    [ANNOTATION_SIGNATURE]: content.messageSignature.signature,
    [ANNOTATION_CERTIFICATE]: derToPem(Buffer.from(vm.certificate.rawBytes, 'base64')),
  };
  if (chain) annotations[ANNOTATION_CHAIN] = chain;
  annotations[ANNOTATION_BUNDLE] = setBundle;
  return annotations;
}

/** Adds one layer to the `.sig` (or `.att`) manifest of `digest`, keeping the layers already there. */
export async function appendAttachment(client: RegistryClient, repo: string, tag: string, blob: Buffer, mediaType: string, annotations: Record<string, string>): Promise<void> {
  const existing = await client.getManifest(repo, tag);
  const layers: Descriptor[] = existing ? attachmentLayers(parseJson(existing.bytes, `manifest ${tag}`)) : [];
  const blobDigest = await client.pushBlob(repo, blob);
  const layer: Descriptor = { mediaType, size: blob.length, digest: blobDigest, annotations };
  const same = (l: Descriptor) => l.digest === layer.digest && JSON.stringify(l.annotations ?? {}) === JSON.stringify(annotations);
  if (!layers.some(same)) {
    if (layers.length >= MAX_ATTACHMENTS) throw new RegistryError(`${tag} already holds ${layers.length} entries, the limit per image`);
    layers.push(layer);
  }
  const config = signatureConfig(layers);
  await client.pushBlob(repo, config);
  await client.putManifest(repo, tag, signatureManifest(config, layers), OCI_MANIFEST);
}

/**
 * What must hold before anything is signed or logged, since a log entry is permanent: the registry takes a push
 * to the repository, and the attachment tag (`.sig` or `.att`) has room for one more layer.
 */
export async function checkCanAttach(client: RegistryClient, repo: string, tag?: string): Promise<void> {
  await client.checkPush(repo);
  if (tag === undefined) return;
  const existing = await client.getManifest(repo, tag);
  const layers = existing ? attachmentLayers(parseJson(existing.bytes, `manifest ${tag}`)) : [];
  if (layers.length >= MAX_ATTACHMENTS) throw new RegistryError(`${tag} already holds ${layers.length} entries, the limit per image: nothing was signed`);
}

/** Runs the registry step that follows a log entry, saying when it fails that the entry exists. */
export async function afterLogged<T>(logIndex: number, what: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (e) {
    throw new RegistryError(`the ${what} is in the log at index ${logIndex}, but storing it in the registry failed: ${(e as Error).message}`, (e as RegistryError).status);
  }
}

/** Resolves `image` to its manifest digest (never trusting a tag beyond this one read). */
export async function resolveImage(client: RegistryClient, image: string): Promise<{ ref: ReturnType<typeof parseReference>; digest: string }> {
  const ref = parseReference(image);
  const manifest = await client.getManifest(ref.repository, ref.digest ?? ref.tag!);
  if (!manifest) throw new RegistryError(`image ${formatReference(ref)} not found`, 404);
  return { ref, digest: manifest.digest };
}

export async function signImage(opts: SignImageOptions): Promise<SignedImage> {
  const progress = opts.onProgress ?? (() => {});
  const fetchImpl = opts.fetch ?? fetch;
  const ref = parseReference(opts.image);
  const client = new RegistryClient({ registry: ref.registry, credentials: opts.credentials, insecure: opts.insecure, fetch: opts.fetch });
  const subject = await client.getManifest(ref.repository, ref.digest ?? ref.tag!);
  if (!subject) throw new RegistryError(`image ${formatReference(ref)} not found`, 404);
  const digest = subject.digest;
  const reference = `${repositoryName(ref)}@${digest}`;
  progress(`Signing ${reference}`);
  const bundleLogIndex = (b: SerializedBundle) => Number((b.verificationMaterial as unknown as { tlogEntries: { logIndex?: string }[] }).tlogEntries[0]!.logIndex ?? 0);
  if (opts.newBundleFormat) {
    await checkCanAttach(client, ref.repository);
    // The bundle signs the manifest bytes themselves: its message digest IS the image digest.
    const bundle = await signArtifact({ artifact: subject.bytes, identityToken: opts.identityToken, fulcioUrl: opts.fulcioUrl, rekorUrl: opts.rekorUrl, fetch: opts.fetch, onProgress: progress });
    const logIndex = bundleLogIndex(bundle);
    const referrer = await afterLogged(logIndex, 'signature', () => attachBundle(client, ref.repository, subject, Buffer.from(JSON.stringify(bundle)), { 'dev.sigstore.bundle.content': 'message-signature' }));
    progress(`Attached the bundle to ${reference} as referrer ${referrer}`);
    return { reference, digest, signatureTag: referrer, logIndex, bundle, payload: subject.bytes };
  }
  const payload = simpleSigningPayload(repositoryName(ref), digest);
  const signatureTag = attachmentTag(digest, 'sig');
  await checkCanAttach(client, ref.repository, signatureTag);
  if (opts.key) {
    const annotations = await signWithKey(payload, opts.key, opts.rekorUrl, fetchImpl);
    const logIndex = JSON.parse(annotations[ANNOTATION_BUNDLE]!).Payload.logIndex as number;
    await afterLogged(logIndex, 'signature', () => appendAttachment(client, ref.repository, signatureTag, payload, SIMPLE_SIGNING_MEDIA_TYPE, annotations));
    progress(`Pushed signature to ${repositoryName(ref)}:${signatureTag}`);
    return { reference, digest, signatureTag, logIndex, payload };
  }
  const bundle = await signArtifact({ artifact: payload, identityToken: opts.identityToken, fulcioUrl: opts.fulcioUrl, rekorUrl: opts.rekorUrl, fetch: opts.fetch, onProgress: progress });
  const annotations = annotationsFromBundle(bundle, await caChainPem(opts.fulcioUrl, fetchImpl));
  const logIndex = bundleLogIndex(bundle);
  await afterLogged(logIndex, 'signature', () => appendAttachment(client, ref.repository, signatureTag, payload, SIMPLE_SIGNING_MEDIA_TYPE, annotations));
  progress(`Pushed signature to ${repositoryName(ref)}:${signatureTag}`);
  return { reference, digest, signatureTag, logIndex, bundle, payload };
}

/** cosign sign --key: the payload signed with the managed key, logged as a hashedrekord naming the public key. */
async function signWithKey(payload: Buffer, key: KeyObject, rekorUrl: string, fetchImpl: typeof fetch): Promise<Record<string, string>> {
  const { signature, entry } = await signAndLogWithKey(payload, key, rekorUrl, fetchImpl);
  return {
    [ANNOTATION_SIGNATURE]: signature.toString('base64'),
    [ANNOTATION_BUNDLE]: JSON.stringify({
      SignedEntryTimestamp: entry.set.toString('base64'),
      Payload: { body: entry.body.toString('base64'), integratedTime: entry.integratedTime, logIndex: entry.logIndex, logID: entry.logId.toString('hex') },
    }),
  };
}
