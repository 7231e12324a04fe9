/**
 * Image references as docker and cosign spell them: `[registry/]repository[:tag][@sha256:<hex>]`.
 * The first component is a registry only when it looks like a host (has a dot or a colon, or is localhost),
 * as in docker's reference grammar; otherwise the image is on Docker Hub, under `library/` when unqualified.
 */

import { isIP } from 'node:net';

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
const HUB_NAMES = new Set([DOCKER_HUB, 'docker.io', 'registry-1.docker.io']);

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
  // Docker Hub by any of its names, in any case, with or without its HTTPS port: one registry, one name.
  if (HUB_NAMES.has(registry.toLowerCase().replace(/:0*443$/, ''))) registry = DOCKER_HUB;
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

/** Registries on loopback hosts are spoken to over plain HTTP, as docker does; others unless told otherwise. */
export function usesPlainHttp(registry: string, insecure = false): boolean {
  if (insecure) return true;
  const h = hostnameOf(registry).toLowerCase();
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  return h === '::1';
}

/** `[::ffff:7f00:1]` (how the URL parser writes an IPv4-mapped IPv6 address) -> `127.0.0.1`. */
function mappedIpv4(host: string): string | undefined {
  const m = /^\[::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})\]$/.exec(host);
  if (!m) return undefined;
  const hi = parseInt(m[1]!, 16);
  const lo = parseInt(m[2]!, 16);
  return [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff].join('.');
}

/**
 * The names under which policy rules must see `registry/repository`: every spelling that reaches the same
 * registry. Host names compare without case, a port is a number (`05077` is `5077`), an IP address may be
 * written in any form the URL parser reads as the same address (`127.1`, `0x7f.0.0.1`, `[::ffff:7f00:1]`), a
 * registry named without a port is the same as with the default port of the scheme it is spoken to with
 * (`plainHttp`: 80, else 443), and Docker Hub is `index.docker.io`, `docker.io` or `registry-1.docker.io`, with
 * official images also under their short name (`library/nginx` is `nginx`). Rules are matched against every
 * spelling, so writing an image differently cannot take it out from under a rule, or move it to a weaker one.
 * The first name is the canonical one: the registry as the URL parser (hence fetch) reads it.
 * Other DNS names of the same machine are not known here, and are other registries.
 */
export function repositoryAliases(registry: string, repository: string, plainHttp: boolean): string[] {
  const defaultPort = plainHttp ? '80' : '443';
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
  const hosts = [parsed, host, mappedIpv4(parsed)].filter((h): h is string => h !== undefined);
  const names = new Set<string>();
  for (const h of hosts) {
    if (port === undefined || port === defaultPort) {
      names.add(port === undefined ? h : `${h}:${port}`);
      names.add(port === undefined ? `${h}:${defaultPort}` : h);
    } else {
      names.add(`${h}:${port}`);
    }
  }
  const repositories = [repository];
  if (registry === DOCKER_HUB) {
    for (const hub of HUB_NAMES) names.add(hub);
    if (repository.startsWith('library/')) repositories.push(repository.slice('library/'.length));
  }
  const out: string[] = [];
  for (const n of names) for (const r of repositories) out.push(`${n}/${r}`);
  return out;
}
