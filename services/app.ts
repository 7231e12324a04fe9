import http from 'node:http';
import { join } from 'node:path';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import Router from '@koa/router';
import { pino, type Logger } from 'pino';
import { publicUrlFor, settingName, type ServeConfig } from './config.ts';
import { checkHost, listenError } from './config-values.ts';
import { methodNotAllowed } from './methods.ts';
import { connectionErrorLogger, errorMiddleware } from './errors.ts';
import { bodyMiddleware } from './body.ts';
import { createLogService, type LogService } from './log-service.ts';
import { createCaService, parseCaIssuers, type CaService } from './ca-service.ts';
import { lockDataFolder, type DataFolderLock } from './data-lock.ts';
import { readMeta, type DeploymentMeta } from './meta.ts';
import { loadOrCreateCa, pkcs11FromEnv } from './ca-files.ts';
import { CA_INTERMEDIATE_KEY, checkCaFolder, checkLogFolder, checkNoLogYet } from './data-folder.ts';
import { checkKeyPassphrase } from './keys.ts';
import { ctLogKey, httpSctSource, type CtLogKey } from './sct-http.ts';
import { buildSigningConfig, buildTrustedRoot, type TrustParts } from './trust.ts';
import { fetchCaRoots, fetchRemoteTrust } from './remote-trust.ts';
import { createMetrics, type StackMetrics } from './metrics.ts';
import { observedMerkleLog } from './observed-log.ts';
import { healthRouter, peerAlive, type ReadinessCheck } from './health.ts';
import { errorCodeRecorder, requestContext, routePatterns } from './request-context.ts';
import { rateLimitMiddleware } from './rate-limit.ts';
import { issuedCertificatesMiddleware } from './issued-certificates.ts';
import type { CtLog } from '../log/ct/ct-log.ts';
import type { SctSource } from '../ca/sct-source.ts';
import { SigstackError, UnavailableError } from '../core/errors.ts';

export interface RunningStack {
  url: string;
  /** URLs worth printing on start: name -> URL. */
  endpoints: Record<string, string>;
  logger: Logger;
  server: http.Server;
  metrics: StackMetrics;
  /** Stops accepting, lets in-flight requests finish (10 s at most), commits pending appends, closes the databases. */
  close(): Promise<void>;
}

/** The logger `serve` uses: JSON lines on stdout; request lines and unhandled-error lines carry the request id. */
export function createLogger(level: string): Logger {
  return pino({ level });
}

/**
 * The CA's SctSource wired straight to the CT log; a refusal of our own precertificate is the log's failure, not the
 * client's. The CA's own precertificate skips the log's re-parse (CtLog.addOwnPrecert): same entry, same SCT.
 */
function inProcessSctSource(ct: CtLog): SctSource {
  return {
    async addPreChain(chain, own) {
      try {
        return await (own ? ct.addOwnPrecert(chain, own.tbsWithoutPoisonDer) : ct.addPreChain(chain));
      } catch (err) {
        if (err instanceof SigstackError && err.status < 500) throw new UnavailableError(`CT log refused the precertificate: ${err.message}`);
        throw err;
      }
    },
  };
}

/**
 * The URL a deployment is known by is recorded on its first start (meta.json): the trusted root names it and the
 * log's checkpoints carry it as their origin, so it cannot silently follow a later --public-url. Say so when they
 * differ, and say it when a first start on every interface records a loopback URL other machines cannot use.
 */
function urlWarnings(cfg: ServeConfig, url: string, recorded: DeploymentMeta | undefined): string[] {
  const warnings: string[] = [];
  for (const [what, was] of [['log', recorded?.log?.baseUrl], ['CA', recorded?.ca?.baseUrl]] as const) {
    if (cfg.publicUrl && was && was !== cfg.publicUrl) {
      warnings.push(`--public-url ${cfg.publicUrl} differs from ${was}, the URL this data folder's ${what} was created with: the trusted root and the log's checkpoints keep naming ${was}`);
    }
  }
  const firstStart = !recorded?.log && !recorded?.ca;
  if (firstStart && !cfg.publicUrl && (cfg.host === '0.0.0.0' || cfg.host === '::')) {
    warnings.push(`no --public-url on a first start listening on every interface: this deployment is now recorded as ${url}, which other machines cannot reach; start it afresh with --public-url to name it otherwise`);
  }
  return warnings;
}

