import type { KeyObject } from 'node:crypto';
import type { CertificateIssuer, IssuedCertificate } from '../ca/issue.ts';
import type { IssuerConfig } from '../ca/issuers.ts';
import type { SctSource } from '../ca/sct-source.ts';
import { UnavailableError } from '../core/errors.ts';
import { fromWorkerError, type WorkerError } from '../core/worker-error.ts';
import { serializeSct } from '../core/sct.ts';
import { createWorkerPool } from '../core/worker-pool.ts';
import type { CaWorkerData } from './ca-worker-body.ts';

/**
 * Certificate issuance on worker threads. A certificate costs the token's signature check, the proof of
 * possession (key import and check), two certificate encodings and three signatures: on the event loop that
 * caps the CA at one core and stalls every other request meanwhile. Each worker runs a whole CertificateAuthority
 * (ca/issue.ts, unchanged) and asks the main thread only for the SCT, because the CT log (one SQLite writer, or
 * the HTTP client of a remote one) lives here. The pool (core/worker-pool.ts) sends a request to the CA on this
 * thread when no worker can take it. Only a CA whose key node:crypto holds can be shared; a PKCS#11 key stays
 * on this thread.
 */
export type ToWorker =
  | { type: 'issue'; id: number; body: unknown; bearer?: string }
  | { type: 'sct'; id: number; ok: true; sct: Uint8Array }
  | { type: 'sct'; id: number; ok: false; unavailable: boolean; message: string };

export type FromWorker =
  | { type: 'sct'; id: number; chainDer: Buffer[]; tbsWithoutPoisonDer?: Buffer }
  | { type: 'issued'; id: number; ok: true; issued: IssuedCertificate }
  | { type: 'issued'; id: number; ok: false; error: WorkerError };

export interface IssuingPool extends CertificateIssuer {
  close(): Promise<void>;
}

interface IssueTask { body: unknown; bearer?: string }

export function createIssuingPool(opts: {
  size: number;
  issuerConfig: IssuerConfig;
  intermediateKey: KeyObject;
  chainDer: Buffer[];
  sctSource: SctSource;
  /** Where requests go when no worker can take them. */
  inline: CertificateIssuer;
}): IssuingPool {
  /** A worker asks for the SCT of its precertificate: this thread's SctSource answers, success or failure. */
  const answerSct = (msg: Extract<FromWorker, { type: 'sct' }>, reply: (m: ToWorker) => void) => {
    const own = msg.tbsWithoutPoisonDer ? { tbsWithoutPoisonDer: Buffer.from(msg.tbsWithoutPoisonDer) } : undefined;
    opts.sctSource.addPreChain(msg.chainDer.map((d) => Buffer.from(d)), own).then(
      (sct) => reply({ type: 'sct', id: msg.id, ok: true, sct: serializeSct(sct) }),
      (e: unknown) => reply({ type: 'sct', id: msg.id, ok: false, unavailable: e instanceof UnavailableError, message: (e as Error).message }),
    );
  };
  const pool = createWorkerPool<IssueTask, IssuedCertificate>({
    url: new URL('./ca-worker.mjs', import.meta.url),
    size: opts.size,
    workerData: { issuerConfig: opts.issuerConfig, intermediateKey: opts.intermediateKey, chainDer: opts.chainDer } satisfies CaWorkerData,
    inline: (t) => opts.inline.issue(t.body, t.bearer),
    request: (id, t) => ({ message: { type: 'issue', id, body: t.body, bearer: t.bearer } satisfies ToWorker }),
    outcome(message) {
      const msg = message as FromWorker;
      if (msg.type !== 'issued') return undefined;
      return msg.ok
        ? { id: msg.id, ok: true, value: msg.issued }
        : { id: msg.id, ok: false, error: fromWorkerError(msg.error, 'certificate worker') };
    },
    onOther: (message, reply) => answerSct(message as Extract<FromWorker, { type: 'sct' }>, reply),
  });
  return { issue: (body, bearer) => pool.run({ body, bearer }), close: () => pool.close() };
}
