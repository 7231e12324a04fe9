import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/** Which services one process runs: the whole stack, or one part of it (split deployments, containers). */
export type ServiceSet = 'all' | 'ca' | 'log';

/**
 * Everything a server needs, parsed and validated once at start-up. Nothing below services/ reads flags,
 * environment variables or files by itself.
 */
export interface ServeConfig {
  services: ServiceSet;
  host: string;
  /** 0 picks an ephemeral port (tests). */
  port: number;
  dataDir: string;
  /** The URL clients use to reach this server; default http://<host>:<port>. */
  publicUrl?: string;
  /** Fulcio-format issuer file (JSON or YAML) and its text. */
  oidcConfig?: { path: string; text: string };
  /** Serve a development OIDC issuer at /dev-oidc and trust it (off by default; never for production). */
  devOidc: boolean;
  /** `serve ca` alone: where the CT log is (add-pre-chain). */
  logUrl?: string;
  /** `serve log` alone: where the CA is (its trust bundle gives the CT log its accepted roots). */
  caUrl?: string;
  /** Request body limit, bytes. */
  bodyLimit: number;
  logLevel: string;
}

export class ConfigError extends Error {}

export interface RawServeOptions {
  host?: string;
  port?: string;
  dataDir?: string;
  publicUrl?: string;
  oidcConfig?: string;
  devOidc?: boolean;
  logUrl?: string;
  caUrl?: string;
  bodyLimit?: string;
  logLevel?: string;
}

const DEFAULT_PORT: Record<ServiceSet, number> = { all: 3000, log: 3000, ca: 5555 };

function parseUrl(name: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`${name}: "${value}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(`${name}: "${value}" must be http or https`);
  if (url.search || url.hash) throw new ConfigError(`${name}: "${value}" must not have a query or fragment`);
  return value.replace(/\/+$/, '');
}

function parseInteger(name: string, value: string, min: number, max: number): number {
  if (!/^\d+$/.test(value)) throw new ConfigError(`${name}: "${value}" is not a whole number`);
  const n = Number(value);
  if (n < min || n > max) throw new ConfigError(`${name}: ${n} is outside ${min}..${max}`);
  return n;
}

export function parseServeConfig(services: ServiceSet, raw: RawServeOptions): ServeConfig {
  const port = raw.port === undefined ? DEFAULT_PORT[services] : parseInteger('--port', raw.port, 0, 65535);
  const host = raw.host ?? '127.0.0.1';
  let oidcConfig: ServeConfig['oidcConfig'];
  if (raw.oidcConfig !== undefined) {
    const path = resolve(raw.oidcConfig);
    if (!existsSync(path)) throw new ConfigError(`--oidc-config: no file at ${path}`);
    oidcConfig = { path, text: readFileSync(path, 'utf8') };
  }
  if (services === 'log' && (raw.oidcConfig || raw.devOidc)) {
    throw new ConfigError('--oidc-config and --dev-oidc belong to the CA: use them with `serve` or `serve ca`');
  }
  if (services === 'ca' && !raw.logUrl) throw new ConfigError('`serve ca` needs --log-url, the URL of the log service (its CT log issues the SCTs)');
  if (services !== 'ca' && raw.logUrl) throw new ConfigError('--log-url is only for `serve ca`');
  if (services !== 'log' && raw.caUrl) throw new ConfigError('--ca-url is only for `serve log`');
  return {
    services,
    host,
    port,
    dataDir: resolve(raw.dataDir ?? './data'),
    publicUrl: parseUrl('--public-url', raw.publicUrl),
    oidcConfig,
    // With no issuer file the CA would trust nobody: the dev issuer makes a fresh stack usable, loudly.
    devOidc: services !== 'log' && raw.devOidc === true,
    logUrl: parseUrl('--log-url', raw.logUrl),
    caUrl: parseUrl('--ca-url', raw.caUrl),
    bodyLimit: raw.bodyLimit === undefined ? 128 * 1024 : parseInteger('--body-limit', raw.bodyLimit, 1024, 64 * 1024 * 1024),
    logLevel: raw.logLevel ?? process.env.SIGSTACK_LOG_LEVEL ?? 'info',
  };
}
