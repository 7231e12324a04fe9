import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { SigstackError } from '../../core/errors.ts';
import { ProposedEntryJson, canonicalizeProposedEntry } from './index.ts';
import type { WorkerReply, WorkerRequest } from './canonicalize-worker-body.ts';

/**
 * Entry canonicalization off the event loop. Checking a hashedrekord signature over a bare digest costs
 * hundreds of microseconds (node:crypto cannot verify a digest without hashing it again), so on the main
 * thread it caps the Rekor append rate at one core and stalls every other request meanwhile. A small pool
 * of worker threads verifies while the main thread sequences and commits; workers start on first use
 * and are unref'd, so an idle pool costs nothing and never keeps the process alive.
 * The Rekor POST sends the request's JSON text (ProposedEntryJson), not the parsed object: a byte copy is
 * cheaper to send than a structured clone of the object, and the parse then happens on the worker.
 * (Batching the messages of one event-loop turn was tried: no measurable gain at 128 clients, so it is not done.)
 * If a worker cannot start or dies, that request and every later one are canonicalized inline: slower, same result.
 */
/** `proposed`: parsed JSON, or the request's JSON text as a ProposedEntryJson (parsed on the worker). */
export type Canonicalize = (proposed: unknown) => Promise<CanonicalEntry>;

/** The canonical body, and its search keys (log/kinds/index-keys.ts) when they were computed with it. */
export interface CanonicalEntry {
  body: Buffer;
  indexKeys?: string[];
}

export interface CanonicalizePool {
  canonicalize: Canonicalize;
  close(): Promise<void>;
}

interface Task { resolve: (e: CanonicalEntry) => void; reject: (e: unknown) => void; proposed: unknown }

class Slot {
  readonly tasks = new Map<number, Task>();
  constructor(readonly worker: Worker) {}
}

export function createCanonicalizePool(size = Math.max(1, Math.min(4, availableParallelism()))): CanonicalizePool {
  const slots: Slot[] = [];
  let broken = false;
  let nextId = 0;
  let closed = false;

  const inline = (proposed: unknown): Promise<CanonicalEntry> => Promise.resolve().then(() => ({ body: canonicalizeProposedEntry(proposed) }));

  function fail(slot: Slot): void {
    broken = true;
    slots.splice(slots.indexOf(slot), 1);
    for (const t of slot.tasks.values()) inline(t.proposed).then(t.resolve, t.reject);
    slot.tasks.clear();
    void slot.worker.terminate();
  }

  function spawn(): Slot {
    const worker = new Worker(new URL('./canonicalize-worker.mjs', import.meta.url));
    worker.unref();
    const slot = new Slot(worker);
    worker.on('message', (reply: WorkerReply) => {
      const task = slot.tasks.get(reply.id);
      if (!task) return;
      slot.tasks.delete(reply.id);
      if (slot.tasks.size === 0) worker.unref();
      if (reply.ok) task.resolve({ body: Buffer.from(reply.body.buffer, reply.body.byteOffset, reply.body.byteLength), indexKeys: reply.indexKeys });
      else task.reject(new SigstackError(reply.status, reply.code, reply.message));
    });
    worker.on('error', () => fail(slot));
    worker.on('exit', () => { if (slots.includes(slot)) fail(slot); });
    slots.push(slot);
    return slot;
  }

  function pick(): Slot {
    // least loaded; a new worker while under size and every existing one is busy
    let best = slots[0];
    for (const s of slots) if (!best || s.tasks.size < best.tasks.size) best = s;
    if (!best || (best.tasks.size > 0 && slots.length < size)) return spawn();
    return best;
  }

  return {
    canonicalize(proposed) {
      if (broken || closed) return inline(proposed);
      let slot: Slot;
      try {
        slot = pick();
      } catch {
        broken = true;
        return inline(proposed);
      }
      return new Promise<CanonicalEntry>((resolve, reject) => {
        const id = nextId++;
        slot.tasks.set(id, { resolve, reject, proposed });
        slot.worker.ref(); // in-flight work keeps the process alive until answered
        try {
          if (proposed instanceof ProposedEntryJson) {
            // a copy of exactly its bytes, transferred (the body may be a view into a larger buffer)
            const json = new Uint8Array(proposed.bytes);
            slot.worker.postMessage({ id, json } satisfies WorkerRequest, [json.buffer]);
          } else {
            slot.worker.postMessage({ id, proposed } satisfies WorkerRequest);
          }
        } catch {
          // not cloneable: cannot be JSON from the body parser, but be safe
          slot.tasks.delete(id);
          inline(proposed).then(resolve, reject);
        }
      });
    },
    async close() {
      closed = true;
      const all = slots.splice(0);
      for (const s of all) for (const t of s.tasks.values()) inline(t.proposed).then(t.resolve, t.reject);
      await Promise.all(all.map((s) => s.worker.terminate()));
    },
  };
}
