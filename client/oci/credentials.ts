/**
 * Registry credentials: from the command line, or from docker's config.json (`$DOCKER_CONFIG/config.json`,
 * else `~/.docker/config.json`). An `auths` key is matched to the registry by EXACT host[:port] after removing
 * a scheme and a path: a substring match (sigstore-js#1718) would hand the credentials of `registry.example.com`
 * to `registry.example.com.attacker.net`.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface Credentials {
  username: string;
  password: string;
}

const MAX_CONFIG = 1024 * 1024;

/** `https://host:port/v1/` -> `host:port`; lower-cased, as host names compare. */
export function normalizeAuthKey(key: string): string {
  let k = key.trim();
  k = k.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  const slash = k.indexOf('/');
  if (slash >= 0) k = k.slice(0, slash);
  return k.toLowerCase();
}

function decodeEntry(entry: unknown): Credentials | undefined {
  if (typeof entry !== 'object' || entry === null) return undefined;
  const e = entry as Record<string, unknown>;
  if (typeof e.auth === 'string' && e.auth !== '') {
    const text = Buffer.from(e.auth, 'base64').toString('utf8');
    const colon = text.indexOf(':');
    if (colon <= 0) return undefined;
    return { username: text.slice(0, colon), password: text.slice(colon + 1) };
  }
  if (typeof e.username === 'string' && typeof e.password === 'string' && e.username !== '') return { username: e.username, password: e.password };
  return undefined;
}

/** The credentials config.json holds for exactly this registry (host[:port]), if any. */
export function credentialsFromDockerConfig(config: unknown, registry: string): Credentials | undefined {
  if (typeof config !== 'object' || config === null) return undefined;
  const auths = (config as { auths?: unknown }).auths;
  if (typeof auths !== 'object' || auths === null) return undefined;
  const wanted = registry.toLowerCase();
  for (const [key, entry] of Object.entries(auths)) {
    if (normalizeAuthKey(key) === wanted) return decodeEntry(entry);
  }
  return undefined;
}

export function dockerConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.DOCKER_CONFIG ?? join(homedir(), '.docker'), 'config.json');
}

/** Reads the docker config; a missing or unreadable file means no credentials, not an error. */
export function loadDockerConfig(path = dockerConfigPath()): unknown {
  try {
    const text = readFileSync(path);
    if (text.length > MAX_CONFIG) return undefined;
    return JSON.parse(text.toString('utf8'));
  } catch {
    return undefined;
  }
}
