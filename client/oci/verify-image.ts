/**
 * `sigstack verify-image`: find the image's cosign signatures in the registry and verify them offline against
 * the trusted root. The registry is only a store here: what it returns is checked by digest and then by the
 * verifier; nothing it says is believed. The tag is resolved once, and only signatures over that digest count.
 */
import { VerificationError } from '../../core/errors.ts';
import type { KeyObject } from 'node:crypto';
import { verifyCosignSignature, singleCertificate } from '../verify/cosign.ts';
import { verifyCosignKeySignature } from '../verify/cosign-key.ts';
import { certificateIdentity } from '../verify/identity.ts';
import { loadLeaf } from '../verify/leaf.ts';
import type { Policy } from '../verify/identity.ts';
import type { Verifier } from '../verify/index.ts';
import { BUNDLE_ARTIFACT_TYPE, bundleReferrers } from './referrers.ts';
import {
  ANNOTATION_BUNDLE, ANNOTATION_CERTIFICATE, ANNOTATION_CHAIN, ANNOTATION_SIGNATURE, attachmentLayers, attachmentTag,
  checkSimpleSigningPayload, SIMPLE_SIGNING_MEDIA_TYPE, type SimpleSigning,
} from './cosign-layout.ts';
import type { Credentials } from './credentials.ts';
import { parseReference, repositoryName } from './reference.ts';
import { parseJson, RegistryClient, RegistryError } from './registry.ts';

/** A simple-signing payload is a few hundred bytes; cosign's own ceiling is far larger than anything real. */
export const MAX_PAYLOAD = 1024 * 1024;

export interface VerifyImageOptions {
  image: string;
  /** The offline verifier of the deployment's trusted root (createVerifier). */
  verifier: Verifier;
  policy: Policy;
  /** Verify managed-key signatures with this public key (cosign.pub) instead of certificates and identities. */
  publicKey?: KeyObject;
  credentials?: Credentials;
  insecure?: boolean;
  fetch?: typeof fetch;
  /** Largest manifest read (RegistryClientOptions.maxManifestBytes). */
  maxManifestBytes?: number;
  now?: () => number;
}

export interface VerifiedImageSignature {
  /** Where it was found: the cosign `.sig` tag or an OCI referrer holding a Sigstore bundle. */
  layout: 'sig-tag' | 'referrer';
  payload: SimpleSigning;
  identity: string;
  issuer: string;
  integratedTime: number;
  logIndex: number;
  checks: string[];
}

export interface VerifiedImage {
  reference: string;
  digest: string;
  signatures: VerifiedImageSignature[];
}

/** Why no signature was accepted. `found` lists the signers of signatures that failed only on identity. */
export class ImageVerificationError extends Error {
  /**
   * `transient`: some candidate could not be judged because the registry failed to hand it over; the verdict may
   * change when asked again, so the admission webhook does not cache it.
   */
  constructor(readonly reason: 'no-signatures' | 'no-match' | 'invalid', message: string, readonly found: { identity: string; issuer: string }[] = [], readonly transient = false) {
    super(message);
    this.name = 'ImageVerificationError';
  }
}

function signerOfBundle(bundle: Buffer): { identity: string; issuer: string } | undefined {
  try {
    const vm = (JSON.parse(bundle.toString('utf8')) as { verificationMaterial?: { certificate?: { rawBytes?: string }; x509CertificateChain?: { certificates?: { rawBytes?: string }[] } } }).verificationMaterial;
    const raw = vm?.certificate?.rawBytes ?? vm?.x509CertificateChain?.certificates?.[0]?.rawBytes;
    if (typeof raw !== 'string') return undefined;
    const id = certificateIdentity(loadLeaf(Buffer.from(raw, 'base64')));
    return { identity: id.san, issuer: id.issuer };
  } catch {
    return undefined;
  }
}

export function signerOf(certificatePem: string | undefined): { identity: string; issuer: string } | undefined {
  try {
    const id = certificateIdentity(loadLeaf(singleCertificate(certificatePem, 'certificate')));
    return { identity: id.san, issuer: id.issuer };
  } catch {
    return undefined;
  }
}

/** A signature or attestation that did not verify, with the signer its certificate names (for the message). */
export interface CandidateFailure {
  error: VerificationError | Error;
  signer?: { identity: string; issuer: string };
}

/**
 * Verifies every candidate (a layer or a referrer) in turn, as cosign: one that verifies is kept, one that does
 * not is noted with its signer, and a POLICY error ends the whole verification (the caller's flags are wrong,
 * so no candidate could ever pass).
 */
export async function verifyEach<C, R>(candidates: C[], verifyOne: (c: C) => Promise<R> | R, signer: (c: C) => CandidateFailure['signer'],
  verified: R[], failures: CandidateFailure[]): Promise<void> {
  for (const c of candidates) {
    try {
      verified.push(await verifyOne(c));
    } catch (e) {
      if (e instanceof VerificationError && e.code === 'POLICY') throw e;
      failures.push({ error: e as Error, signer: signer(c) });
    }
  }
}

