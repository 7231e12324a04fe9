import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { JSONWebKeySet } from 'jose';
import { parseDocument } from 'yaml';
import { isRecord, parseJsonText } from '../core/json-text.ts';
import { parseCiIssuerMetadata, type CiIssuerMetadata } from './ci-metadata.ts';
import { parseClaimPolicy, type ClaimRule } from './claim-policy.ts';
import { canonicalKeys, checkAllowedDomain, checkHttpUrl, optionalString, requiredString, yamlLineOf } from './config-fields.ts';
import { parseTrustDomain } from './identity/spiffe.ts';

/**
 * Fulcio's issuer configuration (`OIDCIssuers`, `MetaIssuers`, `CIIssuerMetadata`), read from JSON or YAML and
 * validated once at start so that a bad file stops the server with a message naming the key (and, for YAML, the
 * line), instead of failing per request. Keys are accepted as Fulcio accepts them: the JSON names
 * case-insensitively (Go's encoding/json) and the YAML names (`oidc-issuers`, `issuer-url`, ...). Sigstack adds
 * two per-issuer keys: `JWKSFile` (`jwks-file`) and `IssuancePolicy` (`issuance-policy`), see docs/issuers.md.
 */

export const SUPPORTED_ISSUER_TYPES = [
  'email', 'uri', 'username', 'github-workflow', 'gitlab-pipeline', 'buildkite-job', 'codefresh-workflow', 'kubernetes',
  'spiffe', 'ci-provider', 'chainguard-identity',
] as const;
export type IssuerType = (typeof SUPPORTED_ISSUER_TYPES)[number];

/** Types recognised but refused (none left; kept so a future upstream type can say "not supported" rather than "unknown"). */
const UNSUPPORTED_ISSUER_TYPES: string[] = [];

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
  /** ci-provider: the CIIssuerMetadata entry name, and that entry, resolved at parse time. */
  ciProvider?: string;
  ciMetadata?: CiIssuerMetadata;
  /** PEM of the private CA(s) that sign the issuer's TLS certificate. */
  caCertPem?: string;
  /** A static JWKS (from JWKSFile): the issuer's keys without discovery, for issuers the CA cannot reach. */
  jwks?: JSONWebKeySet;
  /** Issuance policy: rules the claims must all satisfy (empty: none). */
  policy: ClaimRule[];
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

export interface ParseIssuerConfigOptions {
  /** Reads a file named in the configuration (JWKSFile); by default relative to the directory of `sourceName`. */
  readFile?: (path: string) => string;
}

const TOP_LEVEL: Record<string, string> = {
  oidcissuers: 'OIDCIssuers', 'oidc-issuers': 'OIDCIssuers',
  metaissuers: 'MetaIssuers', 'meta-issuers': 'MetaIssuers',
  ciissuermetadata: 'CIIssuerMetadata', 'ci-issuer-metadata': 'CIIssuerMetadata',
  // Fulcio's config.yaml keeps its YAML anchors under `define:`; Go ignores it, and so do we.
  define: 'Define',
};

const ISSUER_FIELDS: Record<string, string> = {};
for (const [json, yaml] of [
  ['IssuerURL', 'issuer-url'], ['ClientID', 'client-id'], ['Type', 'type'], ['CIProvider', 'ci-provider'],
  ['IssuerClaim', 'issuer-claim'], ['SubjectDomain', 'subject-domain'], ['SPIFFETrustDomain', 'spiffe-trust-domain'],
  ['ChallengeClaim', 'challenge-claim'], ['Description', 'description'], ['Contact', 'contact'],
  ['Environment', 'environment'], ['CACert', 'ca-cert'], ['SkipEmailVerification', 'skip-email-verification'],
  ['JWKSFile', 'jwks-file'], ['IssuancePolicy', 'issuance-policy'],
] as const) {
  ISSUER_FIELDS[json.toLowerCase()] = json;
  ISSUER_FIELDS[yaml] = json;
}

/** Issuer claim paths we can evaluate: `$.` followed by dotted member names (Fulcio's default is `$.federated_claims.connector_id`). */
const ISSUER_CLAIM_PATH = /^\$(\.[A-Za-z_][A-Za-z0-9_-]*)+$/;

