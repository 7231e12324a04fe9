/**
 * The webhook's HTTPS server: POST /validate (ValidatingWebhookConfiguration) and, with mutate on, POST /mutate
 * (MutatingWebhookConfiguration, answers carry the tag->digest JSON patch); GET /healthz. The API server speaks
 * TLS to webhooks only, so there is no plain-HTTP mode. Bodies are bounded (the API server's own request limit
 * is 3 MiB); a request that is not an AdmissionReview is a 400, never a crash.
 */
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { reviewAdmission, ReviewRequestError, type ReviewContext } from './review.ts';

const MAX_BODY = 3 * 1024 * 1024;
/** Each connection may buffer a body of up to MAX_BODY; the API server keeps a few connections per webhook. */
const MAX_CONNECTIONS = 256;

export interface AdmissionServerOptions extends ReviewContext {
  cert: string | Buffer;
  key: string | Buffer;
  host?: string;
  port?: number;
  onError?: (e: unknown) => void;
}

export interface RunningAdmissionServer {
  url: string;
  server: Server;
  close(): Promise<void>;
}

export async function startAdmissionServer(opts: AdmissionServerOptions): Promise<RunningAdmissionServer> {
  // The API server sends a review at once and waits at most 30 s: a client that trickles its request is cut off.
  const server = createServer({ cert: opts.cert, key: opts.key, minVersion: 'TLSv1.2', headersTimeout: 10_000, requestTimeout: 30_000 }, (req, res) => {
    const send = (status: number, body: unknown) => {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    const path = (req.url ?? '').split('?')[0];
    if (req.method === 'GET' && path === '/healthz') return send(200, { status: 'ok', cachedVerdicts: opts.cache.size });
    const mutate = path === '/mutate';
    if (req.method !== 'POST' || !(path === '/validate' || (mutate && opts.mutate))) return send(404, { message: 'POST /validate' + (opts.mutate ? ' or /mutate' : '') });
    const chunks: Buffer[] = [];
    let size = 0;
    let aborted = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY && !aborted) {
        aborted = true;
        send(413, { message: `request body over ${MAX_BODY} bytes` });
        req.destroy();
      } else if (!aborted) chunks.push(c);
    });
    req.on('end', () => {
      if (aborted) return;
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return send(400, { message: 'request body is not JSON' });
      }
      reviewAdmission(body, { ...opts, mutate }).then(
        (review) => send(200, review),
        (e: unknown) => {
          if (e instanceof ReviewRequestError) return send(400, { message: e.message });
          opts.onError?.(e);
          send(500, { message: 'internal error' });
        },
      );
    });
  });
  server.maxConnections = MAX_CONNECTIONS;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 8443, opts.host ?? '0.0.0.0', () => resolve());
  });
  const { port, address } = server.address() as AddressInfo;
  return {
    url: `https://${address.includes(':') ? `[${address}]` : address}:${port}`,
    server,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
