/**
 * One AdmissionReview (admission.k8s.io/v1) in, one out. Every image of the object is resolved to its digest
 * in the registry and verified offline against the trusted root under the rule the policy file gives for the
 * namespace and image, narrowed by the pod's annotations; the verdict is cached by digest and effective policy.
 * The answer denies with a message naming each image that failed and why; with `mutate`, an allowed object gets
 * a JSON patch pinning every image given by tag to the digest that was verified.
 */
import { verifyImageAttestations } from '../client/oci/attest.ts';
import type { Credentials } from '../client/oci/credentials.ts';
import { parseReference, repositoryName } from '../client/oci/reference.ts';
import { RegistryClient } from '../client/oci/registry.ts';
import { ImageVerificationError, verifyImage } from '../client/oci/verify-image.ts';
import type { Verifier } from '../client/verify/index.ts';
import { VerificationError } from '../core/errors.ts';
import { ObjectShapeError, podImages, podSpecOf, type PodImage } from './pod-images.ts';
import { findRule, narrow, PolicyError, type AdmissionPolicy } from './policy.ts';
import type { Verdict, VerdictCache } from './verdict-cache.ts';

export interface ReviewContext {
  policy: AdmissionPolicy;
  /** The offline verifier of the deployment's trusted root. */
  verifier: Verifier;
  cache: VerdictCache;
  mutate: boolean;
  credentialsFor?: (registry: string) => Credentials | undefined;
  insecureRegistries?: boolean;
  fetch?: typeof fetch;
}

export class ReviewRequestError extends Error {}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: { code: number; message: string };
  patchType?: 'JSONPatch';
  patch?: string;
}

interface ImageOutcome extends Verdict {
  pinned?: string;
}

async function judgeImage(ctx: ReviewContext, namespace: string, img: PodImage, annotations: Record<string, string>): Promise<ImageOutcome> {
  let ref;
  try {
    ref = parseReference(img.image);
  } catch (e) {
    return { allowed: false, message: (e as Error).message };
  }
  const repo = repositoryName(ref);
  const rule = findRule(ctx.policy, namespace, repo);
  if (!rule) return ctx.policy.unmatched === 'allow' ? { allowed: true, message: 'no policy covers it' } : { allowed: false, message: `no policy for ${repo} in namespace ${namespace}` };
  let policy;
  try {
    policy = narrow(rule.policy, annotations[`subject.cosign.sigstore.dev/${img.container}`], annotations[`issuer.cosign.sigstore.dev/${img.container}`]);
  } catch (e) {
    return { allowed: false, message: (e as PolicyError).message };
  }
  const client = new RegistryClient({ registry: ref.registry, credentials: ctx.credentialsFor?.(ref.registry), insecure: ctx.insecureRegistries, fetch: ctx.fetch });
  let digest: string;
  try {
    const manifest = await client.getManifest(ref.repository, ref.digest ?? ref.tag!);
    if (!manifest) return { allowed: false, message: 'not found in the registry' };
    digest = manifest.digest;
  } catch (e) {
    return { allowed: false, message: `registry: ${(e as Error).message}` };
  }
  const pinned = `${repo}@${digest}`;
  const key = JSON.stringify([pinned, rule.key, policy]);
  const cached = ctx.cache.get(key);
  if (cached) return { ...cached, pinned };
  let verdict: Verdict;
  let cacheable = true;
  try {
    const sig = await verifyImage({ image: pinned, verifier: ctx.verifier, policy, insecure: ctx.insecureRegistries, credentials: ctx.credentialsFor?.(ref.registry), fetch: ctx.fetch });
    for (const type of rule.attestations) {
      await verifyImageAttestations({ image: pinned, type, trust: ctx.verifier.trust, policy, insecure: ctx.insecureRegistries, credentials: ctx.credentialsFor?.(ref.registry), fetch: ctx.fetch });
    }
    verdict = { allowed: true, message: `signed by ${sig.signatures[0]!.identity}` };
  } catch (e) {
    // Only a verdict about the image is remembered; a registry that failed to answer is asked again next time.
    cacheable = e instanceof ImageVerificationError || e instanceof VerificationError;
    verdict = { allowed: false, message: (e as Error).message };
  }
  if (cacheable) ctx.cache.set(key, verdict);
  return { ...verdict, pinned };
}

export async function reviewAdmission(body: unknown, ctx: ReviewContext): Promise<{ apiVersion: string; kind: string; response: AdmissionResponse }> {
  const b = body as { apiVersion?: unknown; kind?: unknown; request?: Record<string, unknown> };
  if (typeof b !== 'object' || b === null || b.apiVersion !== 'admission.k8s.io/v1' || b.kind !== 'AdmissionReview') {
    throw new ReviewRequestError('expected an AdmissionReview of admission.k8s.io/v1');
  }
  const req = b.request;
  if (typeof req !== 'object' || req === null || typeof req.uid !== 'string' || req.uid === '') throw new ReviewRequestError('request.uid is missing');
  const reply = (response: Omit<AdmissionResponse, 'uid'>) => ({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: req.uid as string, ...response } });
  const deny = (message: string) => reply({ allowed: false, status: { code: 403, message } });
  if (req.operation !== 'CREATE' && req.operation !== 'UPDATE') return reply({ allowed: true });
  const kind = (req.kind as { kind?: unknown } | undefined)?.kind;
  const namespace = typeof req.namespace === 'string' ? req.namespace : '';
  const at = typeof kind === 'string' ? podSpecOf(kind, req.object) : undefined;
  if (!at) return reply({ allowed: true });
  let images: PodImage[];
  try {
    images = podImages(at);
  } catch (e) {
    if (e instanceof ObjectShapeError) return deny(`malformed ${String(kind)}: ${e.message}`);
    throw e;
  }
  const outcomes = await Promise.all(images.map((img) => judgeImage(ctx, namespace, img, at.annotations)));
  const denied = outcomes.map((o, i) => ({ o, img: images[i]! })).filter(({ o }) => !o.allowed);
  if (denied.length > 0) {
    return deny(denied.map(({ o, img }) => `image ${img.image} (${img.list} ${img.container}) is not admitted: ${o.message}`).join('; ').slice(0, 4096));
  }
  if (!ctx.mutate) return reply({ allowed: true });
  const patch = outcomes
    .map((o, i) => ({ o, img: images[i]! }))
    .filter(({ o, img }) => o.pinned && o.pinned !== img.image && !img.image.includes('@'))
    .map(({ o, img }) => ({ op: 'replace', path: img.pointer, value: o.pinned }));
  if (patch.length === 0) return reply({ allowed: true });
  return reply({ allowed: true, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(patch)).toString('base64') });
}
