import { parentPort } from 'node:worker_threads';
import { toWorkerError, type WorkerError } from '../../core/worker-error.ts';
import { ProposedEntryJson, canonicalizeProposedEntry } from './index.ts';
import { rekorIndexKeys } from './index-keys.ts';

/**
 * Worker side of the canonicalization pool: validates proposed entries (including the signature check, the
 * costly part) and answers each with the canonical body, or with its error (core/worker-error.ts) so the main
 * thread can rethrow the same error.
 */
/** `json`: the request's JSON text (ProposedEntryJson's bytes, transferred); else `proposed`, already parsed. */
export interface WorkerRequest { id: number; proposed?: unknown; json?: Uint8Array }
export type WorkerReply =
  | { id: number; ok: true; body: Uint8Array; indexKeys: string[] }
  | { id: number; ok: false; error: WorkerError };

function answer(req: WorkerRequest, transfer: ArrayBuffer[]): WorkerReply {
  try {
    const body = canonicalizeProposedEntry(req.json ? new ProposedEntryJson(req.json) : req.proposed);
    // An exact-size copy, transferred: a small Buffer is a view into an 8 KiB pool slab, which postMessage
    // would otherwise clone whole.
    const exact = new Uint8Array(body);
    transfer.push(exact.buffer);
    // the search keys too, from the body just made: the certificate parse they need stays off the event loop
    return { id: req.id, ok: true, body: exact, indexKeys: rekorIndexKeys(body) };
  } catch (e) {
    return { id: req.id, ok: false, error: toWorkerError(e) };
  }
}

parentPort?.on('message', (req: WorkerRequest) => {
  const transfer: ArrayBuffer[] = [];
  const reply = answer(req, transfer);
  parentPort!.postMessage(reply, transfer);
});
