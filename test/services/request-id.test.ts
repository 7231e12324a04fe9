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
 * error both carry it, even with other requests in flight, and the client sees a bare 500. Faults keep being
 * faults across worker threads (logged, not turned into a quiet typed 500), and a client's broken HTTP is not
 * printed as a stack trace.
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

test('a fault on a worker thread crosses as a fault (logged, bare 500); a typed error crosses as itself', async (t) => {
  const { toWorkerError, fromWorkerError } = await import('../../core/worker-error.ts');
  const { ConflictError, SigstackError } = await import('../../core/errors.ts');
  // what crosses a message port is structured-cloned: the round trip goes through structuredClone as it would
  const fault = fromWorkerError(structuredClone(toWorkerError(new TypeError('boom in the worker'))), 'certificate worker');
  t.false(fault instanceof SigstackError, 'not a typed error: errorMiddleware logs it and answers a bare 500');
  t.is(fault.message, 'certificate worker: boom in the worker');
  t.regex(fault.stack ?? '', /TypeError: boom in the worker\n\s+at .*request-id\.test\.ts/, 'the worker\'s own frames');
  const typed = fromWorkerError(structuredClone(toWorkerError(new ConflictError('already there', '/x'))), 'w') as InstanceType<typeof SigstackError>;
  t.true(typed instanceof SigstackError);
  t.deepEqual([typed.status, typed.code, typed.message, typed.headers], [409, 'CONFLICT', 'already there', { Location: '/x' }]);
  t.like(toWorkerError('a thrown string'), { typed: false, message: 'a thrown string' });
});

test('broken HTTP from a client (a bad chunk size, a body cut short) is answered 400 and leaves no stack trace on the server\'s output', async (t) => {
  const { startServer } = await import('../helpers/cli.ts');
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const net = await import('node:net');
  const dataDir = mkdtempSync(join(tmpdir(), 'sigstack-broken-http-'));
  const server = await startServer(['--data-dir', dataDir]);
  t.teardown(() => {
    server.child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });
  const { hostname, port } = new URL(server.url);
  const send = (text: string) => new Promise<string>((resolve) => {
    const socket = net.connect(Number(port), hostname);
    let answer = '';
    socket.on('data', (d) => (answer += d.toString()));
    socket.on('error', () => {});
    socket.on('close', () => resolve(answer));
    socket.write(text);
    setTimeout(() => socket.end(), 300); // the client half-closes, as one that gave up mid-body does
  });
  const before = server.output().length;
  const answers = [
    await send('POST /api/v1/log/entries HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n'),
    await send('POST /api/v1/log/entries HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"a":1}'),
    await send('POST /api/v2/signingCert HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"a":1}'),
  ];
  for (const a of answers) t.regex(a, /^HTTP\/1\.1 400 /);
  await new Promise((r) => setTimeout(r, 300));
  const printed = server.output().slice(before);
  t.notRegex(printed, /Parse Error|\n\s+at /, printed);
});
