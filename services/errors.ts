import type Koa from 'koa';
import { SigstackError } from '../core/errors.ts';

/** gRPC status codes, as Fulcio's grpc-gateway writes them in v2 error bodies. */
const GRPC_CODE_BY_STATUS: Record<number, number> = {
  400: 3, // InvalidArgument
  401: 16, // Unauthenticated
  403: 7, // PermissionDenied
  404: 5, // NotFound
  405: 12, // Unimplemented, as grpc-gateway's routing error for a method a path does not serve
  409: 6, // AlreadyExists
  413: 8, // ResourceExhausted
  429: 8, // ResourceExhausted (rate limited)
  422: 3,
  500: 13, // Internal
  503: 14, // Unavailable
};

export interface ErrorLogger {
  error(obj: object, msg: string): void;
}

/**
 * The one place where errors become HTTP responses, in the body shape of the upstream API the path belongs to:
 * Fulcio v2 (`/api/v2`): grpc-gateway `{code, message, details}`; Rekor v1 (`/api/v1`): `{code, message}`;
 * RFC 6962 (`/ct/v1`): plain text, as Trillian's CT front end. Unknown errors are 500 with no internals leaked.
 */
export function errorMiddleware(logger?: ErrorLogger): Koa.Middleware {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        throw new SigstackError(404, 'NOT_FOUND', `no route for ${ctx.method} ${ctx.path}`);
      }
    } catch (err) {
      let status = 500;
      let message = 'internal error';
      let headers: Record<string, string> = {};
      if (err instanceof SigstackError) {
        ({ status, message, headers } = err);
      } else if (isHttpError(err)) {
        // koa's own ctx.throw / @koa/router 405s
        status = err.status;
        message = err.expose ? err.message : 'request failed';
      } else {
        logger?.error({ err, reqId: ctx.state.reqId as string | undefined }, 'unhandled error');
      }
      ctx.status = status;
      for (const [k, v] of Object.entries(headers)) ctx.set(k, v);
      ctx.body = errorBody(ctx.path, status, message);
    }
  };
}

function isHttpError(err: unknown): err is { status: number; message: string; expose?: boolean } {
  return typeof err === 'object' && err !== null && typeof (err as { status?: unknown }).status === 'number' &&
    (err as { status: number }).status >= 400 && (err as { status: number }).status < 600;
}

/** Fulcio's legacy v1 routes, served by the same grpc-gateway as v2 upstream (their errors have its shape). */
const FULCIO_V1 = new Set(['/api/v1/signingcert', '/api/v1/rootcert']);

export function errorBody(path: string, status: number, message: string): unknown {
  // the routers match paths without regard to case, so the body's shape is chosen the same way
  const p = path.toLowerCase();
  if (p.startsWith('/api/v2/') || FULCIO_V1.has(p.replace(/\/+$/, ''))) return { code: GRPC_CODE_BY_STATUS[status] ?? 2, message, details: [] };
  if (p.startsWith('/ct/v1/')) return message;
  return { code: status, message };
}

/** A client that sent broken HTTP or went away mid-request: its problem, routine on any public server. */
const CLIENT_FAULTS = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE', 'ECANCELED']);

/**
 * Koa's 'error' event: what fails after errorMiddleware has answered, or outside it (a request stream that errors
 * because the client sent a malformed chunk or closed mid-body). Without a listener Koa prints each one with its
 * stack on stderr, outside the structured log, for any client to provoke. A client's fault is logged at debug
 * level in one line; anything else as an error, with its stack.
 */
export function connectionErrorLogger(logger: ErrorLogger & { debug(obj: object, msg: string): void }) {
  return (err: unknown, ctx?: Koa.Context): void => {
    const e = err as { code?: string; expose?: boolean; message?: string };
    const reqId = ctx?.state?.reqId as string | undefined;
    if (e?.expose || (typeof e?.code === 'string' && (e.code.startsWith('HPE_') || CLIENT_FAULTS.has(e.code)))) {
      logger.debug({ reqId, code: e.code, reason: e.message }, 'client connection error');
    } else {
      logger.error({ err, reqId }, 'error after the response');
    }
  };
}
