/**
 * Image references as docker and cosign spell them: `[registry/]repository[:tag][@sha256:<hex>]`.
 * The first component is a registry only when it looks like a host (has a dot or a colon, or is localhost),
 * as in docker's reference grammar; otherwise the image is on Docker Hub, under `library/` when unqualified.
 */

export interface ImageReference {
  /** host[:port] as written (Docker Hub is `index.docker.io`). */
  registry: string;
  repository: string;
  tag?: string;
  /** `sha256:<64 hex>` */
  digest?: string;
}

export class ReferenceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReferenceError';
  }
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:]+\])(?::0*[0-9]{1,5})?$/;

export const DOCKER_HUB = 'index.docker.io';

export function parseReference(text: string): ImageReference {
  if (typeof text !== 'string' || text.length === 0 || text.length > 1024) throw new ReferenceError('image reference: empty or longer than 1024 characters');
  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw new ReferenceError(`image reference ${text}: the digest must be sha256:<64 lowercase hex>`);
  }
  let tag: string | undefined;
  const slash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > slash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw new ReferenceError(`image reference ${text}: invalid tag "${tag}"`);
  }
  const parts = rest.split('/');
  let registry = DOCKER_HUB;
  const first = parts[0]!;
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost' || first.startsWith('['))) {
    if (!HOST.test(first)) throw new ReferenceError(`image reference ${text}: invalid registry "${first}"`);
    registry = first;
    parts.shift();
  }
  if (registry === 'docker.io' || registry === 'registry-1.docker.io') registry = DOCKER_HUB;
  if (parts.length === 0 || !parts.every((p) => COMPONENT.test(p))) throw new ReferenceError(`image reference ${text}: invalid repository "${parts.join('/')}"`);
  if (registry === DOCKER_HUB && parts.length === 1) parts.unshift('library');
  const repository = parts.join('/');
  if (repository.length > 255) throw new ReferenceError(`image reference ${text}: repository name longer than 255 characters`);
  return { registry, repository, tag: tag ?? (digest ? undefined : 'latest'), digest };
}

/** `registry/repository`: what cosign writes as critical.identity.docker-reference. */
export function repositoryName(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}`;
}

export function formatReference(ref: ImageReference): string {
  return `${repositoryName(ref)}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

/** The host the registry API is reached at (Docker Hub's API is not at its name). */
export function apiHost(registry: string): string {
  return registry === DOCKER_HUB ? 'registry-1.docker.io' : registry;
}

/** The hostname part of host[:port], without IPv6 brackets. */
export function hostnameOf(registry: string): string {
  const m = /^\[([^\]]+)\](?::\d+)?$/.exec(registry);
  if (m) return m[1]!;
  return registry.replace(/:\d+$/, '');
}

/**
 * The spellings of `registry` that reach the same host and port: host names compare without case, a port is a
 * number (`05077` is `5077`), an IPv4 address may be written as any form the URL parser accepts (`127.1`), and a
 * registry named without a port is the same as with the default port of HTTPS or plain HTTP. Policy rules are
 * matched against every spelling, so writing an image differently cannot move it out from under a rule. The
 * first spelling is the canonical one: as the URL parser, hence fetch, reads it (lower case, an IPv4 address
 * in dotted decimal, a port without leading zeros), with the port as written.
 * Other DNS names of the same machine are not known here, and are other registries.
 */
export function registryAliases(registry: string): string[] {
  let host = registry.toLowerCase();
  let port: string | undefined;
  const m = /^(.*):(\d+)$/.exec(host);
  if (m && !m[1]!.endsWith(':')) {
    host = m[1]!;
    port = String(Number(m[2]));
  }
  let parsed = host;
  try {
    parsed = new URL(`http://${host}`).hostname; // IPv4 forms and IPv6 compression to one spelling
  } catch {
    // not a host the URL parser takes: matched as written
  }
  const aliases = new Set<string>();
  for (const h of [parsed, host]) {
    if (port === undefined) {
      aliases.add(h);
      aliases.add(`${h}:443`);
      aliases.add(`${h}:80`);
    } else {
      aliases.add(`${h}:${port}`);
      if (port === '443' || port === '80') aliases.add(h);
    }
  }
  return [...aliases];
}
