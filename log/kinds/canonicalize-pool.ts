import { availableParallelism } from 'node:os';
import { fromWorkerError } from '../../core/worker-error.ts';
import { createWorkerPool } from '../../core/worker-pool.ts';
import { ProposedEntryJson, canonicalizeProposedEntry } from './index.ts';
import type { WorkerReply, WorkerRequest } from './canonicalize-worker-body.ts';

/**
 * Entry canonicalization off the event loop. Checking a hashedrekord signature over a bare digest costs
 * hundreds of microseconds (node:crypto cannot verify a digest without hashing it again), so on the main
 * thread it caps the Rekor append rate at one core and stalls every other request meanwhile. A small pool
 * of worker threads (core/worker-pool.ts) verifies while the main thread sequences and commits.
 * The Rekor POST sends the request's JSON text (ProposedEntryJson), not the parsed object: a byte copy is
 * cheaper to send than a structured clone of the object, and the parse then happens on the worker.
 * (Batching the messages of one event-loop turn was tried: no measurable gain at 128 clients, so it is not done.)
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

export function createCanonicalizePool(size = Math.max(1, Math.min(4, availableParallelism()))): CanonicalizePool {
  const pool = createWorkerPool<unknown, CanonicalEntry>({
    url: new URL('./canonicalize-worker.mjs', import.meta.url),
    size,
    inline: async (proposed) => ({ body: canonicalizeProposedEntry(proposed) }),
    request(id, proposed) {
      if (!(proposed instanceof ProposedEntryJson)) return { message: { id, proposed } satisfies WorkerRequest };
      // a copy of exactly its bytes, transferred (the body may be a view into a larger buffer)
      const json = new Uint8Array(proposed.bytes);
      return { message: { id, json } satisfies WorkerRequest, transfer: [json.buffer] };
    },
    outcome(message) {
      const reply = message as WorkerReply;
      return reply.ok
        ? { id: reply.id, ok: true, value: { body: Buffer.from(reply.body.buffer, reply.body.byteOffset, reply.body.byteLength), indexKeys: reply.indexKeys } }
        : { id: reply.id, ok: false, error: fromWorkerError(reply.error, 'entry canonicalization worker') };
    },
  });
  return { canonicalize: (proposed) => pool.run(proposed), close: () => pool.close() };
}