/** OIDC issuer URL -> its configured type, for the certificates-issued metric (the dev issuer is an email issuer). */
/**
 * Starts the configured services on one HTTP(S) port. The port is bound first (so port 0 works and the public
 * URL is known), then the services are built and the handler is switched on.
 */
/**
 * `serve ca`: the CT log keys its SCTs must verify under, read from the log's trusted root (the document whose
 * CT keys this CA's own trusted root repeats), remembered until an SCT names another key. A failed read is not
 * remembered.
 */
function remoteCtLogKeys(logUrl: string, logger: Logger): (refresh: boolean) => Promise<CtLogKey[]> {
  let keys: Promise<CtLogKey[]> | undefined;
  return (refresh) => {
    if (refresh || !keys) {
      const fetched = fetchRemoteTrust(logUrl, logger, 0).then(({ logParts }) => (logParts.ctlog ? [ctLogKey(logParts.ctlog.publicKeyDer)] : []));
      fetched.catch(() => {
        if (keys === fetched) keys = undefined; // only this failed read, never a newer one
      });
      keys = fetched;
    }
    return keys;
  };
}

export async function startStack(cfg: ServeConfig, logger: Logger = createLogger(cfg.logLevel)): Promise<RunningStack> {
  let handler: http.RequestListener = (_req, res) => {
    res.statusCode = 503;
    res.end('starting');
  };
  let closingDown = false;
  const listener: http.RequestListener = (req, res) => {
    // once closing, every response ends its connection: keep-alive clients must not slip new requests in
    if (closingDown) res.setHeader('Connection', 'close');
    handler(req, res);
  };
  await checkHost(settingName(cfg.sources, 'host'), cfg.host);
  // the CA key's passphrase, if it is encrypted, is a setting too: refused before the data folder is locked
  if (cfg.services !== 'log' && !pkcs11FromEnv()) checkKeyPassphrase(join(cfg.dataDir, CA_INTERMEDIATE_KEY));
  const server: http.Server = cfg.tls ? https.createServer({ cert: cfg.tls.cert, key: cfg.tls.key }, listener) : http.createServer(listener);
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(listenError(err, { host: settingName(cfg.sources, 'host'), port: settingName(cfg.sources, 'port') }, cfg.host, cfg.port)));
    server.listen(cfg.port, cfg.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = publicUrlFor(cfg, port);
  const metrics = createMetrics();
  const observe = (log: Parameters<typeof observedMerkleLog>[0], name: string) => observedMerkleLog(log, name, metrics);

  let log: LogService | undefined;
  let ca: CaService | undefined;
  let lock: DataFolderLock | undefined;
  try {
    // Everything that can be refused without touching the data folder is checked first: a first start that fails
    // on a mistake in the issuer file must not have created keys and recorded the deployment's URL meanwhile.
    const issuerConfig = cfg.services === 'log' ? undefined : parseCaIssuers({ ...cfg, publicUrl: url });
    lock = lockDataFolder(cfg.dataDir);
    const recorded = readMeta(cfg.dataDir);
    // Everything the folder's records name must be there before anything is created: a damaged log must not get a
    // new CA made beside it, nor the reverse (services/data-folder.ts).
    if (cfg.services !== 'ca') {
      if (recorded.log) checkLogFolder(cfg.dataDir, recorded.log);
      else checkNoLogYet(cfg.dataDir);
    }
    if (cfg.services !== 'log') checkCaFolder(cfg.dataDir, recorded, pkcs11FromEnv() !== undefined);
    if (cfg.services === 'all') {
      const { chainDer } = loadOrCreateCa(cfg.dataDir);
      log = createLogService({ dataDir: cfg.dataDir, publicUrl: url, caRoots: [chainDer.at(-1)!], observe });
      ca = await createCaService({ ...cfg, publicUrl: url, sctSource: inProcessSctSource(log.ct), issuerConfig });
    } else if (cfg.services === 'log') {
      // parseServeConfig refuses `serve log` without --ca-url; the roots read there are never none (or it throws)
      const roots = await fetchCaRoots(cfg.caUrl!, logger);
      log = createLogService({ dataDir: cfg.dataDir, publicUrl: url, caRoots: roots, observe });
    } else {
      ca = await createCaService({ ...cfg, publicUrl: url, sctSource: httpSctSource(cfg.logUrl!, { ctLogKeys: remoteCtLogKeys(cfg.logUrl!, logger) }), issuerConfig });
    }
    for (const warning of urlWarnings(cfg, url, recorded)) logger.warn(warning);
  } catch (err) {
    server.close();
    await ca?.close();
    await log?.close();
    lock?.release();
    throw err;
  }

  const trustParts = async (): Promise<TrustParts> => {
    const parts: TrustParts = { ...log?.trust, ...ca?.trust };
    if (!log && cfg.logUrl) {
      // one attempt per request: a client waits seconds, not the start-up retry minute, while the log is down
      try {
        Object.assign(parts, (await fetchRemoteTrust(cfg.logUrl, logger, 0)).logParts);
      } catch (err) {
        throw new UnavailableError(`the log at ${cfg.logUrl} is unreachable: ${(err as Error).message}`);
      }
    }
    return parts;
  };
  const checks: Record<string, ReadinessCheck> = {};
  if (log) {
    const l = log;
    checks.database = () => `rekor tree of ${l.rekor.size()} entries readable`;
    checks.logKeys = () => {
      if (!l.trust.tlog || !l.trust.ctlog) throw new Error('log keys not loaded');
      return l.probeKeys();
    };
  }
  if (ca) {
    const c = ca;
    checks.caKeys = () => {
      if (c.chainDer.length === 0) throw new Error('CA chain not loaded');
      return c.probeKey();
    };
  }
  if (cfg.services === 'ca') checks.log = () => peerAlive(cfg.logUrl!);

  const routers = [healthRouter(checks, metrics), trustRouter(trustParts), ...(log?.routers ?? []), ...(ca?.routers ?? [])];
  const app = new Koa();
  app.proxy = false;
  app.on('error', connectionErrorLogger(logger));
  app.use(requestContext(logger, metrics, routePatterns(routers)));
  app.use(errorMiddleware(logger));
  app.use(errorCodeRecorder());
  app.use(rateLimitMiddleware(cfg.rateLimit));
  app.use(bodyMiddleware(cfg.bodyLimit));
  if (ca) app.use(issuedCertificatesMiddleware(metrics));
  app.use(methodNotAllowed(routers));
  for (const r of routers) app.use(r.routes());
  handler = app.callback();

  const endpoints: Record<string, string> = {};
  if (ca) endpoints['Fulcio v2 API (CA)'] = `${url}/api/v2/configuration`;
  if (log) {
    endpoints['Rekor v1 API (log)'] = `${url}/api/v1/log`;
    endpoints['RFC 6962 CT log'] = `${url}/ct/v1/get-sth`;
  }
  endpoints['trusted_root.json'] = `${url}/sigstack/v1/trusted_root.json`;
  endpoints['health, readiness, metrics'] = `${url}/healthz ${url}/readyz ${url}/metrics`;
  for (const issuer of ca?.issuerUrls ?? []) endpoints[`dev OIDC issuer (${issuer.split('/dev-oidc/')[1] ?? 'email'})`] = issuer;

  let closing: Promise<void> | undefined;
  return {
    url,
    endpoints,
    logger,
    server,
    metrics,
    close: () =>
      (closing ??= (async () => {
        // Stop accepting; idle keep-alive sockets go now, busy ones once their response is written (with
        // `Connection: close`). Requests still running after 10 s are cut; their appends are still committed
        // below, but they were never acknowledged.
        closingDown = true;
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const timer = setTimeout(() => server.closeAllConnections(), 10_000);
        await closed;
        clearTimeout(timer);
        await ca?.close();
        await log?.close(); // commits the pending batch, then closes the databases
        lock?.release();
      })()),
  };
}

/** The deployment's trust documents (what `sigstack trusted-root --url` fetches). */
function trustRouter(trustParts: () => Promise<TrustParts>): Router {
  const r = new Router();
  r.get('/sigstack/v1/trusted_root.json', async (ctx) => {
    ctx.body = buildTrustedRoot(await trustParts());
  });
  r.get('/sigstack/v1/signing_config.json', async (ctx) => {
    const parts = await trustParts();
    ctx.body = buildSigningConfig({
      caUrl: parts.ca?.baseUrl,
      rekorUrl: parts.tlog?.baseUrl,
      since: parts.tlog?.createdAt ?? new Date(0).toISOString(),
    });
  });
  return r;
}
