import test from 'ava';
import { Writable } from 'node:stream';
import Koa from 'koa';
import { pino } from 'pino';
import { errorMiddleware } from '../../services/errors.ts';
import { createMetrics } from '../../services/metrics.ts';
import { requestContext } from '../../services/request-context.ts';
import { listen } from '../helpers/http.ts';

/**
 * The request id travels in ctx.state (no AsyncLocalStorage): the request line and the line of an unhandled
 * error both carry it, even with other requests in flight, and the client sees a bare 500.
 */
test('an unhandled error is logged with the id of the request that raised it, and answered 500 without internals', async (t) => {
  let captured = '';
  const logger = pino({ level: 'info' }, new Writable({ write(chunk, _enc, cb) { captured += chunk.toString(); cb(); } }));
  const app = new Koa();
  app.use(requestContext(logger, createMetrics()));
  app.use(errorMiddleware(logger));
  app.use(async (ctx) => {
    // interleave requests: each one's error must keep its own id
    await new Promise((r) => setTimeout(r, ctx.path === '/slow' ? 30 : 1));
    if (ctx.path !== '/ok') throw new Error(`secret internals of ${ctx.path}`);
    ctx.body = 'ok';
  });
  const server = await listen(app);
  try {
    const [slow, fast, ok] = await Promise.all([
      fetch(`${server.url}/slow`, { headers: { 'x-request-id': 'req-slow' } }),
      fetch(`${server.url}/fast`, { headers: { 'x-request-id': 'req-fast' } }),
      fetch(`${server.url}/ok`),
    ]);
    t.is(slow.status, 500);
    t.is(fast.status, 500);
    t.is(ok.status, 200);
    t.notRegex(await slow.text(), /secret/);
    t.regex(ok.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
  } finally {
    await server.close();
  }
  const records = captured.trim().split('\n').map((l) => JSON.parse(l) as { level: number; msg: string; reqId?: string; err?: { message: string }; status?: number });
  const errors = records.filter((r) => r.level >= 50);
  t.deepEqual(errors.map((r) => [r.reqId, r.err?.message]).sort(), [['req-fast', 'secret internals of /fast'], ['req-slow', 'secret internals of /slow']]);
  const requests = records.filter((r) => r.msg === 'request');
  t.deepEqual(requests.map((r) => [r.reqId?.startsWith('req-') ? r.reqId : 'generated', r.status]).sort(), [['generated', 200], ['req-fast', 500], ['req-slow', 500]]);
});