function checkCaCert(pem: string, where: string): void {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new Error(`${where}: CACert holds no PEM certificate`);
  for (const block of blocks) {
    try {
      new X509Certificate(block);
    } catch {
      throw new Error(`${where}: CACert holds a certificate that cannot be parsed`);
    }
  }
}

function loadJwks(path: string, opts: ParseIssuerConfigOptions, where: string): JSONWebKeySet {
  if (!opts.readFile) throw new Error(`${where}: JWKSFile cannot be used here`);
  let doc: unknown;
  try {
    doc = parseJsonText(opts.readFile(path));
  } catch (err) {
    throw new Error(`${where}: JWKSFile ${path}: ${(err as Error).message}`);
  }
  if (!isRecord(doc) || !Array.isArray(doc.keys) || doc.keys.length === 0 || !doc.keys.every(isRecord)) {
    throw new Error(`${where}: JWKSFile ${path} must be a JWKS ({"keys": [...]}) with at least one key`);
  }
  if (doc.keys.some((k) => k.kty === 'oct' || 'd' in k)) throw new Error(`${where}: JWKSFile ${path} must hold public keys only`);
  return doc as unknown as JSONWebKeySet;
}

function parseIssuer(raw: unknown, key: string, meta: boolean, where: string, ci: Map<string, CiIssuerMetadata>, opts: ParseIssuerConfigOptions): IssuerSettings {
  if (!isRecord(raw)) throw new Error(`${where}: must be a mapping`);
  const f = canonicalKeys(raw, ISSUER_FIELDS, where);
  const type = requiredString(f, 'Type', where);
  if (UNSUPPORTED_ISSUER_TYPES.includes(type)) throw new Error(`${where}: issuer type ${type} is not supported`);
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
    caCertPem: optionalString(f, 'CACert', where),
    policy: parseClaimPolicy(f.IssuancePolicy, where),
  };
  const skip = f.SkipEmailVerification;
  if (skip !== undefined && typeof skip !== 'boolean') throw new Error(`${where}: SkipEmailVerification must be a boolean`);
  settings.skipEmailVerification = skip === true;
  if (settings.caCertPem) checkCaCert(settings.caCertPem, where);
  const jwksFile = optionalString(f, 'JWKSFile', where);
  if (jwksFile) settings.jwks = loadJwks(jwksFile, opts, where);

  const provider = optionalString(f, 'CIProvider', where);
  if (provider && type !== 'ci-provider') throw new Error(`${where}: CIProvider is only for ci-provider issuers`);
  if (type === 'ci-provider') {
    if (!provider) throw new Error(`${where}: ci-provider issuer must have CIProvider set`);
    const metadata = ci.get(provider);
    if (!metadata) throw new Error(`${where}: CIProvider "${provider}" has no entry in CIIssuerMetadata`);
    settings.ciProvider = provider;
    settings.ciMetadata = metadata;
  }

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
  if (settings.type === 'spiffe') {
    // One OIDC issuer per trust domain: a wildcard would make it many to one (upstream refuses it too).
    if (meta) throw new Error(`${where}: SPIFFE meta issuers are not supported`);
    if (!settings.spiffeTrustDomain) throw new Error(`${where}: spiffe issuer must have SPIFFETrustDomain set`);
    if (!parseTrustDomain(settings.spiffeTrustDomain)) throw new Error(`${where}: SPIFFETrustDomain "${settings.spiffeTrustDomain}" is invalid`);
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

/** JSON: the line where the entry's key (the last of `path`) first appears quoted; a pointer, not a parser. */
function jsonLineOf(text: string, path: string[]): number | undefined {
  const key = path.at(-1);
  const at = key === undefined ? -1 : text.indexOf(JSON.stringify(key));
  return at < 0 ? undefined : text.slice(0, at).split('\n').length;
}

/** The anchored matcher for a meta issuer pattern (Fulcio's MetaRegex, with the ^...$ of GHSA-59jp-pj84-45mr). */
export function metaIssuerRegex(pattern: string): RegExp {
  const quoted = pattern.split('*').map((part) => part.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&'));
  return new RegExp(`^${quoted.join('[-_a-zA-Z0-9]+')}$`);
}

/**
 * Parses a Fulcio issuer configuration file (JSON or YAML). Throws an Error naming the file, the key and, for
 * YAML, the line at the first problem. `sourceName` is the file name, used only in messages.
 */
export function parseIssuerConfig(text: string, sourceName: string, options: ParseIssuerConfigOptions = {}): IssuerConfig {
  // By default a JWKSFile is read relative to the issuer file itself (sourceName is its path).
  const opts: ParseIssuerConfigOptions = { readFile: (p) => readFileSync(resolve(dirname(sourceName), p), 'utf8'), ...options };
  let doc: unknown;
  const isJson = text.trimStart().startsWith('{');
  // Fulcio's own config.yaml uses alias KEYS written `*github-type:`, which Go's yaml reads as the alias
  // `github-type` and the `yaml` package as an alias named `github-type:`; a space before the colon means the same
  // to both. Lines are unchanged, so error line numbers still point into the operator's file.
  const yamlText = isJson ? text : text.replace(/^(\s*)\*([^\s:]+):(?=\s|$)/gm, '$1*$2 :');
  const yamlDoc = isJson ? undefined : parseDocument(yamlText, { uniqueKeys: true });
  try {
    if (yamlDoc) {
      const first = yamlDoc.errors[0];
      if (first) throw new Error(`line ${first.linePos?.[0]?.line ?? '?'}: ${first.message.split('\n')[0]}`);
      doc = yamlDoc.toJS({ maxAliasCount: 1000 });
    } else {
      // duplicate keys refused, as YAML's uniqueKeys does: JSON.parse would keep the last one silently
      doc = parseJsonText(text);
    }
  } catch (err) {
    throw new Error(`${sourceName}: not valid JSON or YAML: ${(err as Error).message}`);
  }
  if (!isRecord(doc)) throw new Error(`${sourceName}: the issuer configuration must be a mapping`);
  // Names the line of the failing entry (or its unknown key) in a YAML file.
  const located = (path: string[], fn: () => void) => {
    try {
      fn();
    } catch (err) {
      const msg = (err as Error).message;
      const unknown = /unknown key "([^"]+)"/.exec(msg);
      const line = yamlDoc ? yamlLineOf(yamlDoc, yamlText, unknown ? [...path, unknown[1]!] : path) : jsonLineOf(text, path);
      throw new Error(line ? `${msg} (line ${line})` : msg);
    }
  };
  let top: Record<string, unknown> = {};
  located([], () => { top = canonicalKeys(doc as Record<string, unknown>, TOP_LEVEL, sourceName); });
  const topKey = (canonical: string) => Object.keys(doc as object).find((k) => TOP_LEVEL[k.toLowerCase()] === canonical) ?? canonical;

  let ci = new Map<string, CiIssuerMetadata>();
  located([topKey('CIIssuerMetadata')], () => { ci = parseCiIssuerMetadata(top.CIIssuerMetadata, sourceName); });

  const issuers = new Map<string, IssuerSettings>();
  const rawIssuers = top.OIDCIssuers ?? {};
  if (!isRecord(rawIssuers)) throw new Error(`${sourceName}: OIDCIssuers must be a mapping`);
  for (const [key, raw] of Object.entries(rawIssuers)) {
    located([topKey('OIDCIssuers'), key], () => {
      issuers.set(key, parseIssuer(raw, key, false, `${sourceName}: OIDCIssuers["${key}"]`, ci, opts));
    });
  }

  const metaIssuers: MetaIssuer[] = [];
  const rawMeta = top.MetaIssuers ?? {};
  if (!isRecord(rawMeta)) throw new Error(`${sourceName}: MetaIssuers must be a mapping`);
  for (const [pattern, raw] of Object.entries(rawMeta)) {
    located([topKey('MetaIssuers'), pattern], () => {
      const where = `${sourceName}: MetaIssuers["${pattern}"]`;
      if (!pattern.includes('*')) throw new Error(`${where}: a meta issuer URL must contain a * wildcard`);
      metaIssuers.push({ pattern, matcher: metaIssuerRegex(pattern), settings: parseIssuer(raw, pattern, true, where, ci, opts) });
    });
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
