/**
 * `sigstack attest` / `verify-attestation`: in-toto statements about an image's manifest digest, signed as DSSE,
 * logged as dsse v0.0.1 and stored as cosign does: layers of the manifest tagged `sha256-<hex>.att`, media type
 * application/vnd.dsse.envelope.v1+json, annotated with the predicate type, certificate, chain and SET bundle
 * (specs/ATTESTATION_SPEC.md). The signature annotation is empty there: the signature is inside the envelope.
 */
import type { KeyObject } from 'node:crypto';
import { VerificationError } from '../../core/errors.ts';
import { derToPem } from '../../core/pem.ts';
import type { TrustMaterial } from '../trusted-root.ts';
import { verifyDsseAttestation, type InTotoStatement } from '../verify/dsse.ts';
import { verifyDsseBundle } from '../verify/dsse-bundle.ts';
import { verifyDsseKeyAttestation } from '../verify/dsse-key.ts';
import { ANNOTATION_BUNDLE_CONTENT, ANNOTATION_BUNDLE_PREDICATE_TYPE, buildDsseBundle } from './attest-bundle.ts';
import { attachBundle, bundleReferrers } from './referrers.ts';
import type { Policy } from '../verify/identity.ts';
import {
  ANNOTATION_BUNDLE, ANNOTATION_CERTIFICATE, ANNOTATION_CHAIN, ANNOTATION_PREDICATE_TYPE, ANNOTATION_SIGNATURE, attachmentLayers, attachmentTag, DSSE_MEDIA_TYPE,
} from './cosign-layout.ts';
import type { Credentials } from './credentials.ts';
import { parseReference, repositoryName } from './reference.ts';
import { parseJson, RegistryClient } from './registry.ts';
import { IN_TOTO_PAYLOAD_TYPE, signDsse, signDsseWithKey } from './sign-dsse.ts';
import { afterLogged, appendAttachment, caChainPem, checkCanAttach, resolveImage } from './sign-image.ts';
import { ImageVerificationError, noneVerified, signerOf, verifyEach, type CandidateFailure } from './verify-image.ts';

/** cosign's --type names and the predicate type URIs they stand for; any other value must be a URI. */
export const PREDICATE_TYPES: Record<string, string> = {
  slsaprovenance: 'https://slsa.dev/provenance/v0.2',
  slsaprovenance02: 'https://slsa.dev/provenance/v0.2',
  slsaprovenance1: 'https://slsa.dev/provenance/v1',
  spdx: 'https://spdx.dev/Document',
  spdxjson: 'https://spdx.dev/Document',
  cyclonedx: 'https://cyclonedx.org/bom',
  vuln: 'https://cosign.sigstore.dev/attestation/vuln/v1',
  custom: 'https://cosign.sigstore.dev/attestation/v1',
};

export function predicateTypeUri(type: string): string {
  const known = PREDICATE_TYPES[type];
  if (known) return known;
  if (/^[a-z][a-z0-9+.-]*:\S+$/i.test(type)) return type;
  throw new Error(`--type ${type}: give one of ${Object.keys(PREDICATE_TYPES).join(', ')} or a predicate type URI`);
}

export const MAX_ATTESTATION = 8 * 1024 * 1024;

export interface AttestImageOptions {
  image: string;
  predicate: unknown;
  type: string;
  /** Keyless: the OIDC token (unused with `key`). */
  identityToken: string;
  /** A managed key (cosign.key, decrypted): the attestation is logged with its public key and has no certificate. */
  key?: KeyObject;
  /** Attach a Sigstore bundle (DSSE) as an OCI 1.1 referrer instead of a layer of the `.att` tag. Keyless only. */
  newBundleFormat?: boolean;
  fulcioUrl: string;
  rekorUrl: string;
  credentials?: Credentials;
  insecure?: boolean;
  fetch?: typeof fetch;
  onProgress?: (line: string) => void;
}

