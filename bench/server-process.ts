import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../test/helpers/cli.ts';

/**
 * `sigstack serve` in its own process on a fresh data folder, as `npm start` runs it, for the HTTP benches: the
 * load generator stays in the bench process, so it does not share the server's event loop (on a 2-core machine
 * each gets a core). BENCH_SERVER_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=prof") passes node flags to the server.
 */
export interface BenchServer {
  url: string;
  pid: number;
  dataDir: string;
  close(): Promise<void>;
}

export async function startBenchServer(args: string[] = [], dataDir = mkdtempSync(join(tmpdir(), 'sigstack-bench-server-'))): Promise<BenchServer> {
  const nodeArgs = process.env.BENCH_SERVER_NODE_ARGS?.split(' ').filter(Boolean);
  const server = await startServer(['--data-dir', dataDir, '--log-level', 'error', ...args], { nodeArgs });
  return {
    url: server.url,
    pid: server.child.pid!,
    dataDir,
    close: () => new Promise<void>((resolve) => {
      server.child.once('exit', () => {
        rmSync(dataDir, { recursive: true, force: true });
        resolve();
      });
      server.child.kill('SIGTERM');
    }),
  };
}
