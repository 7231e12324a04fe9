import { resolve } from 'node:path';
import { ConfigError } from './startup-errors.ts';
import { checkDataDir, checkTlsPair, parseBaseUrl, parseHost, readSettingFile } from './config-values.ts';

export { ConfigError } from './startup-errors.ts';

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
  /** Where each given setting came from, for refusals found later (a bind address that does not resolve). */
  sources?: Partial<Record<RawOptionName, string>>;
}

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

/** How a message names a setting: where it came from, else its flag. */
export function settingName(sources: Partial<Record<RawOptionName, string>> | undefined, key: RawOptionName): string {
  return sources?.[key] ?? FLAG[key];
}

/**
 * The one validation of a server's settings, shared by `serve` and `config check`: everything that can be refused
 * without binding a port or touching the data folder is refused here, naming the setting and its source.
 */
export function parseServeConfig(services: ServiceSet, raw: RawServeOptions): ServeConfig {
  const name = (key: RawOptionName) => settingName(raw.sources, key);
  const parseUrl = (key: RawOptionName): string | undefined => {
    const value = raw[key] as string | undefined;
    return value === undefined ? undefined : parseBaseUrl(name(key), value);
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
    return value === undefined ? undefined : readSettingFile(name(key), value);
  };

  const port = parseInteger('port', DEFAULT_PORT[services], 0, 65535);
  const host = parseHost(name('host'), raw.host ?? '127.0.0.1');
  if (services === 'log' && (raw.oidcConfig || raw.devOidc)) {
    throw new ConfigError(`${raw.oidcConfig ? name('oidcConfig') : name('devOidc')} belongs to the CA: use it with \`serve\` or \`serve ca\``);
  }
  if (services === 'ca' && !raw.logUrl) throw new ConfigError('`serve ca` needs --log-url, the URL of the log service (its CT log issues the SCTs)');
  // its CT log accepts only chains to the CA's roots, which it reads from there at start
  if (services === 'log' && !raw.caUrl) throw new ConfigError('`serve log` needs --ca-url, the URL of the CA service (its CT log accepts only that CA\'s chains)');
  if (services !== 'ca' && raw.logUrl) throw new ConfigError(`${name('logUrl')} is only for \`serve ca\``);
  if (services !== 'log' && raw.caUrl) throw new ConfigError(`${name('caUrl')} is only for \`serve log\``);
  const oidcConfig = readFile('oidcConfig');
  // the layers (services/config-file.ts) already read SIGSTACK_LOG_LEVEL, naming it; `config check --no-env` must not
  const logLevel = raw.logLevel ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError(`${name('logLevel')}: "${logLevel}" is not one of ${LOG_LEVELS.join(', ')}`);
  if ((raw.tlsCert === undefined) !== (raw.tlsKey === undefined)) {
    throw new ConfigError(`${raw.tlsCert === undefined ? name('tlsKey') : name('tlsCert')}: HTTPS needs both a certificate (--tls-cert) and its key (--tls-key)`);
  }
  const cert = readFile('tlsCert');
  const key = readFile('tlsKey');
  if (cert && key) checkTlsPair({ cert: name('tlsCert'), key: name('tlsKey') }, cert, key);
  const ratePerSecond = parseInteger('rateLimit', 0, 0, 1_000_000);
  const dataDir = resolve(raw.dataDir ?? './data');
  checkDataDir(name('dataDir'), dataDir);
  return {
    services,
    host,
    port,
    dataDir,
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
    sources: raw.sources,
  };
}

/** The URL clients use: --public-url, else built from the bind address and the port actually bound. */
export function publicUrlFor(cfg: Pick<ServeConfig, 'publicUrl' | 'host' | 'tls'>, port: number): string {
  if (cfg.publicUrl) return cfg.publicUrl;
  const host = cfg.host === '0.0.0.0' || cfg.host === '::' ? '127.0.0.1' : cfg.host;
  return `${cfg.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
}
