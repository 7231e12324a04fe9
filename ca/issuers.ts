import { parse as parseYaml } from 'yaml';

/**
 * Fulcio's issuer configuration (`OIDCIssuers`, `MetaIssuers`), read from JSON or YAML and validated once at
 * start so that a bad file stops the server with a message naming the key, instead of failing per request.
 * Keys are accepted as Fulcio accepts them: the JSON names case-insensitively (Go's encoding/json) and the
 * YAML names (`oidc-issuers`, `issuer-url`, ...).
 */

/** The issuer types this CA can turn into certificates. */
export const SUPPORTED_ISSUER_TYPES = ['email', 'uri', 'username', 'github-workflow'] as const;
export type IssuerType = (typeof SUPPORTED_ISSUER_TYPES)[number];

/** Fulcio's other types: recognised, so that the error says "not supported yet" rather than "unknown". */
const LATER_ISSUER_TYPES = ['buildkite-job', 'codefresh-workflow', 'gitlab-pipeline', 'chainguard-identity', 'kubernetes', 'spiffe', 'ci-provider'];

export interface IssuerSettings {
  /** The issuer URL; for a meta issuer once matched, the token's `iss`; in `metaIssuers`, the pattern. */
  issuerUrl: string;
  /** The audience a token must carry. */
  clientId: string;
  type: IssuerType;
  /** The claim clients sign for proof of possession, as the configuration endpoint reports it. */
  challengeClaim: string;
  /** JSONPath (`$.a.b`) of the claim to certify as issuer instead of `iss`: email issuers only (fulcio#606). */
  issuerClaim?: string;
  subjectDomain?: string;
  spiffeTrustDomain?: string;
  skipEmailVerification: boolean;
  description?: string;
  contact?: string;
  environment?: string;
}

export interface MetaIssuer {
  /** The configured wildcard URL, e.g. `https://oidc.example.com/tenants/*`. */
  pattern: string;
  /** Anchored (GHSA-59jp-pj84-45mr): `*` matches one run of `[-_a-zA-Z0-9]`, never `.`, `/`, `?` or `:`. */
  matcher: RegExp;
  settings: IssuerSettings;
}

export interface IssuerConfig {
  sourceName: string;
  issuers: ReadonlyMap<string, IssuerSettings>;
  metaIssuers: readonly MetaIssuer[];
}

const TOP_LEVEL: Record<string, string> = {
  oidcissuers: 'OIDCIssuers', 'oidc-issuers': 'OIDCIssuers',
  metaissuers: 'MetaIssuers', 'meta-issuers': 'MetaIssuers',
  ciissuermetadata: 'CIIssuerMetadata', 'ci-issuer-metadata': 'CIIssuerMetadata',
};

const ISSUER_FIELDS: Record<string, string> = {};
for (const [json, yaml] of [
  ['IssuerURL', 'issuer-url'], ['ClientID', 'client-id'], ['Type', 'type'], ['CIProvider', 'ci-provider'],
  ['IssuerClaim', 'issuer-claim'], ['SubjectDomain', 'subject-domain'], ['SPIFFETrustDomain', 'spiffe-trust-domain'],
  ['ChallengeClaim', 'challenge-claim'], ['Description', 'description'], ['Contact', 'contact'],
  ['Environment', 'environment'], ['CACert', 'ca-cert'], ['SkipEmailVerification', 'skip-email-verification'],
] as const) {
  ISSUER_FIELDS[json.toLowerCase()] = json;
  ISSUER_FIELDS[yaml] = json;
}

/** Issuer claim paths we can evaluate: `$.` followed by dotted member names (Fulcio's default is `$.federated_claims.connector_id`). */
const ISSUER_CLAIM_PATH = /^\$(\.[A-Za-z_][A-Za-z0-9_-]*)+$/;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Renames keys to their canonical JSON spelling; unknown or duplicated keys are errors, since they are typos. */
function canonicalKeys(obj: Record<string, unknown>, names: Record<string, string>, where: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(obj)) {
    const canonical = names[key.toLowerCase()];
    if (!canonical) throw new Error(`${where}: unknown key "${key}"`);
    if (canonical in out) throw new Error(`${where}: "${key}" is given twice`);
    out[canonical] = value;
  }
  return out;
}

