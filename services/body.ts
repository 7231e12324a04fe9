import type Koa from 'koa';
import getRawBody from 'raw-body';
import { BadRequestError, PayloadTooLargeError } from '../core/errors.ts';
import '../core/koa-augment.ts';

/**
 * Reads every request body once, before routing: refuses bodies over `limitBytes` with 413 before reading
 * them whole, refuses compressed bodies (no decompression bombs) and bodies nested too deeply, and parses JSON
 * when a route first reads it (lazyJsonBody). Routes then read
 * `ctx.request.body` / `ctx.request.rawBody` and never touch the stream.
 */
export function bodyMiddleware(limitBytes: number): Koa.Middleware {
  return async (ctx, next) => {
    if (ctx.method === 'GET' || ctx.method === 'HEAD' || ctx.method === 'DELETE' || ctx.method === 'OPTIONS') return next();
    const encoding = ctx.get('content-encoding');
    if (encoding && encoding.trim().toLowerCase() !== 'identity') throw new BadRequestError(`unsupported content-encoding "${encoding}"`);
    const declared = Number(ctx.get('content-length') || 0);
    if (declared > limitBytes) throw new PayloadTooLargeError(`request body of ${declared} bytes is over the limit of ${limitBytes}`);
    let raw: Buffer;
    try {
      raw = await getRawBody(ctx.req, { limit: limitBytes });
    } catch (err) {
      if ((err as { type?: string }).type === 'entity.too.large') {
        // raw-body stopped reading (paused) mid-body. Left so, the socket closes with unread bytes and the kernel
        // sends a reset that can overtake the 413: a chunked upload got ECONNRESET instead of the answer. Discard
        // the rest as Node itself does for a body no one read (the declared-length refusal above), nothing kept.
        ctx.req.resume();
        throw new PayloadTooLargeError(`request body is over the limit of ${limitBytes} bytes`);
      }
      throw new BadRequestError('could not read request body');
    }
    ctx.request.rawBody = raw;
    if (raw.length > 0) {
      // A deeply nested body parses fine but then overflows the stack of whatever walks it (canonical
      // JSON, structured clone to a worker): refuse it before parsing.
      if (jsonNestingExceeds(raw, MAX_JSON_DEPTH)) throw new BadRequestError(`request body is nested deeper than ${MAX_JSON_DEPTH} levels`);
      lazyJsonBody(ctx.request, raw);
    }
    return next();
  };
}

/**
 * `request.body` parses on first read (then keeps the value), with the same 400 for text that is not JSON. A route
 * that hands the bytes on (Rekor's POST sends `rawBody` to a worker, which parses it there) never pays for a parse
 * on the event loop; every route that reads `body` sees exactly what an eager parse gave.
 */
function lazyJsonBody(request: Koa.Request, raw: Buffer): void {
  let parsed: { value: unknown } | undefined;
  Object.defineProperty(request, 'body', {
    configurable: true,
    enumerable: true,
    get() {
      if (!parsed) {
        try {
          parsed = { value: JSON.parse(raw.toString('utf8')) };
        } catch {
          throw new BadRequestError('request body is not valid JSON');
        }
      }
      return parsed.value;
    },
    set(value: unknown) {
      parsed = { value };
    },
  });
}

/** Deeper than any upstream request shape (a DSSE in-toto statement is under 20). */
export const MAX_JSON_DEPTH = 64;

/** true when the JSON text opens more than `max` arrays/objects at once (brackets inside strings do not count). */
export function jsonNestingExceeds(raw: Uint8Array, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}
