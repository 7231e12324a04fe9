import test from 'ava';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { openMerkleLog } from '../../log/merkle-log.ts';
import { rootHash } from '../../log/merkle/proofs.ts';
import { verifyInclusion } from '../../log/merkle/verify.ts';
import { MemoryTree } from '../merkle/memory-tree.ts';
import { tempDbPath } from './temp-dir.ts';

const FIXTURE = fileURLToPath(new URL('../fixtures/log-engine/append-until-killed.ts', import.meta.url));
const ACKS_BEFORE_KILL = 400;

test('every acknowledged append survives kill -9, and the reopened tree is consistent', async (t) => {
  const path = tempDbPath(t);
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, path, '16'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = once(child, 'exit');
  const acked = new Map<number, string>();
  // Kill as soon as enough acknowledgements were seen: no sleeps, the child is mid-run by construction.
  for await (const line of createInterface({ input: child.stdout })) {
    if (line === 'ready') continue;
    const space = line.indexOf(' ');
    acked.set(Number(line.slice(0, space)), line.slice(space + 1));
    if (acked.size >= ACKS_BEFORE_KILL) {
      child.kill('SIGKILL');
      break;
    }
  }
  const [, signal] = await exited;
  t.is(signal, 'SIGKILL');
  t.true(acked.size >= ACKS_BEFORE_KILL);

  const check = new Database(path, { readonly: true });
  t.is(check.pragma('integrity_check', { simple: true }), 'ok');
  check.close();

  const log = openMerkleLog({ path });
  const size = log.size();
  t.true(size >= Math.max(...acked.keys()) + 1);
  for (const [index, leaf] of acked) {
    if (log.getEntry(index)?.leaf.toString() !== leaf) t.fail(`acknowledged entry ${index} (${leaf}) is missing`);
  }
  const entries = log.getEntries(0, size - 1);
  t.deepEqual(entries.map((e) => e.index), Array.from({ length: size }, (_, i) => i));
  const reference = new MemoryTree(entries.map((e) => e.leaf));
  t.deepEqual(log.rootHash(), rootHash(reference, size));
  for (const index of [0, Math.floor(size / 2), size - 1]) {
    t.true(verifyInclusion(reference.leafHashes[index], index, size, log.inclusionProof(index, size), log.rootHash()));
  }
  t.is((await log.append(Buffer.from('after the crash'))).entry.index, size);
  await log.close();
});