/** Parses an http(s) issuer URL; refuses credentials, queries and fragments, which have no place in an issuer. */
function checkHttpUrl(value: string, where: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`${where}: "${value}" is not a valid URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`${where}: "${value}" must be an http(s) URL`);
  if (url.username || url.password || url.search || url.hash) {
    throw new Error(`${where}: "${value}" must not carry credentials, a query or a fragment`);
  }
  return url;
}

/** Fulcio's validateAllowedDomain: equal hosts, or equal top- and second-level labels. */
function checkAllowedDomain(subjectHost: string, issuerHost: string, where: string): void {
  if (subjectHost === issuerHost) return;
  const s = subjectHost.split('.');
  const i = issuerHost.split('.');
  if (s.length < 2) throw new Error(`${where}: hostname too short: ${subjectHost}`);
  if (i.length < 2) throw new Error(`${where}: hostname too short: ${issuerHost}`);
  if (s.at(-1) !== i.at(-1) || s.at(-2) !== i.at(-2)) {
    throw new Error(`${where}: SubjectDomain ${subjectHost} and issuer ${issuerHost} do not share their top- and second-level domains`);
  }
}

function optionalString(fields: Record<string, unknown>, name: string, where: string): string | undefined {
  const v = fields[name];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw new Error(`${where}: ${name} must be a string`);
  return v;
}

function requiredString(fields: Record<string, unknown>, name: string, where: string): string {
  const v = optionalString(fields, name, where);
  if (v === undefined) throw new Error(`${where}: ${name} is required`);
  return v;
}

function parseIssuer(raw: unknown, key: string, meta: boolean, where: string): IssuerSettings {
  if (!isRecord(raw)) throw new Error(`${where}: must be a mapping`);
  const f = canonicalKeys(raw, ISSUER_FIELDS, where);
  const type = requiredString(f, 'Type', where);
  if (LATER_ISSUER_TYPES.includes(type)) throw new Error(`${where}: issuer type ${type} is not supported yet`);
  if (!(SUPPORTED_ISSUER_TYPES as readonly string[]).includes(type)) throw new Error(`${where}: unknown issuer type "${type}"`);
  const settings: IssuerSettings = {
    issuerUrl: key,
    clientId: requiredString(f, 'ClientID', where),
    type: type as IssuerType,
    challengeClaim: optionalString(f, 'ChallengeClaim', where) ?? (type === 'email' ? 'email' : 'sub'),
    issuerClaim: optionalString(f, 'IssuerClaim', where),
    subjectDomain: optionalString(f, 'SubjectDomain', where),
    spiffeTrustDomain: optionalString(f, 'SPIFFETrustDomain', where),
    skipEmailVerification: false,
    description: optionalString(f, 'Description', where),
    contact: optionalString(f, 'Contact', where),
    environment: optionalString(f, 'Environment', where),
  };
  const skip = f.SkipEmailVerification;
  if (skip !== undefined && typeof skip !== 'boolean') throw new Error(`${where}: SkipEmailVerification must be a boolean`);
  settings.skipEmailVerification = skip === true;
  if (optionalString(f, 'CACert', where)) {
    throw new Error(`${where}: CACert is not supported yet (give Node the CA with NODE_EXTRA_CA_CERTS)`);
  }
  if (optionalString(f, 'CIProvider', where)) throw new Error(`${where}: CIProvider is only for ci-provider issuers`);

  if (!meta) {
    const url = requiredString(f, 'IssuerURL', where);
    // The map key is what tokens are looked up by; a different IssuerURL would verify against another issuer.
    if (url !== key) throw new Error(`${where}: IssuerURL "${url}" differs from its key`);
  }
  const issuerHost = meta ? undefined : checkHttpUrl(key, where);
  if (meta) checkHttpUrl(key.replaceAll('*', 'x'), where);

  if (settings.issuerClaim !== undefined) {
    if (settings.type !== 'email') throw new Error(`${where}: only email issuers can use IssuerClaim`);
    if (!ISSUER_CLAIM_PATH.test(settings.issuerClaim)) throw new Error(`${where}: IssuerClaim "${settings.issuerClaim}" must look like $.claim.member`);
  }
  if (settings.type === 'uri') {
    if (!settings.subjectDomain) throw new Error(`${where}: uri issuer must have SubjectDomain set`);
    let domain: URL;
    try {
      domain = new URL(settings.subjectDomain);
    } catch {
      throw new Error(`${where}: SubjectDomain for uri must be a URL with a scheme`);
    }
    if (issuerHost) {
      if (domain.protocol !== issuerHost.protocol) throw new Error(`${where}: SubjectDomain and issuer URL schemes do not match`);
      checkAllowedDomain(domain.hostname, issuerHost.hostname, where);
    }
  }
  if (settings.type === 'username') {
    if (!settings.subjectDomain) throw new Error(`${where}: username issuer must have SubjectDomain set`);
    if (settings.subjectDomain.includes('://') || settings.subjectDomain.includes('/')) {
      throw new Error(`${where}: SubjectDomain for username must be a bare domain without scheme`);
    }
    if (issuerHost) checkAllowedDomain(settings.subjectDomain, issuerHost.hostname, where);
  }
  return settings;
}

/** The anchored matcher for a meta issuer pattern (Fulcio's MetaRegex, with the ^...$ of GHSA-59jp-pj84-45mr). */
export function metaIssuerRegex(pattern: string): RegExp {
  const quoted = pattern.split('*').map((part) => part.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&'));
  return new RegExp(`^${quoted.join('[-_a-zA-Z0-9]+')}$`);
}

/**
 * Parses a Fulcio issuer configuration file (JSON or YAML). Throws an Error naming the file and the key
 * at the first problem. `sourceName` is the file name, used only in messages.
 */
export function parseIssuerConfig(text: string, sourceName: string): IssuerConfig {
  let doc: unknown;
  try {
    doc = text.trimStart().startsWith('{') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new Error(`${sourceName}: not valid JSON or YAML: ${(err as Error).message}`);
  }
  if (!isRecord(doc)) throw new Error(`${sourceName}: the issuer configuration must be a mapping`);
  const top = canonicalKeys(doc, TOP_LEVEL, sourceName);

  const issuers = new Map<string, IssuerSettings>();
  const rawIssuers = top.OIDCIssuers ?? {};
  if (!isRecord(rawIssuers)) throw new Error(`${sourceName}: OIDCIssuers must be a mapping`);
  for (const [key, raw] of Object.entries(rawIssuers)) {
    issuers.set(key, parseIssuer(raw, key, false, `${sourceName}: OIDCIssuers["${key}"]`));
  }

  const metaIssuers: MetaIssuer[] = [];
  const rawMeta = top.MetaIssuers ?? {};
  if (!isRecord(rawMeta)) throw new Error(`${sourceName}: MetaIssuers must be a mapping`);
  for (const [pattern, raw] of Object.entries(rawMeta)) {
    const where = `${sourceName}: MetaIssuers["${pattern}"]`;
    if (!pattern.includes('*')) throw new Error(`${where}: a meta issuer URL must contain a * wildcard`);
    metaIssuers.push({ pattern, matcher: metaIssuerRegex(pattern), settings: parseIssuer(raw, pattern, true, where) });
  }
  if (issuers.size === 0 && metaIssuers.length === 0) throw new Error(`${sourceName}: no OIDCIssuers or MetaIssuers configured`);
  return { sourceName, issuers, metaIssuers };
}

/**
 * Finds the settings for a token's `iss`: an exact configured issuer first, then the first matching meta
 * issuer, returned as concrete settings for that URL. Returns undefined when nothing matches, so callers can
 * refuse before any network access.
 */
export function lookupIssuer(config: IssuerConfig, iss: string): IssuerSettings | undefined {
  const exact = config.issuers.get(iss);
  if (exact) return exact;
  for (const meta of config.metaIssuers) {
    if (meta.matcher.test(iss)) return { ...meta.settings, issuerUrl: iss };
  }
  return undefined;
}
