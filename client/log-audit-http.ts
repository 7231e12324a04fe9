/**
 * How `log audit` reads a log it does not trust: every answer is bounded in time and in size before it is used.
 * Each read (headers and body) is raced against its own timer, bodies are read as streams and cut at a limit
 * known in advance (a hash tile is exactly its width x 32 bytes), and compression is refused rather than
 * inflated (a 1 MB gzip answer can hold 1 GiB of zeros).
 */
import { Agent, fetch as undiciFetch } from 'undici';
import { readCapped } from '../core/read-capped.ts';
import { AuditFailure, AuditInputError, AuditUnavailable } from './log-audit-errors.ts';
import { fetchCause } from './log-http.ts';
import { withDeadline } from '../core/deadline.ts';

export const TIMEOUT_MS = 60_000;
/** Checkpoints (log/checkpoint.ts MAX_NOTE_LENGTH) and the small JSON answers (log info, proofs). */
export const MAX_SMALL = 1 << 20;
const NOT_A_LOG = 'is the URL the base URL of a Sigstack log, as `sigstack serve` prints it?';

export interface ReadOptions {
  /** The first requests made: a 404 there means the URL is not a Sigstack log, unless this log was audited before. */
  discovery?: boolean;
  /** A checkpoint of this log was saved: the URL is a log, so a refusal is the log's doing, not the caller's. */
  known?: boolean;
}

export type Read = (url: string, max: number, opts?: ReadOptions) => Promise<Buffer>;

/**
 * A reader with its own connection pool, closed by `close()`: undici keeps the socket of an aborted request open
 * until the server answers, so a log that stalls a body would otherwise keep the process alive after the audit.
 */
export function createReader(timeoutMs = TIMEOUT_MS): { read: Read; close(): Promise<void> } {
  const pool = new Agent({ connect: { timeout: timeoutMs } });
  return {
    read: (url, max, opts) => readWith(pool, timeoutMs, url, max, opts),
    close: () => pool.destroy().catch(() => undefined),
  };
}

/**
 * One read, raced against its own timer (core/deadline.ts). The race is what bounds it, not the abort signal:
 * against a reviewer's log that stalled a body mid-answer, aborting the controller after 10 s did not end the read
 * (after 2 s it did), and the cause was not found (the same fetch in isolation, even under forced garbage
 * collection, aborts on time). The request left behind is closed with the reader's pool.
 */
function readWith(pool: Agent, timeoutMs: number, url: string, max: number, opts: ReadOptions = {}): Promise<Buffer> {
  const controller = new AbortController();
  let stage = 'cannot reach';
  return withDeadline(readBody(pool, controller, url, max, opts, (s) => (stage = s)), timeoutMs, () => {
    controller.abort(new Error('timeout'));
    throw new AuditUnavailable(stage === 'cannot reach' ? `cannot reach ${url} (no answer within ${timeoutMs / 1000} s)` : `${url}: the answer was cut (not read within ${timeoutMs / 1000} s)`);
  });
}

async function readBody(pool: Agent, controller: AbortController, url: string, max: number, opts: ReadOptions, at: (stage: string) => void): Promise<Buffer> {
  let res: Response;
  try {
    res = await undiciFetch(url, { redirect: 'error', signal: controller.signal, headers: { 'Accept-Encoding': 'identity' }, dispatcher: pool }) as unknown as Response;
  } catch (e) {
    throw new AuditUnavailable(`cannot reach ${url} (${fetchCause(e, TIMEOUT_MS)})`);
  }
  at('body');
  if (!res.ok) {
    await res.body?.cancel().catch(() => undefined);
    if (opts.discovery && !opts.known && (res.status === 404 || res.status === 405)) throw new AuditInputError(`${url} said ${res.status}: ${NOT_A_LOG}`);
    throw new AuditUnavailable(`${url} said ${res.status}`);
  }
  const encoding = res.headers.get('content-encoding');
  if (encoding !== null && encoding.trim().toLowerCase() !== 'identity') {
    await res.body?.cancel().catch(() => undefined);
    throw new AuditFailure(`${url} answered compressed (Content-Encoding: ${encoding.slice(0, 40)}) though identity was asked for`);
  }
  return readCapped(res, max, {
    tooLarge: (declared) => {
      controller.abort(new Error('too long'));
      return new AuditFailure(declared !== undefined ? `${url} answered ${declared} bytes, more than the ${max} its request allows` : `${url} answered more than the ${max} bytes its request allows`);
    },
    cut: (e) => new AuditUnavailable(`${url}: the answer was cut (${fetchCause(e, TIMEOUT_MS)})`),
  });
}

/** A small JSON answer; `bad` words the error when it is not JSON (an AuditFailure or AuditInputError by context). */
export async function readJson(readFn: Read, url: string, bad: (message: string) => Error, opts?: ReadOptions): Promise<unknown> {
  const body = await readFn(url, MAX_SMALL, opts);
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw bad(`${url} did not answer JSON`);
  }
}
