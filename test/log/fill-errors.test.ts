/**
 * `log fill` against logs that fail: each failure names the URL and the cause, a server that never answers
 * cannot hang it, and a failure mid-run says how many entries were appended (they stay in the log).
 */
import test from 'ava';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fill, FillError } from '../../client/log-fill.ts';
import { runCli } from '../helpers/cli.ts';

const servers: Server[] = [];
test.after.always(() => {
  for (const s of servers) {
    s.closeAllConnections();
    s.close();
  }
});
const quiet = () => undefined;

async function listen(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A log that accepts `accepted` entries (201), then answers 429 as a rate-limited Sigstack does. */
function limitedLog(accepted: number): { start: () => Promise<string>; appended: () => number } {
  let appended = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (appended < accepted) {
        appended++;
        res.writeHead(201, { 'content-type': 'application/json' }).end('{}');
      } else {
        res.writeHead(429, { 'content-type': 'application/json' }).end('{"code":429,"message":"rate limit exceeded: retry later"}');
      }
    });
  });
  return { start: () => listen(server), appended: () => appended };
}

test('an unreachable log is named with the cause', async (t) => {
  const probe = createServer();
  const url = await listen(probe);
  await new Promise((r) => probe.close(r));
  const err = await t.throwsAsync(fill({ url, count: 3, concurrency: 2, progress: quiet }));
  t.true(err instanceof FillError);
  t.regex(err!.message, new RegExp(`^cannot reach ${url}/api/v1/log/entries \\(.*ECONNREFUSED.*\\) \\(0 of 3 entries were appended before it\\)$`));
});

test('a server that is not a log is told apart: what was expected, and it is a usage error', async (t) => {
  const url = await listen(createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html></html>')));
  const err = await t.throwsAsync(fill({ url, count: 2, concurrency: 1, progress: quiet }));
  t.true(err instanceof FillError && err.usage);
  t.regex(err!.message, new RegExp(`${url}/api/v1/log/entries answered 200, not 201 Created with the new entry: is the URL the base URL of a Sigstack`));
  const api = await t.throwsAsync(fill({ url: `${url}/api/v1/log`, count: 2, concurrency: 1, progress: quiet }));
  t.regex(api!.message, /is an API path: give the server's base URL/);
});

test('a server that accepts the connection but never answers times out instead of hanging', async (t) => {
  const url = await listen(createServer(() => undefined));
  const started = performance.now();
  const err = await t.throwsAsync(fill({ url, count: 2, concurrency: 1, timeoutMs: 300, progress: quiet }));
  t.regex(err!.message, new RegExp(`cannot reach ${url}/api/v1/log/entries \\(no answer within 0\\.3 s\\)`));
  t.true(performance.now() - started < 5_000);
});

test('a failure mid-run stops every worker and says how many entries were appended before it', async (t) => {
  const log = limitedLog(7);
  const url = await log.start();
  const err = await t.throwsAsync(fill({ url, count: 40, concurrency: 4, progress: quiet }));
  t.regex(err!.message, /refused entry \d+ with 429: rate limit exceeded: retry later \(7 of 40 entries were appended before it\)$/);
  await new Promise((r) => setTimeout(r, 100));
  t.is(log.appended(), 7);

  const cli = limitedLog(3);
  const r = await runCli(['log', 'fill', '--url', await cli.start(), '--count', '10', '--concurrency', '2']);
  t.is(r.code, 1);
  t.regex(r.stderr, /^Error: .* 429: rate limit exceeded: retry later \(3 of 10 entries were appended before it\)\n$/);
});
