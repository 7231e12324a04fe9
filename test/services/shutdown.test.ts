import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { startServer } from '../helpers/cli.ts';
import { hashedRekordProposal } from '../helpers/rekord.ts';

test('SIGTERM under load (16 writers): in-flight requests finish, the process exits 0, every acknowledged entry is there after a restart', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sigstack-term-'));
  const server = await startServer(['--data-dir', dataDir]);
  const acked: { uuid: string; index: number }[] = [];
  let refusedAfterTerm = 0;
  let termSent = false;
  const writer = async () => {
    for (;;) {
      const { proposal } = hashedRekordProposal();
      try {
        const res = await fetch(`${server.url}/api/v1/log/entries`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(proposal),
        });
        t.is(res.status, 201, `a request the server accepted must complete, got ${res.status}`);
        const body = await res.json() as Record<string, { logIndex: number }>;
        const [uuid, entry] = Object.entries(body)[0]!;
        acked.push({ uuid, index: entry.logIndex });
      } catch {
        if (!termSent) throw new Error('the server failed before SIGTERM');
        refusedAfterTerm++;
        return; // the server stopped accepting: this writer is done
      }
    }
  };
  const writers = Array.from({ length: 16 }, writer);
  while (acked.length < 200) await new Promise((r) => setTimeout(r, 20));
  const exited = once(server.child, 'exit');
  termSent = true;
  const ackedAtTerm = acked.length;
  server.child.kill('SIGTERM');
  await Promise.all(writers);
  const [code] = await exited as [number | null];
  t.is(code, 0, server.output());
  t.regex(server.output(), /SIGTERM: finishing in-flight requests/);
  t.regex(server.output(), /closed cleanly/);
  t.is(refusedAfterTerm, 16);
  t.log(`${acked.length} acknowledged (${acked.length - ackedAtTerm} after SIGTERM was sent)`);

  const again = await startServer(['--data-dir', dataDir]);
  try {
    const info = await (await fetch(`${again.url}/api/v1/log`)).json() as { treeSize: number };
    t.true(info.treeSize >= acked.length);
    t.is(new Set(acked.map((a) => a.index)).size, acked.length, 'indices are unique');
    for (const a of acked) {
      const res = await fetch(`${again.url}/api/v1/log/entries/${a.uuid}`);
      t.is(res.status, 200, `entry ${a.uuid} lost`);
      const body = await res.json() as Record<string, { logIndex: number }>;
      t.is(Object.values(body)[0]!.logIndex, a.index);
    }
  } finally {
    again.child.kill('SIGTERM');
    await once(again.child, 'exit');
  }
});
