import { spawn } from 'node:child_process';
import { CLI, ROOT } from '../helpers/cli.ts';

export interface ServeOutcome {
  /** The exit code; null when it started (then it was stopped). */
  code: number | null;
  /** It printed its ready line: a start that should have been refused. */
  started: boolean;
  output: string;
}

/**
 * `sigstack serve --port 0 ARGS` expected to refuse to start: resolves with its exit code and output, or, if it does
 * start, stops it and says so (a test of a refusal then fails on `started` instead of hanging). `asUser` runs it
 * through setpriv as that uid/gid (tests run as root).
 */
export function serveOnce(args: string[], opts: { env?: Record<string, string | undefined>; asUser?: number } = {}): Promise<ServeOutcome> {
  const node = [process.execPath, '--import', 'tsx', CLI, 'serve', '--port', '0', '--log-level', 'warn', ...args];
  const [cmd, ...argv] = opts.asUser === undefined ? node : ['setpriv', `--reuid=${opts.asUser}`, `--regid=${opts.asUser}`, '--clear-groups', ...node];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd!, argv, { cwd: ROOT, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let started = false;
    const onData = (d: Buffer) => {
      output += d.toString();
      if (!started && /ready at https?:\/\//.test(output)) {
        started = true;
        child.kill('SIGTERM');
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: started ? null : code, started, output }));
  });
}
