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
  /** The URL clients use to reach this server; default http(s)://<host>:<port>. */
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
  /** HTTPS: the server certificate chain and its key, PEM, read at start. */
  tls?: { certPath: string; keyPath: string; cert: string; key: string };
  /** Per-client token bucket; ratePerSecond 0 = no limit. */
  rateLimit: { ratePerSecond: number; burst: number };
}

export class ConfigError extends Error {}

/** Option values as strings, whatever their layer (flag, environment variable, configuration file). */
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
  tlsCert?: string;
  tlsKey?: string;
  rateLimit?: string;
  rateBurst?: string;
  /** Where each value came from, for error messages: `--port`, `SIGSTACK_PORT`, `sigstack.yaml: port`. */
  sources?: Partial<Record<RawOptionName, string>>;
}
export type RawOptionName = Exclude<keyof RawServeOptions, 'sources'>;

/** The command-line flag of each option (the default name in error messages). */
export const FLAG: Record<RawOptionName, string> = {
  host: '--host',
  port: '--port',
  dataDir: '--data-dir',
  publicUrl: '--public-url',
  oidcConfig: '--oidc-config',
  devOidc: '--dev-oidc',
  logUrl: '--log-url',
  caUrl: '--ca-url',
  bodyLimit: '--body-limit',
  logLevel: '--log-level',
  tlsCert: '--tls-cert',
  tlsKey: '--tls-key',
  rateLimit: '--rate-limit',
  rateBurst: '--rate-burst',
};

const DEFAULT_PORT: Record<ServiceSet, number> = { all: 3000, log: 3000, ca: 5555 };
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export function parseServeConfig(services: ServiceSet, raw: RawServeOptions): ServeConfig {
  const name = (key: RawOptionName) => raw.sources?.[key] ?? FLAG[key];
  const parseUrl = (key: RawOptionName): string | undefined => {
    const value = raw[key] as string | undefined;
    if (value === undefined) return undefined;
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw new ConfigError(`${name(key)}: "${value}" is not a URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(`${name(key)}: "${value}" must be http or https`);
    if (url.search || url.hash) throw new ConfigError(`${name(key)}: "${value}" must not have a query or fragment`);
    return value.replace(/\/+$/, '');
  };
  const parseInteger = (key: RawOptionName, fallback: number, min: number, max: number): number => {
    const value = raw[key] as string | undefined;
    if (value === undefined) return fallback;
    if (!/^\d+$/.test(value)) throw new ConfigError(`${name(key)}: "${value}" is not a whole number`);
    const n = Number(value);
    if (n < min || n > max) throw new ConfigError(`${name(key)}: ${n} is outside ${min}..${max}`);
    return n;
  };
  const readFile = (key: RawOptionName): { path: string; text: string } | undefined => {
    const value = raw[key] as string | undefined;
    if (value === undefined) return undefined;
    const path = resolve(value);
    if (!existsSync(path)) throw new ConfigError(`${name(key)}: no file at ${path}`);
    return { path, text: readFileSync(path, 'utf8') };
  };

  const port = parseInteger('port', DEFAULT_PORT[services], 0, 65535);
  const host = raw.host ?? '127.0.0.1';
  const oidcConfig = readFile('oidcConfig');
  if (services === 'log' && (raw.oidcConfig || raw.devOidc)) {
    throw new ConfigError(`${raw.oidcConfig ? name('oidcConfig') : name('devOidc')} belongs to the CA: use it with \`serve\` or \`serve ca\``);
  }
  if (services === 'ca' && !raw.logUrl) throw new ConfigError('`serve ca` needs --log-url, the URL of the log service (its CT log issues the SCTs)');
  if (services !== 'ca' && raw.logUrl) throw new ConfigError(`${name('logUrl')} is only for \`serve ca\``);
  if (services !== 'log' && raw.caUrl) throw new ConfigError(`${name('caUrl')} is only for \`serve log\``);
  const logLevel = raw.logLevel ?? process.env.SIGSTACK_LOG_LEVEL ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError(`${name('logLevel')}: "${logLevel}" is not one of ${LOG_LEVELS.join(', ')}`);
  if ((raw.tlsCert === undefined) !== (raw.tlsKey === undefined)) {
    throw new ConfigError(`${raw.tlsCert === undefined ? name('tlsKey') : name('tlsCert')}: HTTPS needs both a certificate (--tls-cert) and its key (--tls-key)`);
  }
  const cert = readFile('tlsCert');
  const key = readFile('tlsKey');
  if (cert && !cert.text.includes('-----BEGIN CERTIFICATE-----')) throw new ConfigError(`${name('tlsCert')}: ${cert.path} holds no PEM certificate`);
  if (key && !/-----BEGIN (EC |RSA |)PRIVATE KEY-----/.test(key.text)) throw new ConfigError(`${name('tlsKey')}: ${key.path} holds no PEM private key`);
  const ratePerSecond = parseInteger('rateLimit', 0, 0, 1_000_000);
  return {
    services,
    host,
    port,
    dataDir: resolve(raw.dataDir ?? './data'),
    publicUrl: parseUrl('publicUrl'),
    oidcConfig,
    // With no issuer file the CA would trust nobody: the dev issuer makes a fresh stack usable, loudly.
    devOidc: services !== 'log' && raw.devOidc === true,
    logUrl: parseUrl('logUrl'),
    caUrl: parseUrl('caUrl'),
    bodyLimit: parseInteger('bodyLimit', 128 * 1024, 1024, 64 * 1024 * 1024),
    logLevel,
    tls: cert && key ? { certPath: cert.path, keyPath: key.path, cert: cert.text, key: key.text } : undefined,
    rateLimit: { ratePerSecond, burst: parseInteger('rateBurst', Math.max(1, ratePerSecond * 2), 1, 10_000_000) },
  };
}
