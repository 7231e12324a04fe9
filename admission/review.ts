/**
 * One AdmissionReview (admission.k8s.io/v1) in, one out. Every image of the object is resolved to its digest
 * in the registry and verified offline against the trusted root under the rule the policy file gives for the
 * namespace and image, narrowed by the pod's annotations; the verdict is cached by digest and effective policy.
 * The answer denies with a message naming each image that failed and why; with `mutate`, an allowed object gets
 * a JSON patch pinning every image given by tag to the digest that was verified.
 */
import { setMaxListeners } from 'node:events';
import { Agent, fetch as undiciFetch } from 'undici';
import { verifyImageAttestations } from '../client/oci/attest.ts';
import type { Credentials } from '../client/oci/credentials.ts';
import { parseReference, repositoryAliases, usesPlainHttp, type ImageReference } from '../client/oci/reference.ts';
import { RegistryClient } from '../client/oci/registry.ts';
import { ImageVerificationError, verifyImage } from '../client/oci/verify-image.ts';
import type { Verifier } from '../client/verify/index.ts';
import { VerificationError } from '../core/errors.ts';
import { Limiter } from './limiter.ts';
import { ObjectShapeError, podImages, podSpecOf, type PodImage } from './pod-images.ts';
import { findRule, narrow, PolicyError, type AdmissionPolicy } from './policy.ts';
import type { Verdict, VerdictCache } from './verdict-cache.ts';
import { isRecord } from '../core/json-text.ts';

export const DEFAULT_DEADLINE_MS = 8_000;
export const DEFAULT_CONCURRENT_IMAGES = 8;
/**
 * Manifests, signature manifests and referrers indexes larger than this are refused. Real ones are a few KiB
 * (a `.sig` manifest of 100 keyless signatures ~0.6 MiB); a crafted 4 MiB manifest of empty objects parses
 * into ~70 MiB, so this bounds what one image can make the webhook hold.
 */
export const DEFAULT_MAX_MANIFEST_BYTES = 1024 * 1024;

