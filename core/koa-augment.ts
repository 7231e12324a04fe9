/**
 * services/app.ts installs one body middleware (size limit, JSON parse, 4xx on bad input) before every router,
 * so routes read `ctx.request.body` (parsed JSON) and `ctx.request.rawBody` (the exact bytes) and never parse.
 */
declare module 'koa' {
  interface Request {
    body?: unknown;
    rawBody?: Buffer;
  }
}
export {};
