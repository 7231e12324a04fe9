import type Koa from 'koa';
import getRawBody from 'raw-body';
import { BadRequestError, PayloadTooLargeError } from '../core/errors.ts';
import '../core/koa-augment.ts';

/**
 * Reads every request body once, before routing: refuses bodies over `limitBytes` with 413 before reading
 * them whole, refuses compressed bodies (no decompression bombs), and parses JSON. Routes then read
 * `ctx.request.body` / `ctx.request.rawBody` and never touch the stream.
 */
export function bodyMiddleware(limitBytes: number): Koa.Middleware {
  return async (ctx, next) => {
    if (ctx.method === 'GET' || ctx.method === 'HEAD' || ctx.method === 'DELETE' || ctx.method === 'OPTIONS') return next();
    const encoding = ctx.get('content-encoding');
    if (encoding && encoding !== 'identity') throw new BadRequestError(`unsupported content-encoding "${encoding}"`);
    const declared = Number(ctx.get('content-length') || 0);
    if (declared > limitBytes) throw new PayloadTooLargeError(`request body of ${declared} bytes is over the limit of ${limitBytes}`);
    let raw: Buffer;
    try {
      raw = await getRawBody(ctx.req, { limit: limitBytes });
    } catch (err) {
      if ((err as { type?: string }).type === 'entity.too.large') {
        throw new PayloadTooLargeError(`request body is over the limit of ${limitBytes} bytes`);
      }
      throw new BadRequestError('could not read request body');
    }
    ctx.request.rawBody = raw;
    if (raw.length > 0) {
      try {
        ctx.request.body = JSON.parse(raw.toString('utf8'));
      } catch {
        throw new BadRequestError('request body is not valid JSON');
      }
    }
    return next();
  };
}