/** Turns per-signature failures into the one error cosign would give. */
export function noneVerified(kind: 'signatures' | 'attestations', failures: CandidateFailure[]): ImageVerificationError {
  const transient = failures.some((f) => f.error instanceof RegistryError);
  const identityFailures = failures.filter((f) => f.error instanceof VerificationError && (f.error.code === 'IDENTITY' || f.error.code === 'ISSUER') && f.signer);
  if (identityFailures.length > 0) {
    const found = identityFailures.map((f) => f.signer!);
    return new ImageVerificationError('no-match', `none of the expected identities matched what was in the certificate, got subjects [${found.map((f) => `${f.identity} (issuer ${f.issuer})`).join(', ')}]`, found, transient);
  }
  const reasons = failures.slice(0, 5).map((f) => (f.error instanceof VerificationError ? `[${f.error.code}] ${f.error.message}` : f.error.message));
  return new ImageVerificationError('invalid', `no valid ${kind}: ${reasons.join('; ')}`, [], transient);
}

export async function verifyImage(opts: VerifyImageOptions): Promise<VerifiedImage> {
  const ref = parseReference(opts.image);
  const client = new RegistryClient({ registry: ref.registry, credentials: opts.credentials, insecure: opts.insecure, fetch: opts.fetch, maxManifestBytes: opts.maxManifestBytes });
  const subject = await client.getManifest(ref.repository, ref.digest ?? ref.tag!);
  if (!subject) throw new ImageVerificationError('no-signatures', `image ${opts.image} not found`);
  const digest = subject.digest;
  const reference = `${repositoryName(ref)}@${digest}`;
  const sigManifest = await client.getManifest(ref.repository, attachmentTag(digest, 'sig'));
  const layers = sigManifest ? attachmentLayers(parseJson(sigManifest.bytes, 'signature manifest')).filter((l) => l.mediaType === SIMPLE_SIGNING_MEDIA_TYPE) : [];
  const referrers = await bundleReferrers(client, ref.repository, digest);
  if (layers.length === 0 && referrers.length === 0) throw new ImageVerificationError('no-signatures', `no signatures found for ${reference}`);
  let candidates = layers.length;
  const now = opts.now ?? Date.now;
  const verified: VerifiedImageSignature[] = [];
  const failures: CandidateFailure[] = [];
  await verifyEach(layers, async (layer): Promise<VerifiedImageSignature> => {
    const a = layer.annotations ?? {};
    if (layer.size > MAX_PAYLOAD) throw new VerificationError('BUNDLE', `signature payload of ${layer.size} bytes is over the limit`);
    const payload = await client.getBlob(ref.repository, layer.digest, MAX_PAYLOAD);
    const result = opts.publicKey
      ? verifyCosignKeySignature(opts.verifier.trust, { payload, signature: a[ANNOTATION_SIGNATURE] ?? '', bundle: a[ANNOTATION_BUNDLE] }, opts.publicKey, now())
      : verifyCosignSignature(opts.verifier.trust, {
        payload, signature: a[ANNOTATION_SIGNATURE] ?? '', certificate: a[ANNOTATION_CERTIFICATE] ?? '', chain: a[ANNOTATION_CHAIN], bundle: a[ANNOTATION_BUNDLE],
      }, opts.policy, now());
    let claims: SimpleSigning;
    try {
      claims = checkSimpleSigningPayload(payload, digest);
    } catch (e) {
      throw new VerificationError('CLAIMS', (e as Error).message);
    }
    result.checks.unshift(`cosign claims: the payload is a "${claims.critical.type}" for ${digest}`);
    return { layout: 'sig-tag', payload: claims, ...result };
  }, (layer) => signerOf(layer.annotations?.[ANNOTATION_CERTIFICATE]), verified, failures);
  // Referrer bundles sign the image manifest itself: the artifact is the manifest bytes whose digest we resolved.
  // Fetched one at a time: only the bundle being verified is held.
  for (const referrer of opts.publicKey ? [] : referrers) {
    const r = await referrer.load();
    if (!r) continue;
    candidates++;
    await verifyEach([r], (c): VerifiedImageSignature => {
      const result = opts.verifier.verify({ artifact: subject.bytes, bundle: c.bundle, policy: opts.policy });
      result.checks.unshift(`referrer: a ${BUNDLE_ARTIFACT_TYPE} attached to ${digest}, signing the manifest itself`);
      return {
        layout: 'referrer',
        payload: { critical: { identity: { 'docker-reference': repositoryName(ref) }, image: { 'docker-manifest-digest': digest }, type: 'cosign container image signature' }, optional: null },
        ...result,
      };
    }, (c) => signerOfBundle(c.bundle), verified, failures);
  }
  if (candidates === 0 && !opts.publicKey) throw new ImageVerificationError('no-signatures', `no signatures found for ${reference}`);
  if (verified.length === 0) throw noneVerified('signatures', failures);
  return { reference, digest, signatures: verified };
}

/** The JSON cosign prints: each payload with the signer added to `optional`. */
export function cosignOutput(image: VerifiedImage): unknown[] {
  return image.signatures.map((s) => ({
    critical: s.payload.critical,
    // Key-based signatures have no certificate, hence no Issuer/Subject (as cosign prints them).
    optional: s.issuer ? { ...(s.payload.optional ?? {}), Issuer: s.issuer, Subject: s.identity } : s.payload.optional,
  }));
}
