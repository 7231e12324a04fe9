import { parentPort } from 'node:worker_threads';
import { SigstackError } from '../../core/errors.ts';
import { canonicalizeProposedEntry } from './index.ts';

/**
 * Worker side of the canonicalization pool: validates a proposed entry (including its signature check, the
 * costly part) and answers with the canonical body, or with the typed error's status, code and message so
 * the main thread can rethrow the same error.
 */
export interface WorkerRequest { id: number; proposed: unknown }
export type WorkerReply =
  | { id: number; ok: true; body: Uint8Array }
  | { id: number; ok: false; status: number; code: string; message: string };

parentPort?.on('message', (req: WorkerRequest) => {
  let reply: WorkerReply;
  try {
    const body = canonicalizeProposedEntry(req.proposed);
    reply = { id: req.id, ok: true, body };
  } catch (e) {
    reply = e instanceof SigstackError
      ? { id: req.id, ok: false, status: e.status, code: e.code, message: e.message }
      : { id: req.id, ok: false, status: 500, code: 'INTERNAL', message: 'entry canonicalization failed' };
  }
  parentPort!.postMessage(reply);
});
