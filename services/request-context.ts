import { randomUUID } from 'node:crypto';
import type Koa from 'koa';
import type { Logger } from 'pino';
import type { StackMetrics } from './metrics.ts';

/** Methods kept as label values; any other (WebDAV, custom) is counted as OTHER (timestamp-authority 7bd3081). */
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']);

/** A caller's X-Request-Id is kept only when it is short and plain, so it cannot forge log lines or grow them. */
const CLIENT_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * Outermost middleware: gives the request an id (echoed in X-Request-Id, kept in `ctx.state.reqId` for the
 * error middleware's lines), logs one line per request and records its latency under the matched route
 * pattern. Never logs bodies, headers or query strings: tokens travel in bodies and Authorization headers and
 * must not reach the logs.
 *
 * The id travels in `ctx.state`, not in an AsyncLocalStorage: on Node 20 an AsyncLocalStorage turns on promise
 * hooks for every promise of the process, ~30 µs of the event loop's CPU per Rekor append (A/B, 128 clients),
 * and only the error middleware, which has the ctx, logs inside a request.
 */
export function requestContext(logger: Logger, metrics: StackMetrics, routeFor: (method: string, path: string) => string | undefined = () => undefined): Koa.Middleware {
  return async (ctx, next) => {
    const given = ctx.get('x-request-id');
    const reqId = CLIENT_ID.test(given) ? given : randomUUID();
    ctx.set('X-Request-Id', reqId);
    ctx.state.reqId = reqId;
    const start = process.hrtime.bigint();
    try {
      await next();
    } finally {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      // refused before routing (429, 413): the pattern the path would have matched
      const route = routeOf(ctx) ?? routeFor(ctx.method, ctx.path) ?? 'unmatched';
      metrics.requestDuration.observe({ method: METHODS.has(ctx.method) ? ctx.method : 'OTHER', route, status: String(ctx.status) }, seconds);
      if (ctx.status >= 400) metrics.rejections.inc({ code: (ctx.state.errorCode as string | undefined) ?? String(ctx.status), route });
      logger.info({ reqId, method: ctx.method, route, path: ctx.path, status: ctx.status, ms: seconds * 1000 }, 'request');
    }
  };
}

/** The pattern of the route that served the request (`/api/v1/log/entries/:entryUUID`), never the raw path. */
function routeOf(ctx: Koa.Context): string | undefined {
  const matched = (ctx as { _matchedRoute?: string | RegExp })._matchedRoute;
  return typeof matched === 'string' ? matched : undefined;
}

/** Finds the pattern a path would match in these routers (for requests refused before routing). */
export function routePatterns(routers: { match(path: string, method: string): { pathAndMethod: { path: string | RegExp }[] } }[]) {
  return (method: string, path: string): string | undefined => {
    for (const r of routers) {
      const layer = r.match(path, method).pathAndMethod[0];
      if (layer && typeof layer.path === 'string') return layer.path;
    }
    return undefined;
  };
}

/**
 * Just inside the error middleware: notes the typed error's stable code for the rejection counter, then lets
 * the error middleware answer as before.
 */
export function errorCodeRecorder(): Koa.Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      ctx.state.errorCode = typeof code === 'string' && /^[A-Z0-9_]{1,40}$/.test(code) ? code : undefined;
      throw err;
    }
  };
}
