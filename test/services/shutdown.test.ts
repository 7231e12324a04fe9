import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { startServer } from '../helpers/cli.ts';
import { assertAcknowledgedSurvived, postEntry, type Acked } from '../helpers/acked.ts';

test('SIGTERM under load (16 writers): in-flight requests finish, the process exits 0, every acknowledged entry is there after a restart', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sigstack-term-'));
  const server = await startServer(['--data-dir', dataDir]);
  const acked: Acked[] = [];
  let refusedAfterTerm = 0;
  let termSent = false;
  const writer = async () => {
    for (;;) {
      try {
        const r = await postEntry(server.url);
        t.is(r.status, 201, `a request the server accepted must complete, got ${r.status}`);
        if (r.acked) acked.push(r.acked);
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

  await assertAcknowledgedSurvived(t, dataDir, acked);
});