export async function attestImage(opts: AttestImageOptions): Promise<{ reference: string; digest: string; tag: string; logIndex: number }> {
  const predicateType = predicateTypeUri(opts.type);
  const ref = parseReference(opts.image);
  const client = new RegistryClient({ registry: ref.registry, credentials: opts.credentials, insecure: opts.insecure, fetch: opts.fetch });
  const { digest } = await resolveImage(client, opts.image);
  const statement = {
    _type: 'https://in-toto.io/Statement/v0.1',
    predicateType,
    subject: [{ name: repositoryName(ref), digest: { sha256: digest.slice('sha256:'.length) } }],
    predicate: opts.predicate,
  };
  const payload = Buffer.from(JSON.stringify(statement));
  if (opts.key && opts.newBundleFormat) throw new Error('--new-bundle-format is for keyless attestations');
  const tag = attachmentTag(digest, 'att');
  await checkCanAttach(client, ref.repository, opts.newBundleFormat ? undefined : tag);
  const signed = opts.key
    ? await signDsseWithKey({ payload, payloadType: IN_TOTO_PAYLOAD_TYPE, key: opts.key, rekorUrl: opts.rekorUrl, fetch: opts.fetch, onProgress: opts.onProgress })
    : await signDsse({ payload, payloadType: IN_TOTO_PAYLOAD_TYPE, identityToken: opts.identityToken, fulcioUrl: opts.fulcioUrl, rekorUrl: opts.rekorUrl, fetch: opts.fetch, onProgress: opts.onProgress });
  if (opts.newBundleFormat) {
    const subject = (await client.getManifest(ref.repository, digest))!;
    const bundle = Buffer.from(JSON.stringify(buildDsseBundle(signed)));
    const referrer = await afterLogged(signed.logIndex, 'attestation', () => attachBundle(client, ref.repository, subject, bundle, { [ANNOTATION_BUNDLE_CONTENT]: 'dsse-envelope', [ANNOTATION_BUNDLE_PREDICATE_TYPE]: predicateType }));
    opts.onProgress?.(`Attached the attestation bundle to ${repositoryName(ref)}@${digest} as referrer ${referrer}`);
    return { reference: `${repositoryName(ref)}@${digest}`, digest, tag: referrer, logIndex: signed.logIndex };
  }
  // cosign's .att layer: the signature is inside the envelope; a key-signed one has no certificate or chain.
  const annotations: Record<string, string> = { [ANNOTATION_SIGNATURE]: '' };
  if (signed.leafDer) annotations[ANNOTATION_CERTIFICATE] = derToPem(signed.leafDer);
  annotations[ANNOTATION_PREDICATE_TYPE] = predicateType;
  const chain = signed.leafDer ? await caChainPem(opts.fulcioUrl, opts.fetch ?? fetch) : undefined;
  if (chain) annotations[ANNOTATION_CHAIN] = chain;
  annotations[ANNOTATION_BUNDLE] = JSON.stringify({
    SignedEntryTimestamp: signed.signedEntryTimestamp.toString('base64'),
    Payload: { body: signed.canonicalizedBody.toString('base64'), integratedTime: signed.integratedTime, logIndex: signed.logIndex, logID: signed.logId.toString('hex') },
  });
  await afterLogged(signed.logIndex, 'attestation', () => appendAttachment(client, ref.repository, tag, Buffer.from(signed.envelope), DSSE_MEDIA_TYPE, annotations));
  opts.onProgress?.(`Pushed attestation to ${repositoryName(ref)}:${tag}`);
  return { reference: `${repositoryName(ref)}@${digest}`, digest, tag, logIndex: signed.logIndex };
}

export interface VerifyAttestationOptions {
  image: string;
  type: string;
  trust: TrustMaterial;
  policy: Policy;
  /** Verify key-signed attestations with this public key (cosign.pub) instead of certificates and identities. */
  publicKey?: KeyObject;
  credentials?: Credentials;
  insecure?: boolean;
  fetch?: typeof fetch;
  /** Largest manifest read (RegistryClientOptions.maxManifestBytes). */
  maxManifestBytes?: number;
  now?: () => number;
}

export interface VerifiedImageAttestation {
  statement: InTotoStatement;
  identity: string;
  issuer: string;
  logIndex: number;
  checks: string[];
}

