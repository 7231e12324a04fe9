import type Koa from 'koa';
import type { StackMetrics } from './metrics.ts';

/**
 * Counts the certificates the CA issues, by issuer and issuer type. The CA's routes record who a certificate was
 * issued for in `ctx.state.issued` (from the verified token, so nothing is parsed again here); a response is
 * counted only when it succeeded, so what is counted is exactly what left the server.
 */
export function issuedCertificatesMiddleware(metrics: StackMetrics): Koa.Middleware {
  return async (ctx, next) => {
    await next();
    if (ctx.status >= 300) return;
    const issued = ctx.state.issued as { issuer?: unknown; issuerType?: unknown } | undefined;
    if (!issued || typeof issued.issuer !== 'string' || typeof issued.issuerType !== 'string') return;
    metrics.certificatesIssued.inc({ issuer: issued.issuer, type: issued.issuerType });
  };
}
