import { SigstackError } from './errors.ts';

/**
 * An error as it crosses a worker thread's message port. A typed error keeps its status, code, message and
 * headers, so the main thread rethrows the same error. Anything else is a fault of ours: it crosses as such,
 * with its message and stack, so that the main thread's error middleware logs it (with the request's id) and
 * answers a bare 500, as it does for a fault on the main thread. A fault used to cross as a typed 500, which the
 * middleware answers without logging: the one trace of the bug was the status in the request line.
 */
export type WorkerError =
  | { typed: true; status: number; code: string; message: string; headers: Record<string, string> }
  | { typed: false; message: string; stack?: string };

export function toWorkerError(e: unknown): WorkerError {
  if (e instanceof SigstackError) return { typed: true, status: e.status, code: e.code, message: e.message, headers: e.headers };
  const err = e instanceof Error ? e : new Error(String(e));
  return { typed: false, message: err.message, stack: err.stack };
}

/** The error to throw on the main thread; `where` names the worker in the message of a fault. */
export function fromWorkerError(w: WorkerError, where: string): Error {
  if (w.typed) return new SigstackError(w.status, w.code, w.message, w.headers);
  const err = new Error(`${where}: ${w.message}`);
  if (w.stack) err.stack = `Error: ${where}: ${w.stack}`; // the worker's frames, where the fault is
  return err;
}
