import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { parseIssuerConfig, type IssuerConfig } from '../ca/issuers.ts';
import { DEV_ISSUER_KINDS, devIssuerUrls, type DevIssuerKind } from './dev-issuer.ts';
import { ConfigError } from './startup-errors.ts';

/**
 * The issuer file (Fulcio's format: JSON with PascalCase keys or YAML with kebab-case keys) plus, when enabled,
 * the dev issuers (one per kind, each with its Fulcio type), added in the file's own key style so ca/issuers.ts
 * validates one document.
 */
function issuerConfigText(oidc: { path: string; text: string } | undefined, devUrls: Record<DevIssuerKind, string> | undefined): { text: string; source: string } | undefined {
  if (!devUrls) return oidc ? { text: oidc.text, source: oidc.path } : undefined;
  let doc: Record<string, unknown> = {};
  if (oidc) {
    try {
      doc = (parseYaml(oidc.text) ?? {}) as Record<string, unknown>;
    } catch (err) {
      throw new ConfigError(`${oidc.path}: not valid JSON or YAML: ${(err as Error).message}`);
    }
    if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError(`${oidc.path}: must be a mapping of OIDCIssuers`);
  }
  const source = oidc ? `${oidc.path} (+ dev issuers)` : '(built-in dev issuers)';
  const dev = Object.entries(devUrls).map(([kind, url]) => [url, DEV_ISSUER_KINDS[kind as DevIssuerKind].type] as const);
  if ('oidc-issuers' in doc) {
    const issuers = { ...(doc['oidc-issuers'] as Record<string, unknown>) };
    for (const [url, type] of dev) issuers[url] = { 'issuer-url': url, 'client-id': 'sigstore', type };
    return { text: stringifyYaml({ ...doc, 'oidc-issuers': issuers }), source };
  }
  const issuers = { ...((doc.OIDCIssuers ?? {}) as Record<string, unknown>) };
  for (const [url, type] of dev) issuers[url] = { IssuerURL: url, ClientID: 'sigstore', Type: type };
  return { text: JSON.stringify({ ...doc, OIDCIssuers: issuers }), source };
}

/**
 * The CA's issuer configuration (the operator's file, plus the dev issuers of --dev-oidc), parsed and validated.
 * Pure: startStack calls it before anything is written to the data folder, so a mistake in the file stops a first
 * start before it has created keys and recorded the deployment's URL.
 */
export function parseCaIssuers(opts: {
  publicUrl: string;
  oidcConfig?: { path: string; text: string };
  devOidc: boolean;
  /** Where --oidc-config was given (flag, variable, configuration file), to name it in a refusal. */
  sources?: { oidcConfig?: string };
}): IssuerConfig {
  try {
    const devUrls = opts.devOidc ? devIssuerUrls(opts.publicUrl) : undefined;
    const configText = issuerConfigText(opts.oidcConfig, devUrls);
    // no issuer file and no dev issuer: the CA runs and refuses every token (the serve command warns about it)
    if (!configText) return { sourceName: '(no issuer configured)', issuers: new Map(), metaIssuers: [] };
    // A JWKSFile is read relative to the issuer file, as an operator writing it next to that file expects.
    const baseDir = opts.oidcConfig ? dirname(resolve(opts.oidcConfig.path)) : process.cwd();
    return parseIssuerConfig(configText.text, configText.source, { readFile: (p) => readFileSync(resolve(baseDir, p), 'utf8') });
  } catch (err) {
    // the messages name the issuer file and the line; the setting that named the file goes first
    const message = (err as Error).message;
    throw new ConfigError(opts.oidcConfig ? `${opts.sources?.oidcConfig ?? '--oidc-config'}: ${message}` : message);
  }
}

