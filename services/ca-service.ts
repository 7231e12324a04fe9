import type Router from '@koa/router';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { parseIssuerConfig, type IssuerConfig } from '../ca/issuers.ts';
import { TokenVerifier } from '../ca/token.ts';
import { CertificateAuthority } from '../ca/issue.ts';
import { caRouter } from '../ca/routes.ts';
import type { SctSource } from '../ca/sct-source.ts';
import { derToPem } from '../core/pem.ts';
import { loadOrCreateCa } from './ca-files.ts';
import { loadOrCreateKey } from './keys.ts';
import { readMeta, writeMeta } from './meta.ts';
import { devIssuerRouter, DEV_ISSUER_PATH } from './dev-issuer.ts';
import { ConfigError } from './config.ts';
import type { TrustParts } from './trust.ts';

export interface CaService {
  routers: Router[];
  chainDer: Buffer[];
  trust: Pick<TrustParts, 'ca'>;
  issuerUrls: string[];
}

/**
 * The issuer file (Fulcio's format: JSON with PascalCase keys or YAML with kebab-case keys) plus, when enabled,
 * the dev issuer, added in the file's own key style so ca/issuers.ts validates one document.
 */
function issuerConfigText(oidc: { path: string; text: string } | undefined, devOidcUrl: string | undefined): { text: string; source: string } | undefined {
  if (!devOidcUrl) return oidc ? { text: oidc.text, source: oidc.path } : undefined;
  let doc: Record<string, unknown> = {};
  if (oidc) {
    try {
      doc = (parseYaml(oidc.text) ?? {}) as Record<string, unknown>;
    } catch (err) {
      throw new ConfigError(`${oidc.path}: not valid JSON or YAML: ${(err as Error).message}`);
    }
    if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError(`${oidc.path}: must be a mapping of OIDCIssuers`);
  }
  const source = oidc ? `${oidc.path} (+ dev issuer)` : '(built-in dev issuer)';
  if ('oidc-issuers' in doc) {
    const issuers = { ...(doc['oidc-issuers'] as Record<string, unknown>) };
    issuers[devOidcUrl] = { 'issuer-url': devOidcUrl, 'client-id': 'sigstore', type: 'email' };
    return { text: stringifyYaml({ ...doc, 'oidc-issuers': issuers }), source };
  }
  const issuers = { ...((doc.OIDCIssuers ?? {}) as Record<string, unknown>) };
  issuers[devOidcUrl] = { IssuerURL: devOidcUrl, ClientID: 'sigstore', Type: 'email' };
  return { text: JSON.stringify({ ...doc, OIDCIssuers: issuers }), source };
}

export async function createCaService(opts: {
  dataDir: string;
  publicUrl: string;
  oidcConfig?: { path: string; text: string };
  devOidc: boolean;
  sctSource: SctSource;
}): Promise<CaService> {
  const meta = readMeta(opts.dataDir);
  if (!meta.ca) {
    meta.ca = { baseUrl: opts.publicUrl, createdAt: new Date().toISOString() };
    writeMeta(opts.dataDir, meta);
  }
  const { intermediate, chainDer } = loadOrCreateCa(opts.dataDir);
  const routers: Router[] = [];
  const devOidcUrl = opts.devOidc ? `${opts.publicUrl}${DEV_ISSUER_PATH}` : undefined;
  if (devOidcUrl) {
    routers.push(await devIssuerRouter({ issuerUrl: devOidcUrl, signer: loadOrCreateKey(opts.dataDir, 'dev-oidc').signer }));
  }
  const configText = issuerConfigText(opts.oidcConfig, devOidcUrl);
  // no issuer file and no dev issuer: the CA runs and refuses every token (the serve command warns about it)
  let issuerConfig: IssuerConfig = { sourceName: '(no issuer configured)', issuers: new Map(), metaIssuers: [] };
  if (configText) {
    try {
      issuerConfig = parseIssuerConfig(configText.text, configText.source);
    } catch (err) {
      throw new ConfigError((err as Error).message);
    }
  }
  const tokens = new TokenVerifier(issuerConfig);
  const ca = new CertificateAuthority({
    tokens,
    issuerConfig,
    intermediate: { signer: intermediate, certDer: chainDer[0]! },
    chainDer,
    sctSource: opts.sctSource,
  });
  routers.push(caRouter(ca, { chainPem: chainDer.map((d) => derToPem(d)), issuerConfig }));
  return {
    routers,
    chainDer,
    trust: { ca: { baseUrl: meta.ca.baseUrl, chainDer } },
    issuerUrls: devOidcUrl ? [devOidcUrl] : [],
  };
}
