import type Koa from 'koa';
import { SigstackError } from '../core/errors.ts';

/** gRPC status codes, as Fulcio's grpc-gateway writes them in v2 error bodies. */
const GRPC_CODE_BY_STATUS: Record<number, number> = {
  400: 3, // InvalidArgument
  401: 16, // Unauthenticated
  403: 7, // PermissionDenied
  404: 5, // NotFound
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

export function errorBody(path: string, status: number, message: string): unknown {
  if (path.startsWith('/api/v2/')) return { code: GRPC_CODE_BY_STATUS[status] ?? 2, message, details: [] };
  if (path.startsWith('/ct/v1/')) return message;
  return { code: status, message };
}