export interface ReviewContext {
  policy: AdmissionPolicy;
  /** The offline verifier of the deployment's trusted root. */
  verifier: Verifier;
  cache: VerdictCache;
  mutate: boolean;
  credentialsFor?: (registry: string) => Promise<Credentials | undefined>;
  insecureRegistries?: boolean;
  fetch?: typeof fetch;
  /** The whole review's time budget (default DEFAULT_DEADLINE_MS). */
  deadlineMs?: number;
  /** Images verified at once across all requests (default: a shared Limiter of DEFAULT_CONCURRENT_IMAGES). */
  limiter?: Limiter;
  /** Largest registry document read (default DEFAULT_MAX_MANIFEST_BYTES). */
  maxManifestBytes?: number;
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

const sharedLimiter = new Limiter(DEFAULT_CONCURRENT_IMAGES);

/** What one image's judgement may use: the deadline's signal and a fetch bound to it. */
interface Budget {
  signal: AbortSignal;
  fetch: typeof fetch;
}

async function judgeImage(ctx: ReviewContext, namespace: string, img: PodImage, annotations: Record<string, string>, budget: Budget): Promise<ImageOutcome> {
  let ref: ImageReference;
  try {
    ref = parseReference(img.image);
  } catch (e) {
    return { allowed: false, message: (e as Error).message };
  }
  const names = repositoryAliases(ref.registry, ref.repository, usesPlainHttp(ref.registry, ctx.insecureRegistries));
  const rule = findRule(ctx.policy, namespace, names);
  // The canonical spelling reaches the same registry and names the image in the cache key and the pinned patch.
  const repo = names[0]!;
  const registry = repo.slice(0, repo.length - ref.repository.length - 1);
  if (!rule) return ctx.policy.unmatched === 'allow' ? { allowed: true, message: 'no policy covers it' } : { allowed: false, message: `no policy for ${repo} in namespace ${namespace}` };
  let policy;
  try {
    // Annotations are per container; an image volume is held to its rule as written.
    policy = img.list === 'volumes' ? rule.policy : narrow(rule.policy, annotations[`subject.cosign.sigstore.dev/${img.container}`], annotations[`issuer.cosign.sigstore.dev/${img.container}`]);
  } catch (e) {
    return { allowed: false, message: (e as PolicyError).message };
  }
  // Credentials before a verification slot: a slow credential helper for one registry must not hold the slots
  // that images of other registries need (the review's deadline still bounds the wait).
  let credentials: Credentials | undefined;
  try {
    credentials = await ctx.credentialsFor?.(registry);
  } catch (e) {
    return { allowed: false, message: `registry credentials: ${(e as Error).message}` };
  }
  return (ctx.limiter ?? sharedLimiter).run(async () => {
    budget.signal.throwIfAborted();
    const registryOpts = { insecure: ctx.insecureRegistries, fetch: budget.fetch, maxManifestBytes: ctx.maxManifestBytes ?? DEFAULT_MAX_MANIFEST_BYTES };
    let digest: string;
    try {
      const client = new RegistryClient({ registry, credentials, ...registryOpts });
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
      const sig = await verifyImage({ image: pinned, verifier: ctx.verifier, policy, credentials, ...registryOpts });
      for (const type of rule.attestations) {
        await verifyImageAttestations({ image: pinned, type, trust: ctx.verifier.trust, policy, credentials, ...registryOpts });
      }
      verdict = { allowed: true, message: `signed by ${sig.signatures[0]!.identity}` };
    } catch (e) {
      // Only a verdict about the image is remembered; a registry that failed to answer is asked again next time.
      cacheable = !budget.signal.aborted && (e instanceof VerificationError || (e instanceof ImageVerificationError && !e.transient));
      verdict = { allowed: false, message: (e as Error).message };
    }
    if (cacheable) ctx.cache.set(key, verdict);
    return { ...verdict, pinned };
  }, budget.signal).catch((e: unknown) => ({ allowed: false, message: budget.signal.aborted ? deadlineMessage(ctx) : `internal error: ${(e as Error).message}` }));
}

function deadlineMessage(ctx: ReviewContext): string {
  return `not verified within the webhook's deadline of ${(ctx.deadlineMs ?? DEFAULT_DEADLINE_MS) / 1000} s (registry, credential helper or queue too slow)`;
}

/** Judges every distinct image once, each answer due by the deadline. */
async function judgeAll(ctx: ReviewContext, namespace: string, images: PodImage[], annotations: Record<string, string>): Promise<ImageOutcome[]> {
  const deadline = new AbortController();
  setMaxListeners(0, deadline.signal); // one listener per registry request of the review, all removed with it
  const ms = ctx.deadlineMs ?? DEFAULT_DEADLINE_MS;
  const timer = setTimeout(() => deadline.abort(new Error(deadlineMessage(ctx))), ms);
  // The review's own connection pool: undici keeps the socket of an aborted request open until the server
  // answers, so a registry that never answers would hold sockets long after the review; destroying the pool
  // when the review is answered closes them.
  const pool = new Agent({ headersTimeout: ms, bodyTimeout: ms, connect: { timeout: ms } });
  const baseFetch = ctx.fetch ?? (undiciFetch as unknown as typeof fetch);
  const budget: Budget = {
    signal: deadline.signal,
    fetch: (input, init) => baseFetch(input, { ...init, dispatcher: pool, signal: init?.signal ? AbortSignal.any([init.signal, deadline.signal]) : deadline.signal } as RequestInit),
  };
  const expired = new Promise<ImageOutcome>((resolve) => deadline.signal.addEventListener('abort', () => resolve({ allowed: false, message: deadlineMessage(ctx) }), { once: true }));
  const byKey = new Map<string, Promise<ImageOutcome>>();
  try {
    return await Promise.all(images.map((img) => {
      // The same image under the same annotations is judged once per review (a pod may repeat an image 256 times).
      const narrowing = img.list === 'volumes' ? [] : [annotations[`subject.cosign.sigstore.dev/${img.container}`], annotations[`issuer.cosign.sigstore.dev/${img.container}`]];
      const key = JSON.stringify([img.image, img.list === 'volumes', ...narrowing]);
      let outcome = byKey.get(key);
      if (!outcome) {
        outcome = Promise.race([judgeImage(ctx, namespace, img, annotations, budget), expired]);
        byKey.set(key, outcome);
      }
      return outcome;
    }));
  } finally {
    clearTimeout(timer);
    deadline.abort(new Error('review answered')); // whatever still runs for it is not needed
    void pool.destroy().catch(() => {});
  }
}

/** The images of the object before an UPDATE, by JSON pointer (none when it cannot be read). */
function imagesBefore(kind: string, oldObject: unknown): Map<string, string> {
  const at = podSpecOf(kind, oldObject);
  if (!at) return new Map();
  try {
    return new Map(podImages(at).map((img) => [img.pointer, img.image]));
  } catch {
    return new Map(); // an unreadable old object: every image counts as changed, so each is pinned
  }
}

const OPERATIONS = new Set(['CREATE', 'UPDATE', 'DELETE', 'CONNECT']);


export async function reviewAdmission(body: unknown, ctx: ReviewContext): Promise<{ apiVersion: string; kind: string; response: AdmissionResponse }> {
  const b = body as { apiVersion?: unknown; kind?: unknown; request?: Record<string, unknown> };
  if (typeof b !== 'object' || b === null || b.apiVersion !== 'admission.k8s.io/v1' || b.kind !== 'AdmissionReview') {
    throw new ReviewRequestError('expected an AdmissionReview of admission.k8s.io/v1');
  }
  const req = b.request;
  if (typeof req !== 'object' || req === null || typeof req.uid !== 'string' || req.uid === '') throw new ReviewRequestError('request.uid is missing');
  const reply = (response: Omit<AdmissionResponse, 'uid'>) => ({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: req.uid as string, ...response } });
  const deny = (message: string) => reply({ allowed: false, status: { code: 403, message } });
  // The API server always sends these well formed; anything else is denied, never waved through.
  if (typeof req.operation !== 'string' || !OPERATIONS.has(req.operation)) return deny(`malformed request: operation ${JSON.stringify(req.operation ?? null)} is not CREATE, UPDATE, DELETE or CONNECT`);
  if (req.operation === 'DELETE' || req.operation === 'CONNECT') return reply({ allowed: true });
  const kind = isRecord(req.kind) ? req.kind.kind : undefined;
  if (typeof kind !== 'string' || kind === '') return deny('malformed request: request.kind is not a group/version/kind');
  if (!isRecord(req.object)) return deny(`malformed request: request.object of a ${req.operation} is not an object`);
  const namespace = typeof req.namespace === 'string' ? req.namespace : '';
  const at = podSpecOf(kind, req.object);
  if (!at) return reply({ allowed: true });
  let images: PodImage[];
  try {
    images = podImages(at);
  } catch (e) {
    if (e instanceof ObjectShapeError) return deny(`malformed ${String(kind)}: ${e.message}`);
    throw e;
  }
  const outcomes = await judgeAll(ctx, namespace, images, at.annotations);
  const denied = outcomes.map((o, i) => ({ o, img: images[i]! })).filter(({ o }) => !o.allowed);
  if (denied.length > 0) {
    return deny(denied.map(({ o, img }) => `image ${img.image} (${img.list} ${img.container}) is not admitted: ${o.message}`).join('; ').slice(0, 4096));
  }
  if (!ctx.mutate) return reply({ allowed: true });
  const unchanged = req.operation === 'UPDATE' ? imagesBefore(kind, req.oldObject) : new Map<string, string>();
  const patch = outcomes
    .map((o, i) => ({ o, img: images[i]! }))
    .filter(({ o, img }) => o.pinned && o.pinned !== img.image && !img.image.includes('@'))
    // On UPDATE only what the update changes: rewriting a running container's image restarts it, and a pod's
    // volumes cannot change at all (the API server would refuse the whole update, `kubectl debug` included).
    .filter(({ img }) => req.operation !== 'UPDATE' || (img.list !== 'volumes' && unchanged.get(img.pointer) !== img.image))
    .map(({ o, img }) => ({ op: 'replace', path: img.pointer, value: o.pinned }));
  if (patch.length === 0) return reply({ allowed: true });
  return reply({ allowed: true, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(patch)).toString('base64') });
}
