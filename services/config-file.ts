import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConfigError, FLAG, type RawOptionName, type RawServeOptions, type ServiceSet } from './config.ts';

/**
 * The one configuration file (YAML) and its environment overrides. Every setting has a key in the file, an
 * environment variable and a flag; precedence is flags > SIGSTACK_* variables > file > defaults. This module only
 * gathers the layers and checks their types; services/config.ts validates the values once, naming the key and
 * where it came from.
 */
type Kind = 'string' | 'path' | 'int' | 'bool';
interface Setting {
  option: RawOptionName | 'service';
  /** Dotted path in the YAML file. */
  key: string;
  env: string;
  kind: Kind;
}

/** Environment variable of a key: SIGSTACK_ + the key upper-cased, dots and dashes as underscores. */
const envOf = (key: string) => `SIGSTACK_${key.toUpperCase().replace(/[.-]/g, '_')}`;
const setting = (option: Setting['option'], key: string, kind: Kind): Setting => ({ option, key, env: envOf(key), kind });

export const SETTINGS: Setting[] = [
  setting('service', 'service', 'string'),
  setting('host', 'host', 'string'),
  setting('port', 'port', 'int'),
  setting('dataDir', 'data-dir', 'path'),
  setting('publicUrl', 'public-url', 'string'),
  setting('oidcConfig', 'oidc-config', 'path'),
  setting('devOidc', 'dev-oidc', 'bool'),
  setting('logUrl', 'log-url', 'string'),
  setting('caUrl', 'ca-url', 'string'),
  setting('bodyLimit', 'body-limit', 'int'),
  setting('logLevel', 'log-level', 'string'),
  setting('tlsCert', 'tls.cert', 'path'),
  setting('tlsKey', 'tls.key', 'path'),
  setting('rateLimit', 'rate-limit.per-second', 'int'),
  setting('rateBurst', 'rate-limit.burst', 'int'),
];

export interface ConfigLayers {
  service?: ServiceSet;
  raw: RawServeOptions;
  /** The configuration file used, if any. */
  file?: string;
}

/** Reads the file (when given), then the environment, then the flags, each overriding the one before. */
export function loadConfigLayers(opts: {
  file?: string;
  env?: NodeJS.ProcessEnv;
  flags?: Partial<Record<RawOptionName, string | boolean>>;
  service?: string;
}): ConfigLayers {
  const env = opts.env ?? process.env;
  const file = opts.file ?? (env.SIGSTACK_CONFIG || undefined);
  const values: Partial<Record<Setting['option'], string | boolean>> = {};
  const sources: Partial<Record<Setting['option'], string>> = {};
  if (file) {
    const path = resolve(file);
    for (const [s, value] of readFileLayer(path)) {
      values[s.option] = value;
      sources[s.option] = `${path}: ${s.key}`;
    }
  }
  for (const s of SETTINGS) {
    const text = env[s.env];
    if (text === undefined || text === '') continue;
    values[s.option] = fromText(s, text, s.env);
    sources[s.option] = s.env;
  }
  for (const [option, value] of Object.entries(opts.flags ?? {}) as [RawOptionName, string | boolean | undefined][]) {
    if (value === undefined || !(option in FLAG)) continue;
    values[option] = value;
    sources[option] = FLAG[option];
  }
  if (opts.service !== undefined) {
    values.service = opts.service;
    sources.service = 'the serve argument';
  }
  const { service, ...rest } = values;
  if (service !== undefined && !['all', 'ca', 'log'].includes(String(service))) {
    throw new ConfigError(`${sources.service}: unknown service "${String(service)}": use all, ca or log`);
  }
  const { service: _s, ...restSources } = sources;
  return { service: service as ServiceSet | undefined, raw: { ...(rest as RawServeOptions), sources: restSources }, file: file && resolve(file) };
}

function readFileLayer(path: string): [Setting, string | boolean][] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`${path}: cannot read the configuration file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let doc: unknown;
  try {
    // No YAML number forms: `port: 0x50` or `1e3` would be 80 and 1000, which the flag refuses. Every number is
    // read as its text and checked by the same rule as a flag's value (services/config.ts).
    doc = parseYaml(text, { customTags: (tags) => tags.filter((t) => !/:(int|float)$/.test(typeof t === 'string' ? t : t.tag)) });
  } catch (err) {
    throw new ConfigError(`${path}: not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (doc === null || doc === undefined) return [];
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError(`${path}: must be a mapping of settings`);
  const flat = new Map<string, unknown>();
  const walk = (obj: Record<string, unknown>, prefix: string) => {
    for (const [k, v] of Object.entries(obj)) {
      const key = prefix + k;
      if (v !== null && typeof v === 'object' && !Array.isArray(v) && SETTINGS.some((s) => s.key.startsWith(`${key}.`))) walk(v as Record<string, unknown>, `${key}.`);
      else flat.set(key, v);
    }
  };
  walk(doc as Record<string, unknown>, '');
  const out: [Setting, string | boolean][] = [];
  for (const [key, value] of flat) {
    const s = SETTINGS.find((x) => x.key === key);
    if (!s) throw new ConfigError(`${path}: unknown key "${key}" (known keys: ${SETTINGS.map((x) => x.key).join(', ')})`);
    if (value === null) continue;
    const where = `${path}: ${key}`;
    if (s.kind === 'bool') {
      if (typeof value !== 'boolean') throw new ConfigError(`${where}: must be true or false, not ${JSON.stringify(value)}`);
      out.push([s, value]);
    } else if (s.kind === 'int') {
      if (typeof value !== 'string') throw new ConfigError(`${where}: must be a whole number, not ${JSON.stringify(value)}`);
      out.push([s, value]);
    } else {
      if (typeof value !== 'string' || value === '') throw new ConfigError(`${where}: must be a non-empty string, not ${JSON.stringify(value)}`);
      // relative paths in the file are relative to the file, not to wherever the server was started
      out.push([s, s.kind === 'path' ? resolve(dirname(path), value) : value]);
    }
  }
  return out;
}

function fromText(s: Setting, text: string, where: string): string | boolean {
  if (s.kind !== 'bool') return text;
  if (/^(true|1|yes|on)$/i.test(text)) return true;
  if (/^(false|0|no|off)$/i.test(text)) return false;
  throw new ConfigError(`${where}: "${text}" is not true or false`);
}
