import type { KeyObject } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import type { CertificateIssuer, IssuedCertificate } from '../ca/issue.ts';
import type { IssuerConfig } from '../ca/issuers.ts';
import type { SctSource } from '../ca/sct-source.ts';
import { SigstackError, UnavailableError } from '../core/errors.ts';
import { serializeSct } from '../core/sct.ts';
import type { CaWorkerData } from './ca-worker-body.ts';

/**
 * Certificate issuance on worker threads. A certificate costs the token's signature check, the proof of
 * possession (key import and check), two certificate encodings and three signatures: on the event loop that
 * caps the CA at one core and stalls every other request meanwhile. Each worker runs a whole CertificateAuthority
 * (ca/issue.ts, unchanged) and asks the main thread only for the SCT, because the CT log (one SQLite writer, or
 * the HTTP client of a remote one) lives here. Requests go to the least loaded worker; workers start on first
 * use. A worker that cannot start or dies sends its requests, and every later one, to the CA on this thread:
 * slower, same answers. Only a CA whose key node:crypto holds can be shared; a PKCS#11 key stays on this thread.
 */
export type ToWorker =
  | { type: 'issue'; id: number; body: unknown; bearer?: string }
  | { type: 'sct'; id: number; ok: true; sct: Uint8Array }
  | { type: 'sct'; id: number; ok: false; unavailable: boolean; message: string };

export type FromWorker =
  | { type: 'sct'; id: number; chainDer: Buffer[]; tbsWithoutPoisonDer?: Buffer }
  | { type: 'issued'; id: number; ok: true; issued: IssuedCertificate }
  | { type: 'issued'; id: number; ok: false; status: number; code: string; message: string; headers: Record<string, string> };

interface Task { resolve: (c: IssuedCertificate) => void; reject: (e: unknown) => void; body: unknown; bearer?: string }

class Slot {
  readonly tasks = new Map<number, Task>();
  constructor(readonly worker: Worker) {}
}

export interface IssuingPool extends CertificateIssuer {
  close(): Promise<void>;
}

export function createIssuingPool(opts: {
  size: number;
  issuerConfig: IssuerConfig;
  intermediateKey: KeyObject;
  chainDer: Buffer[];
  sctSource: SctSource;
  /** Where requests go when no worker can take them. */
  inline: CertificateIssuer;
}): IssuingPool {
  const data: CaWorkerData = { issuerConfig: opts.issuerConfig, intermediateKey: opts.intermediateKey, chainDer: opts.chainDer };
  const slots: Slot[] = [];
  let broken = false;
  let closed = false;
  let nextId = 0;
  const inline = (t: Pick<Task, 'body' | 'bearer'>) => opts.inline.issue(t.body, t.bearer);

  function fail(slot: Slot): void {
    broken = true;
    if (slots.includes(slot)) slots.splice(slots.indexOf(slot), 1);
    for (const t of slot.tasks.values()) inline(t).then(t.resolve, t.reject);
    slot.tasks.clear();
    void slot.worker.terminate();
  }

  function answerSct(slot: Slot, msg: Extract<FromWorker, { type: 'sct' }>): void {
    const reply = (m: ToWorker) => { if (slots.includes(slot)) slot.worker.postMessage(m); };
    const own = msg.tbsWithoutPoisonDer ? { tbsWithoutPoisonDer: Buffer.from(msg.tbsWithoutPoisonDer) } : undefined;
    opts.sctSource.addPreChain(msg.chainDer.map((d) => Buffer.from(d)), own).then(
      (sct) => reply({ type: 'sct', id: msg.id, ok: true, sct: serializeSct(sct) }),
      (e: unknown) => reply({ type: 'sct', id: msg.id, ok: false, unavailable: e instanceof UnavailableError, message: (e as Error).message }),
    );
  }

  function spawn(): Slot {
    const worker = new Worker(new URL('./ca-worker.mjs', import.meta.url), { workerData: data });
    worker.unref();
    const slot = new Slot(worker);
    worker.on('message', (msg: FromWorker) => {
      if (msg.type === 'sct') return answerSct(slot, msg);
      const task = slot.tasks.get(msg.id);
      if (!task) return;
      slot.tasks.delete(msg.id);
      if (slot.tasks.size === 0) worker.unref();
      if (msg.ok) task.resolve(msg.issued);
      else task.reject(new SigstackError(msg.status, msg.code, msg.message, msg.headers));
    });
    worker.on('error', () => fail(slot));
    worker.on('exit', () => { if (slots.includes(slot)) fail(slot); });
    slots.push(slot);
    return slot;
  }

  function pick(): Slot {
    let best = slots[0];
    for (const s of slots) if (s.tasks.size < best!.tasks.size) best = s;
    if (!best || (best.tasks.size > 0 && slots.length < opts.size)) return spawn();
    return best;
  }

  return {
    issue(body, bearer) {
      if (broken || closed) return inline({ body, bearer });
      let slot: Slot;
      try {
        slot = pick();
      } catch {
        broken = true;
        return inline({ body, bearer });
      }
      return new Promise<IssuedCertificate>((resolve, reject) => {
        const id = nextId++;
        slot.tasks.set(id, { resolve, reject, body, bearer });
        slot.worker.ref(); // in-flight work keeps the process alive until answered
        try {
          slot.worker.postMessage({ type: 'issue', id, body, bearer } satisfies ToWorker);
        } catch {
          slot.tasks.delete(id); // not cloneable: cannot come from the JSON body parser, but be safe
          inline({ body, bearer }).then(resolve, reject);
        }
      });
    },
    async close() {
      closed = true;
      const all = slots.splice(0);
      for (const s of all) for (const t of s.tasks.values()) inline(t).then(t.resolve, t.reject);
      await Promise.all(all.map((s) => s.worker.terminate()));
    },
  };
}
