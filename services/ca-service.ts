import type Router from '@koa/router';
import { X509Certificate, type KeyObject } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { parseIssuerConfig, type IssuerConfig } from '../ca/issuers.ts';
import { TokenVerifier } from '../ca/token.ts';
import { CertificateAuthority } from '../ca/issue.ts';
import { caRouter } from '../ca/routes.ts';
import type { SctSource } from '../ca/sct-source.ts';
import { derToPem } from '../core/pem.ts';
import { loadCaHistory, loadOrCreateCa } from './ca-files.ts';
import { createIssuingPool } from './ca-workers.ts';
import { loadOrCreateKey, probeKey } from './keys.ts';
import { readMeta, writeMeta } from './meta.ts';
import { DEV_ISSUER_KINDS, devIssuerRouter, devIssuerUrls, type DevIssuerKind } from './dev-issuer.ts';
import { ConfigError } from './config.ts';
import type { TrustParts } from './trust.ts';

export interface CaService {
  routers: Router[];
  chainDer: Buffer[];
  trust: Pick<TrustParts, 'ca'>;
  issuerUrls: string[];
  /** The validated issuer configuration (dev issuers included), e.g. for labelling metrics by issuer type. */
  issuerConfig: IssuerConfig;
  /** Readiness: the issuing key signs a probe that verifies with the intermediate certificate's key. */
  probeKey(): string;
  /** Stops the issuing workers (after the server has finished its requests). */
  close(): Promise<void>;
}

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
export function parseCaIssuers(opts: { publicUrl: string; oidcConfig?: { path: string; text: string }; devOidc: boolean }): IssuerConfig {
  const devUrls = opts.devOidc ? devIssuerUrls(opts.publicUrl) : undefined;
  const configText = issuerConfigText(opts.oidcConfig, devUrls);
  // no issuer file and no dev issuer: the CA runs and refuses every token (the serve command warns about it)
  if (!configText) return { sourceName: '(no issuer configured)', issuers: new Map(), metaIssuers: [] };
  try {
    // A JWKSFile is read relative to the issuer file, as an operator writing it next to that file expects.
    const baseDir = opts.oidcConfig ? dirname(resolve(opts.oidcConfig.path)) : process.cwd();
    return parseIssuerConfig(configText.text, configText.source, { readFile: (p) => readFileSync(resolve(baseDir, p), 'utf8') });
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
}

export async function createCaService(opts: {
  dataDir: string;
  publicUrl: string;
  oidcConfig?: { path: string; text: string };
  devOidc: boolean;
  sctSource: SctSource;
  /** From parseCaIssuers (parsed here when not given). */
  issuerConfig?: IssuerConfig;
}): Promise<CaService> {
  const issuerConfig = opts.issuerConfig ?? parseCaIssuers(opts);
  const meta = readMeta(opts.dataDir);
  if (!meta.ca) {
    meta.ca = { baseUrl: opts.publicUrl, createdAt: new Date().toISOString() };
    writeMeta(opts.dataDir, meta);
  }
  const { intermediate, chainDer } = loadOrCreateCa(opts.dataDir);
  const history = loadCaHistory(opts.dataDir);
  const routers: Router[] = [];
  const devUrls = opts.devOidc ? devIssuerUrls(opts.publicUrl) : undefined;
  if (devUrls) {
    routers.push(await devIssuerRouter({ publicUrl: opts.publicUrl, signer: loadOrCreateKey(opts.dataDir, 'dev-oidc').signer }));
  }
  const tokens = new TokenVerifier(issuerConfig);
  const ca = new CertificateAuthority({
    tokens,
    issuerConfig,
    intermediate: { signer: intermediate, certDer: chainDer[0]! },
    chainDer,
    sctSource: opts.sctSource,
  });
  const intermediateKey = new X509Certificate(chainDer[0]!).publicKey;
  // Issuance on worker threads when there is a core to spare and the key can be shared with them (a PKCS#11
  // key cannot: its getter throws); else on this thread. A configuration that cannot be copied to a worker
  // makes the worker's start fail, and the pool then issues on this thread (core/worker-pool.ts).
  let privateKey: KeyObject | undefined;
  try {
    privateKey = intermediate.privateKey;
  } catch {
    privateKey = undefined;
  }
  const cores = availableParallelism();
  const pool = privateKey && cores > 1
    ? createIssuingPool({ size: Math.min(4, cores), issuerConfig, intermediateKey: privateKey, chainDer, sctSource: opts.sctSource, inline: ca })
    : undefined;
  routers.push(caRouter(pool ?? ca, { chainPem: chainDer.map((d) => derToPem(d)), issuerConfig }));
  return {
    routers,
    chainDer,
    trust: { ca: { baseUrl: meta.ca.baseUrl, chainDer, validFrom: history.currentStart, previous: history.previous } },
    // the email issuer last: services/app.ts prints the last one as "the" dev issuer (the CI kinds sit under it)
    issuerUrls: devUrls ? [...Object.values(devUrls).filter((u) => u !== devUrls.email), devUrls.email] : [],
    issuerConfig,
    probeKey: () => {
      probeKey('CA intermediate', intermediate, intermediateKey);
      return `CA chain of ${chainDer.length} loaded; its issuing key signs and verifies`;
    },
    close: async () => pool?.close(),
  };
}
