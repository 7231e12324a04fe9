import Router from '@koa/router';
import type { StackMetrics } from './metrics.ts';

/** One readiness check: resolves with a short description, or throws why it is not ready. */
export type ReadinessCheck = () => Promise<string> | string;

/**
 * `/healthz`: the process is alive and serving (no dependency is consulted: a liveness probe that fails because
 * a peer is down restarts the wrong container). `/readyz`: every check passes (database open, keys loaded, the
 * CA reaches its log), 503 with the failing check otherwise. `/metrics`: Prometheus text from the stack's registry.
 */
export function healthRouter(checks: Record<string, ReadinessCheck>, metrics: StackMetrics): Router {
  const r = new Router();
  r.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  r.get('/readyz', async (ctx) => {
    const results: Record<string, { ok: boolean; detail: string }> = {};
    await Promise.all(
      Object.entries(checks).map(async ([name, check]) => {
        try {
          results[name] = { ok: true, detail: await check() };
        } catch (err) {
          results[name] = { ok: false, detail: (err as Error).message };
        }
      }),
    );
    const ready = Object.values(results).every((c) => c.ok);
    ctx.status = ready ? 200 : 503;
    ctx.body = { status: ready ? 'ready' : 'not ready', checks: results };
  });
  r.get('/metrics', async (ctx) => {
    ctx.type = metrics.registry.contentType;
    ctx.body = await metrics.registry.metrics();
  });
  return r;
}

/** The CA's log is reachable when its health endpoint answers 200 in time. */
export async function peerAlive(url: string, timeoutMs = 2000): Promise<string> {
  let res: Response;
  try {
    res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
  } catch (err) {
    throw new Error(`${url} unreachable: ${(err as Error).message}`);
  }
  await res.body?.cancel();
  if (!res.ok) throw new Error(`${url}/healthz answered ${res.status}`);
  return `${url} reachable`;
}
