/**
 * A client for the OCI distribution API (v2): manifests, blobs, tags and referrers, with the auth of http.ts.
 *
 * Content is addressed, so it is checked: a manifest or blob fetched by digest must hash to that digest, and a
 * manifest fetched by tag is identified by the SHA-256 of the bytes received (a Docker-Content-Digest header
 * that disagrees is refused). Every read has a size ceiling. Registries on loopback hosts are spoken to over
 * plain HTTP, as docker does; anything else over HTTPS unless the caller says the registry is insecure.
 */
import { createHash } from 'node:crypto';
import type { Credentials } from './credentials.ts';
import { readLimited, REGISTRY_TIMEOUT_MS, RegistryAuth, RegistryError, requestFailure } from './http.ts';
import { apiHost, usesPlainHttp } from './reference.ts';

export { RegistryError };

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
const MANIFEST_ACCEPT = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST].join(', ');

/** The distribution spec's suggested manifest ceiling. */
export const MAX_MANIFEST = 4 * 1024 * 1024;
const MAX_TAG_LIST = 4 * 1024 * 1024;
const MAX_ERROR_BODY = 64 * 1024;

export interface RegistryClientOptions {
  registry: string;
  credentials?: Credentials;
  /** Use plain HTTP even though the host is not loopback. */
  insecure?: boolean;
  fetch?: typeof fetch;
  /**
   * Largest manifest (or referrers index) read, default MAX_MANIFEST (the 4 MiB every registry must accept).
   * A reader that must bound its memory lowers it: a manifest's parsed form can take ~18x its bytes.
   */
  maxManifestBytes?: number;
}

export interface Manifest {
  digest: string;
  mediaType: string;
  bytes: Buffer;
}

