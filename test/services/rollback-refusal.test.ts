/**
 * A served log killed with kill -9 whose rekor.db-wal and -shm are then deleted used to start again as an empty
 * tree (size 0, the empty root) under the same key and tree id: a fork of what clients were shown. log/rekor.db.published
 * (log/published-size.ts) records the largest tree size published, so the restart is refused naming rekor.db.
 */
import test from 'ava';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, startServer } from '../helpers/cli.ts';
import { serveOnce } from './serve-once.ts';

const root = mkdtempSync(join(tmpdir(), 'sigstack-rollback-'));
test.after.always(() => rmSync(root, { recursive: true, force: true }));

function published(dir: string): number | undefined {
  const file = join(dir, 'log', 'rekor.db.published');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { publishedTreeSize: number }).publishedTreeSize : undefined;
}

test('kill -9, then log/rekor.db-wal and -shm deleted: the restart is refused naming rekor.db; with them it starts', async (t) => {
  const dir = join(root, 'data');
  const server = await startServer(['--data-dir', dir]);
  const exited = new Promise((r) => server.child.once('exit', r));
  try {
    const fill = await runCli(['log', 'fill', '--url', server.url, '--count', '30']);
    t.is(fill.code, 0, fill.stderr);
    const log = await (await fetch(`${server.url}/api/v1/log`)).json() as { treeSize: number };
    t.is(log.treeSize, 30);
    // the file follows the published checkpoints within about a second
    const end = Date.now() + 3000;
    while (published(dir) !== 30 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    t.is(published(dir), 30);
  } finally {
    server.child.kill('SIGKILL');
    await exited;
  }
  t.true(existsSync(join(dir, 'log', 'rekor.db-wal')));

  // control: the same folder with its WAL starts with its 30 entries
  const intact = join(root, 'intact');
  cpSync(dir, intact, { recursive: true });
  const again = await startServer(['--data-dir', intact]);
  try {
    t.is((await (await fetch(`${again.url}/api/v1/log`)).json() as { treeSize: number }).treeSize, 30);
  } finally {
    again.child.kill('SIGTERM');
    await new Promise((r) => again.child.once('exit', r));
  }

  rmSync(join(dir, 'log', 'rekor.db-wal'));
  rmSync(join(dir, 'log', 'rekor.db-shm'), { force: true });
  const r = await serveOnce(['--data-dir', dir]);
  t.false(r.started, 'a rolled-back tree must not be served under the same key');
  t.is(r.code, 1, r.output);
  t.regex(r.output, /the Rekor log's active tree \d+: \S+log\/rekor\.db holds 0 entries/);
  t.is(r.output.match(/sigstack log restore/g)?.length, 1, 'the restore route is given once');
  t.regex(r.output, /log\/rekor\.db holds 0 entries, but \S+log\/rekor\.db\.published records that checkpoints of 30 entries were shown to clients/);
  t.regex(r.output, /sigstack log restore/);
});