export async function verifyImageAttestations(opts: VerifyAttestationOptions): Promise<{ reference: string; digest: string; attestations: VerifiedImageAttestation[] }> {
  const predicateType = predicateTypeUri(opts.type);
  const ref = parseReference(opts.image);
  const client = new RegistryClient({ registry: ref.registry, credentials: opts.credentials, insecure: opts.insecure, fetch: opts.fetch, maxManifestBytes: opts.maxManifestBytes });
  const { digest } = await resolveImage(client, opts.image);
  const reference = `${repositoryName(ref)}@${digest}`;
  const manifest = await client.getManifest(ref.repository, attachmentTag(digest, 'att'));
  const layers = manifest ? attachmentLayers(parseJson(manifest.bytes, 'attestation manifest')).filter((l) => l.mediaType === DSSE_MEDIA_TYPE) : [];
  // The referrer layout: Sigstore bundles holding a DSSE envelope (message-signature bundles are signatures, not attestations).
  const referrers = await bundleReferrers(client, ref.repository, digest);
  if (layers.length === 0 && referrers.length === 0) throw new ImageVerificationError('no-signatures', `no attestations found for ${reference}`);
  let candidates = layers.length;
  const now = opts.now ?? Date.now;
  const verified: VerifiedImageAttestation[] = [];
  const failures: CandidateFailure[] = [];
  const expect = { sha256: digest.slice('sha256:'.length), predicateType };
  // Every layer is verified: the predicate type is checked on the verified statement, never on the annotation alone.
  await verifyEach(layers, async (layer): Promise<VerifiedImageAttestation> => {
    const a = layer.annotations ?? {};
    if (layer.size > MAX_ATTESTATION) throw new VerificationError('BUNDLE', `attestation of ${layer.size} bytes is over the limit`);
    const envelope = await client.getBlob(ref.repository, layer.digest, MAX_ATTESTATION);
    const r = opts.publicKey
      ? verifyDsseKeyAttestation(opts.trust, { envelope, bundle: a[ANNOTATION_BUNDLE] }, expect, opts.publicKey, now())
      : verifyDsseAttestation(opts.trust, { envelope, certificate: a[ANNOTATION_CERTIFICATE] ?? '', chain: a[ANNOTATION_CHAIN], bundle: a[ANNOTATION_BUNDLE] }, expect, opts.policy, now());
    return { statement: r.statement, identity: r.identity, issuer: r.issuer, logIndex: r.logIndex, checks: r.checks };
  }, (layer) => signerOf(layer.annotations?.[ANNOTATION_CERTIFICATE]), verified, failures);
  // Referrer bundles carry certificates (keyless); with --key they are not the key's, as in verify-image.
  // Fetched one at a time: only the bundle being verified is held.
  for (const referrer of opts.publicKey ? [] : referrers) {
    const r = await referrer.load();
    if (!r || !isDsseBundle(r.bundle)) continue;
    candidates++;
    await verifyEach([r], (c): VerifiedImageAttestation => {
      const v = verifyDsseBundle(opts.trust, c.bundle, expect, opts.policy, now());
      return { statement: v.statement, identity: v.identity, issuer: v.issuer, logIndex: v.logIndex, checks: v.checks };
    }, () => undefined, verified, failures);
  }
  if (candidates === 0 && !opts.publicKey) throw new ImageVerificationError('no-signatures', `no attestations found for ${reference}`);
  if (verified.length === 0) {
    const wrongType = failures.filter((f) => f.error instanceof VerificationError && f.error.code === 'PREDICATE_TYPE');
    if (wrongType.length === failures.length) throw new ImageVerificationError('no-signatures', `no attestations of type ${predicateType} found for ${reference} (${failures.length} of other types)`);
    throw noneVerified('attestations', failures.filter((f) => !(f.error instanceof VerificationError && f.error.code === 'PREDICATE_TYPE')));
  }
  return { reference, digest, attestations: verified };
}

function isDsseBundle(bundle: Buffer): boolean {
  try {
    const b = JSON.parse(bundle.toString('utf8')) as { dsseEnvelope?: unknown };
    return typeof b === 'object' && b !== null && b.dsseEnvelope !== undefined;
  } catch {
    return true; // unreadable: let the verifier say so rather than skipping it
  }
}