export function sha256Digest(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

function checkDigest(digest: string): void {
  if (!/^sha256:[0-9a-f]{64}$/.test(digest)) throw new RegistryError(`unsupported digest ${digest.slice(0, 80)} (sha256 only)`);
}

export class RegistryClient {
  readonly base: string;
  readonly maxManifestBytes: number;
  readonly #auth: RegistryAuth;
  readonly #fetch: typeof fetch;

  constructor(readonly opts: RegistryClientOptions) {
    this.#fetch = opts.fetch ?? fetch;
    this.maxManifestBytes = opts.maxManifestBytes ?? MAX_MANIFEST;
    const scheme = usesPlainHttp(opts.registry, opts.insecure) ? 'http' : 'https';
    this.base = `${scheme}://${apiHost(opts.registry)}`;
    this.#auth = new RegistryAuth({ credentials: opts.credentials, fetch: this.#fetch });
  }

  /** One request with the auth handshake; `push` asks for a push scope. Returns non-2xx responses too. */
  async #request(repo: string, push: boolean, path: string, init: RequestInit = {}): Promise<Response> {
    const scope = `repository:${repo}:${push ? 'pull,push' : 'pull'}`;
    const url = path.startsWith('http') ? path : `${this.base}${path}`;
    for (let attempt = 0; ; attempt++) {
      const headers = new Headers(init.headers);
      const auth = this.#auth.header(scope);
      if (auth) headers.set('Authorization', auth);
      let res: Response;
      try {
        res = await this.#fetch(url, { ...init, headers, redirect: 'follow', signal: AbortSignal.timeout(REGISTRY_TIMEOUT_MS) });
      } catch (e) {
        throw new RegistryError(`cannot reach the registry at ${this.base} (${requestFailure(e)})`);
      }
      if (res.status !== 401 || attempt > 0) return res;
      // A 401 from where a redirect led (a blob store on another host) is not the registry asking: answering it
      // would hand the registry's credentials to that host's token realm.
      if (res.url && new URL(res.url).origin !== new URL(url).origin) return res;
      await res.body?.cancel().catch(() => {});
      if (!(await this.#auth.answer(res, scope))) return res;
    }
  }

  async #fail(res: Response, what: string): Promise<never> {
    let detail = '';
    try {
      const body = await readLimited(res, MAX_ERROR_BODY, 'error body');
      const errors = (JSON.parse(body.toString('utf8')) as { errors?: { code?: string; message?: string }[] }).errors;
      if (Array.isArray(errors) && errors[0]) detail = `: ${String(errors[0].code ?? '')} ${String(errors[0].message ?? '')}`.slice(0, 300);
    } catch {
      // no readable error body
    }
    throw new RegistryError(`${what}: the registry said ${res.status}${res.status === 401 ? ' (unauthorized: give registry credentials)' : ''}${detail}`, res.status);
  }

  /** GET a manifest by tag or digest; undefined when the registry says 404. */
  async getManifest(repo: string, reference: string): Promise<Manifest | undefined> {
    const res = await this.#request(repo, false, `/v2/${repo}/manifests/${reference}`, { headers: { Accept: MANIFEST_ACCEPT } });
    if (res.status === 404) {
      await res.body?.cancel().catch(() => {});
      return undefined;
    }
    if (!res.ok) await this.#fail(res, `manifest ${repo}:${reference}`);
    const bytes = await readLimited(res, this.maxManifestBytes, `manifest ${repo}:${reference}`);
    const digest = sha256Digest(bytes);
    if (reference.startsWith('sha256:') && digest !== reference) throw new RegistryError(`manifest ${repo}@${reference}: the registry returned content whose digest is ${digest}`);
    const header = res.headers.get('docker-content-digest');
    if (header && header !== digest) throw new RegistryError(`manifest ${repo}:${reference}: Docker-Content-Digest ${header.slice(0, 80)} is not the digest of the content (${digest})`);
    const mediaType = manifestMediaType(bytes, (res.headers.get('content-type') ?? '').split(';')[0]!.trim(), `manifest ${repo}:${reference}`, this.base);
    return { digest, mediaType, bytes };
  }

  async putManifest(repo: string, reference: string, bytes: Buffer, mediaType: string): Promise<string> {
    const res = await this.#request(repo, true, `/v2/${repo}/manifests/${reference}`, { method: 'PUT', headers: { 'Content-Type': mediaType }, body: new Uint8Array(bytes) });
    if (!res.ok) await this.#fail(res, `pushing manifest ${repo}:${reference}`);
    await res.body?.cancel().catch(() => {});
    return sha256Digest(bytes);
  }

  async hasBlob(repo: string, digest: string): Promise<boolean> {
    checkDigest(digest);
    const res = await this.#request(repo, false, `/v2/${repo}/blobs/${digest}`, { method: 'HEAD' });
    await res.body?.cancel().catch(() => {});
    if (res.status === 404) return false;
    if (!res.ok) await this.#fail(res, `blob ${digest}`);
    return true;
  }

  /** Monolithic upload (POST then PUT ?digest=); skipped when the blob is already there. */
  async pushBlob(repo: string, bytes: Buffer): Promise<string> {
    const digest = sha256Digest(bytes);
    if (await this.hasBlob(repo, digest)) return digest;
    const start = await this.#request(repo, true, `/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    if (start.status !== 202) await this.#fail(start, `starting a blob upload to ${repo}`);
    await start.body?.cancel().catch(() => {});
    const location = start.headers.get('location');
    if (!location) throw new RegistryError('the registry started an upload without a Location');
    const url = new URL(location, this.base);
    if (url.origin !== new URL(this.base).origin) throw new RegistryError(`the registry sent the upload to another origin (${url.origin})`);
    url.searchParams.set('digest', digest);
    const put = await this.#request(repo, true, url.toString(), { method: 'PUT', headers: { 'Content-Type': 'application/octet-stream' }, body: new Uint8Array(bytes) });
    if (put.status !== 201) await this.#fail(put, `uploading blob ${digest}`);
    await put.body?.cancel().catch(() => {});
    return digest;
  }

  /**
   * Fails unless this client may push to `repo`: starts a blob upload, then cancels it. Signers call it before
   * anything is logged, since a log entry is permanent and a refused push found out after it would leave a
   * signature logged and stored nowhere.
   */
  async checkPush(repo: string): Promise<void> {
    const start = await this.#request(repo, true, `/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    if (start.status !== 202) await this.#fail(start, `pushing to ${repo}`);
    await start.body?.cancel().catch(() => {});
    const location = start.headers.get('location');
    if (!location) return;
    try {
      const url = new URL(location, this.base);
      if (url.origin !== new URL(this.base).origin) return;
      const cancel = await this.#request(repo, true, url.toString(), { method: 'DELETE' });
      await cancel.body?.cancel().catch(() => {});
    } catch {
      // an upload left open expires in the registry; the push itself was allowed
    }
  }

  /** A blob, at most `max` bytes, checked against its digest. */
  async getBlob(repo: string, digest: string, max: number): Promise<Buffer> {
    checkDigest(digest);
    const res = await this.#request(repo, false, `/v2/${repo}/blobs/${digest}`);
    if (!res.ok) await this.#fail(res, `blob ${digest}`);
    const bytes = await readLimited(res, max, `blob ${digest}`);
    if (sha256Digest(bytes) !== digest) throw new RegistryError(`blob ${digest}: the registry returned other content`);
    return bytes;
  }

  async listTags(repo: string): Promise<string[]> {
    const res = await this.#request(repo, false, `/v2/${repo}/tags/list`);
    if (res.status === 404) return [];
    if (!res.ok) await this.#fail(res, `tags of ${repo}`);
    const body = await readLimited(res, MAX_TAG_LIST, `tags of ${repo}`);
    let tags: unknown;
    try {
      tags = (JSON.parse(body.toString('utf8')) as { tags?: unknown }).tags;
    } catch {
      throw new RegistryError(`tags of ${repo}: not JSON`);
    }
    if (tags === null || tags === undefined) return [];
    if (!Array.isArray(tags) || !tags.every((t) => typeof t === 'string')) throw new RegistryError(`tags of ${repo}: not a list of strings`);
    return tags as string[];
  }

  /**
   * The referrers of a manifest (OCI 1.1): the image index the registry's referrers API answers, or, for a
   * registry without that API (404), the index under the fallback tag `sha256-<hex>`. Undefined if neither.
   */
  async referrers(repo: string, digest: string, artifactType?: string): Promise<{ index: unknown; api: boolean } | undefined> {
    checkDigest(digest);
    const q = artifactType ? `?artifactType=${encodeURIComponent(artifactType)}` : '';
    const res = await this.#request(repo, false, `/v2/${repo}/referrers/${digest}${q}`, { headers: { Accept: OCI_INDEX } });
    if (res.ok && (res.headers.get('content-type') ?? '').startsWith(OCI_INDEX)) {
      const bytes = await readLimited(res, this.maxManifestBytes, `referrers of ${digest}`);
      return { index: parseJson(bytes, `referrers of ${digest}`), api: true };
    }
    await res.body?.cancel().catch(() => {});
    if (res.ok || res.status === 404) {
      const fallback = await this.getManifest(repo, digest.replace(':', '-'));
      return fallback ? { index: parseJson(fallback.bytes, `referrers tag of ${digest}`), api: false } : undefined;
    }
    return this.#fail(res, `referrers of ${digest}`);
  }
}

const MANIFEST_TYPES = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST];

