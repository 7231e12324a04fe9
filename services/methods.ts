import type Router from '@koa/router';
import type Koa from 'koa';
import { SigstackError } from '../core/errors.ts';

/**
 * A known path asked with a method none of its routes serves: 405 with `Allow`, in the API's error body (thrown
 * to services/errors.ts like every other error); OPTIONS is answered with `Allow` alone. An unknown path stays
 * errorMiddleware's 404 whatever the method. Replaces @koa/router's allowedMethods(), which answers any method
 * outside its fixed list (TRACE, PROPFIND, ...) with a plain-text 501 on every path, known or not, and its 405
 * in plain text.
 */
export function methodNotAllowed(routers: readonly Router[]): Koa.Middleware {
  return async (ctx, next) => {
    await next();
    if (ctx.status !== 404 || ctx.body !== undefined) return;
    const allowed = new Set<string>();
    for (const router of routers) {
      for (const layer of router.match(ctx.path, ctx.method).path) for (const m of layer.methods) allowed.add(m);
    }
    if (allowed.size === 0) return;
    const allow = [...allowed].join(', ');
    if (ctx.method === 'OPTIONS') {
      ctx.status = 204;
      ctx.set('Allow', allow);
      return;
    }
    throw new SigstackError(405, 'METHOD_NOT_ALLOWED', `${ctx.method} is not allowed on ${ctx.path} (allowed: ${allow})`, { Allow: allow });
  };
}
