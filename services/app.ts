import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import Router from '@koa/router';
import { pino, type Logger } from 'pino';
import { randomUUID } from 'node:crypto';
import type { ServeConfig } from './config.ts';
import { errorMiddleware } from './errors.ts';
import { bodyMiddleware } from './body.ts';
import { createLogService, type LogService } from './log-service.ts';
import { createCaService, type CaService } from './ca-service.ts';
import { loadOrCreateCa } from './ca-files.ts';
import { httpSctSource } from './sct-http.ts';
import { buildSigningConfig, buildTrustedRoot, type TrustParts } from './trust.ts';
import { fetchRemoteTrust } from './remote-trust.ts';
import type { CtLog } from '../log/ct/ct-log.ts';
import type { SctSource } from '../ca/sct-source.ts';
import { SigstackError, UnavailableError } from '../core/errors.ts';

export interface RunningStack {
  url: string;
  /** URLs worth printing on start: name -> URL. */
  endpoints: Record<string, string>;
  logger: Logger;
  server: http.Server;
  close(): Promise<void>;
}

/** The CA's SctSource wired straight to the CT log; a refusal of our own precertificate is the log's failure, not the client's. */
function inProcessSctSource(ct: CtLog): SctSource {
  return {
    async addPreChain(chain) {
      try {
        return await ct.addPreChain(chain);
      } catch (err) {
        if (err instanceof SigstackError && err.status < 500) throw new UnavailableError(`CT log refused the precertificate: ${err.message}`);
        throw err;
      }
    },
  };
}

function publicUrlFor(cfg: ServeConfig, port: number): string {
  if (cfg.publicUrl) return cfg.publicUrl;
  const host = cfg.host === '0.0.0.0' || cfg.host === '::' ? '127.0.0.1' : cfg.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/**
 * Starts the configured services on one HTTP port. The port is bound first (so port 0 works and the public URL
 * is known), then the services are built and the handler is switched on.
 */
export async function startStack(cfg: ServeConfig, logger: Logger = pino({ level: cfg.logLevel })): Promise<RunningStack> {
  let handler: http.RequestListener = (_req, res) => {
    res.statusCode = 503;
    res.end('starting');
  };
  const server = http.createServer((req, res) => handler(req, res));
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(cfg.port, cfg.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = publicUrlFor(cfg, port);

  let log: LogService | undefined;
  let ca: CaService | undefined;
  try {
    if (cfg.services === 'all') {
      const { chainDer } = loadOrCreateCa(cfg.dataDir);
      log = createLogService({ dataDir: cfg.dataDir, publicUrl: url, caRoots: [chainDer.at(-1)!] });
      ca = await createCaService({ ...cfg, publicUrl: url, sctSource: inProcessSctSource(log.ct) });
    } else if (cfg.services === 'log') {
      const roots = cfg.caUrl ? (await fetchRemoteTrust(cfg.caUrl, logger)).caRoots : [];
      if (roots.length === 0) throw new Error('`serve log` needs --ca-url so its CT log knows which CA it serves');
      log = createLogService({ dataDir: cfg.dataDir, publicUrl: url, caRoots: roots });
    } else {
      ca = await createCaService({ ...cfg, publicUrl: url, sctSource: httpSctSource(cfg.logUrl!) });
    }
  } catch (err) {
    server.close();
    await log?.close();
    throw err;
  }

  const trustParts = async (): Promise<TrustParts> => {
    const parts: TrustParts = { ...log?.trust, ...ca?.trust };
    if (!log && cfg.logUrl) Object.assign(parts, (await fetchRemoteTrust(cfg.logUrl, logger)).logParts);
    return parts;
  };
  const meta = trustRouter(trustParts);
  const app = new Koa();
  app.proxy = false;
  app.use(requestLog(logger));
  app.use(errorMiddleware(logger));
  app.use(bodyMiddleware(cfg.bodyLimit));
  for (const r of [meta, ...(log?.routers ?? []), ...(ca?.routers ?? [])]) app.use(r.routes()).use(r.allowedMethods());
  handler = app.callback();

  const endpoints: Record<string, string> = {};
  if (ca) endpoints['Fulcio v2 API (CA)'] = `${url}/api/v2/configuration`;
  if (log) {
    endpoints['Rekor v1 API (log)'] = `${url}/api/v1/log`;
    endpoints['RFC 6962 CT log'] = `${url}/ct/v1/get-sth`;
  }
  endpoints['trusted_root.json'] = `${url}/sigstack/v1/trusted_root.json`;
  for (const issuer of ca?.issuerUrls ?? []) endpoints['dev OIDC issuer (DEV ONLY)'] = issuer;

  let closing: Promise<void> | undefined;
  return {
    url,
    endpoints,
    logger,
    server,
    close: () =>
      (closing ??= (async () => {
        // stop accepting, let in-flight requests finish (bounded), then flush and close the databases
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const timer = setTimeout(() => server.closeAllConnections(), 10_000);
        await closed;
        clearTimeout(timer);
        await log?.close();
      })()),
  };
}

/** Health and the deployment's trust documents (what `sigstack trusted-root --url` fetches). */
function trustRouter(trustParts: () => Promise<TrustParts>): Router {
  const r = new Router();
  r.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
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

function requestLog(logger: Logger): Koa.Middleware {
  return async (ctx, next) => {
    const start = process.hrtime.bigint();
    const reqId = ctx.get('x-request-id') || randomUUID();
    ctx.set('X-Request-Id', reqId);
    try {
      await next();
    } finally {
      // never the body or headers: tokens and keys must not reach the logs
      logger.info({ reqId, method: ctx.method, path: ctx.path, status: ctx.status, ms: Number(process.hrtime.bigint() - start) / 1e6 }, 'request');
    }
  };
}