/**
 * The media type of what the registry answered for a manifest, which must be one: a web page or an error document
 * served with 200 would otherwise be "resolved" to its own SHA-256, and signed and logged. The body must be a
 * schemaVersion 2 image manifest (config and layers) or index (manifests), whatever the Content-Type says; its own
 * mediaType, when it has one, is the one that counts (as go-containerregistry reads it).
 */
export function manifestMediaType(bytes: Buffer, contentType: string, what: string, base: string): string {
  const refuse = (why: string): never => {
    throw new RegistryError(`${what}: the registry answered ${contentType || 'no Content-Type'} that is not an image manifest (${why}); is ${base} an OCI registry?`);
  };
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch {
    refuse('not JSON');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return refuse('not a JSON object');
  const m = doc as { schemaVersion?: unknown; mediaType?: unknown; config?: unknown; layers?: unknown; manifests?: unknown };
  if (m.schemaVersion !== 2) refuse(m.schemaVersion === 1 ? 'Docker schema 1 is not supported' : 'schemaVersion is not 2');
  if (m.mediaType !== undefined && typeof m.mediaType !== 'string') refuse('its mediaType is not a string');
  const isIndex = Array.isArray(m.manifests);
  if (isIndex === (typeof m.config === 'object' && m.config !== null && Array.isArray(m.layers))) refuse('neither config and layers nor a manifests list');
  const mediaType = (m.mediaType as string | undefined) ?? (MANIFEST_TYPES.includes(contentType) ? contentType : isIndex ? OCI_INDEX : OCI_MANIFEST);
  if (!MANIFEST_TYPES.includes(mediaType)) refuse(`unsupported media type ${mediaType.slice(0, 100)}`);
  if (isIndex !== (mediaType === OCI_INDEX || mediaType === DOCKER_LIST)) refuse(`a ${mediaType} ${isIndex ? 'with a manifests list' : 'without one'}`);
  return mediaType;
}

export function parseJson(bytes: Buffer, what: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new RegistryError(`${what}: not JSON`);
  }
}
