import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import type Router from '@koa/router';
import { errorMiddleware } from '../../services/errors.ts';
import { bodyMiddleware } from '../../services/body.ts';
import { methodNotAllowed } from '../../services/methods.ts';

export interface TestServer {
  url: string;
  close(): Promise<void>;
}

/** Serves a Koa app on 127.0.0.1 at an ephemeral port. */
export async function listen(app: Koa): Promise<TestServer> {
  const server = http.createServer(app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** Mounts routers behind the real error and body middleware, as services/app.ts does, and serves them. */
export async function serveRouters(...routers: Router[]): Promise<TestServer> {
  const app = new Koa();
  app.use(errorMiddleware());
  app.use(bodyMiddleware(128 * 1024));
  app.use(methodNotAllowed(routers));
  for (const r of routers) app.use(r.routes());
  return listen(app);
}
