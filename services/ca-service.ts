import type Router from '@koa/router';
import { X509Certificate, type KeyObject } from 'node:crypto';
import { availableParallelism } from 'node:os';
import type { IssuerConfig } from '../ca/issuers.ts';
import { TokenVerifier } from '../ca/token.ts';
import { CertificateAuthority } from '../ca/issue.ts';
import { caRouter } from '../ca/routes.ts';
import type { SctSource } from '../ca/sct-source.ts';
import { derToPem } from '../core/pem.ts';
import { loadCaHistory, loadOrCreateCa } from './ca-files.ts';
import { createIssuingPool } from './ca-workers.ts';
import { loadOrCreateKey, probeKey } from './keys.ts';
import { readMeta, writeMeta } from './meta.ts';
import { devIssuerRouter, devIssuerUrls } from './dev-issuer.ts';
import { parseCaIssuers } from './issuer-config.ts';
import type { TrustParts } from './trust.ts';

export { parseCaIssuers } from './issuer-config.ts';

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
  // the chain first, then the record of the CA (the commit point): a recorded CA always has its chain
  const { intermediate, chainDer } = loadOrCreateCa(opts.dataDir);
  const meta = readMeta(opts.dataDir);
  if (!meta.ca) {
    meta.ca = { baseUrl: opts.publicUrl, createdAt: new Date().toISOString() };
    writeMeta(opts.dataDir, meta);
  }
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
