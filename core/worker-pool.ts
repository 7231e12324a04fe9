import { Worker, type Transferable } from 'node:worker_threads';

/**
 * A small pool of worker threads for CPU-heavy requests, shared by the log's entry checks
 * (log/kinds/canonicalize-pool.ts) and the CA's issuance (services/ca-workers.ts). Each task goes to the least
 * loaded worker; a new worker starts while there are fewer than `size` and every one is busy. Workers are
 * unref'd while idle, so an idle pool never keeps the process alive. A worker that cannot start or dies sends
 * its tasks, and every later one, to `inline` (the same work on this thread): slower, same answers.
 */
export interface WorkerPoolOptions<T, R> {
  /** The worker's entry module. */
  url: URL;
  size: number;
  workerData?: unknown;
  /** The same work on this thread. */
  inline(task: T): Promise<R>;
  /** The message (and what to transfer) that asks a worker for `task`; throwing sends the task inline. */
  request(id: number, task: T): { message: unknown; transfer?: Transferable[] };
  /** Reads a worker's message: the outcome of task `id`, or undefined for any other message (see `onOther`). */
  outcome(message: unknown): { id: number; ok: true; value: R } | { id: number; ok: false; error: unknown } | undefined;
  /** A message that is not an outcome, with a way to answer that worker (e.g. a worker asking this thread for something). */
  onOther?(message: unknown, reply: (message: unknown) => void): void;
}

export interface WorkerPool<T, R> {
  run(task: T): Promise<R>;
  close(): Promise<void>;
}

interface Pending<T, R> { task: T; resolve: (value: R) => void; reject: (error: unknown) => void }

class Slot<T, R> {
  readonly tasks = new Map<number, Pending<T, R>>();
  constructor(readonly worker: Worker) {}
}

export function createWorkerPool<T, R>(opts: WorkerPoolOptions<T, R>): WorkerPool<T, R> {
  const slots: Slot<T, R>[] = [];
  let broken = false;
  let closed = false;
  let nextId = 0;
  const inline = (p: Pending<T, R>) => Promise.resolve().then(() => opts.inline(p.task)).then(p.resolve, p.reject);

  function fail(slot: Slot<T, R>): void {
    broken = true;
    if (slots.includes(slot)) slots.splice(slots.indexOf(slot), 1);
    for (const p of slot.tasks.values()) void inline(p);
    slot.tasks.clear();
    void slot.worker.terminate();
  }

  function spawn(): Slot<T, R> {
    const worker = new Worker(opts.url, { workerData: opts.workerData });
    worker.unref();
    const slot = new Slot<T, R>(worker);
    const reply = (message: unknown) => { if (slots.includes(slot)) worker.postMessage(message); };
    worker.on('message', (message: unknown) => {
      const outcome = opts.outcome(message);
      if (!outcome) return opts.onOther?.(message, reply);
      const pending = slot.tasks.get(outcome.id);
      if (!pending) return;
      slot.tasks.delete(outcome.id);
      if (slot.tasks.size === 0) worker.unref();
      if (outcome.ok) pending.resolve(outcome.value);
      else pending.reject(outcome.error);
    });
    worker.on('error', () => fail(slot));
    worker.on('exit', () => { if (slots.includes(slot)) fail(slot); });
    slots.push(slot);
    return slot;
  }

  function pick(): Slot<T, R> {
    let best = slots[0];
    for (const s of slots) if (s.tasks.size < best!.tasks.size) best = s;
    if (!best || (best.tasks.size > 0 && slots.length < opts.size)) return spawn();
    return best;
  }

  return {
    run(task) {
      return new Promise<R>((resolve, reject) => {
        const pending: Pending<T, R> = { task, resolve, reject };
        if (broken || closed) return void inline(pending);
        let slot: Slot<T, R>;
        try {
          slot = pick();
        } catch {
          broken = true;
          return void inline(pending);
        }
        const id = nextId++;
        try {
          const { message, transfer } = opts.request(id, task);
          slot.tasks.set(id, pending);
          slot.worker.ref(); // in-flight work keeps the process alive until answered
          slot.worker.postMessage(message, transfer);
        } catch {
          slot.tasks.delete(id); // not cloneable: do it here
          void inline(pending);
        }
      });
    },
    async close() {
      closed = true;
      const all = slots.splice(0);
      for (const s of all) for (const p of s.tasks.values()) void inline(p);
      await Promise.all(all.map((s) => s.worker.terminate()));
    },
  };
}
