import type Koa from 'koa';
import { SigstackError } from '../core/errors.ts';

/** 429: the client spent its request budget; Retry-After says when one more request is allowed. */
export class TooManyRequestsError extends SigstackError {
  constructor(retryAfterSeconds: number) {
    super(429, 'RATE_LIMITED', 'too many requests from this address, slow down', { 'Retry-After': String(retryAfterSeconds) });
  }
}

export interface RateLimitOptions {
  /** Sustained requests per second per client address; 0 turns limiting off. */
  ratePerSecond: number;
  /** Bucket size: how many requests a client may send at once after being idle. */
  burst: number;
  /** Most clients tracked at once; the least recently seen are forgotten first (they start with a full bucket). */
  maxClients?: number;
  now?: () => number;
}

/** Paths never limited: orchestrators and scrapers poll them, and refusing them would restart healthy services. */
const EXEMPT = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * Token bucket per remote address (the socket's, never X-Forwarded-For, which a client can forge: app.proxy is
 * off). Memory is bounded by `maxClients`, so a flood of source addresses cannot grow it without limit.
 */
export function rateLimitMiddleware(opts: RateLimitOptions): Koa.Middleware {
  const { ratePerSecond: rate, burst, maxClients = 10_000, now = () => performance.now() } = opts;
  const buckets = new Map<string, { tokens: number; at: number }>();
  return (ctx, next) => {
    if (rate <= 0 || EXEMPT.has(ctx.path)) return next();
    const key = ctx.request.ip || 'unknown';
    const t = now();
    let bucket = buckets.get(key);
    if (bucket) {
      buckets.delete(key); // re-inserted below: Map order is then least recently seen first
      bucket.tokens = Math.min(burst, bucket.tokens + ((t - bucket.at) / 1000) * rate);
      bucket.at = t;
    } else {
      bucket = { tokens: burst, at: t };
      if (buckets.size >= maxClients) buckets.delete(buckets.keys().next().value!);
    }
    buckets.set(key, bucket);
    if (bucket.tokens < 1) throw new TooManyRequestsError(Math.max(1, Math.ceil((1 - bucket.tokens) / rate)));
    bucket.tokens -= 1;
    return next();
  };
}
