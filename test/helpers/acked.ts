import type { ExecutionContext } from 'ava';
import { once } from 'node:events';
import { startServer } from './cli.ts';
import { hashedRekordProposal } from './rekord.ts';

export interface Acked {
  uuid: string;
  index: number;
}

/** POSTs one fresh hashedrekord entry; `acked` is set only for a 201. Network failures reject. */
export async function postEntry(url: string): Promise<{ status: number; acked?: Acked }> {
  const res = await fetch(`${url}/api/v1/log/entries`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(hashedRekordProposal().proposal),
  });
  if (res.status !== 201) {
    await res.arrayBuffer();
    return { status: res.status };
  }
  const [uuid, entry] = Object.entries(await res.json() as Record<string, { logIndex: number }>)[0]!;
  return { status: 201, acked: { uuid, index: entry.logIndex } };
}

/** Restarts `sigstack serve` on `dataDir` and asserts every acknowledged entry is there, at its index, once. */
export async function assertAcknowledgedSurvived(t: ExecutionContext, dataDir: string, acked: Acked[]): Promise<void> {
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
    const exited = once(again.child, 'exit');
    again.child.kill('SIGTERM');
    await exited;
  }
}
