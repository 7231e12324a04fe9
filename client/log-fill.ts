import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { progressLine } from './log-audit-tree.ts';
import { fetchCause, logBaseUrl } from './log-http.ts';

/**
 * `sigstack log fill`: valid hashedrekord entries (one fresh P-256 key per 1,000 entries), `concurrency` POSTs at a
 * time. The first failure stops every worker; the error says how many entries were appended before it, since
 * those stay in the log.
 */

/** `usage` tells "you called me wrong" (exit 2) from "the log failed" (exit 1). */
export class FillError extends Error {
  constructor(message: string, readonly usage = false) {
    super(message);
  }
}

export interface FillOptions {
  url: string;
  count: number;
  concurrency: number;
  /** Per request: a server that accepts the connection but never answers must not hang the fill. */
  timeoutMs?: number;
  progress?: (line: string) => void;
}

const NOT_A_LOG = 'is the URL the base URL of a Sigstack (Rekor) log, as `sigstack serve` prints it?';

export async function fill(o: FillOptions): Promise<{ created: number; seconds: number }> {
  const parsed = logBaseUrl(o.url);
  if ('problem' in parsed) throw new FillError(parsed.problem, true);
  const url = `${parsed.base}/api/v1/log/entries`;
  const timeoutMs = o.timeoutMs ?? 15_000;
  const progress = o.progress ?? ((line: string) => process.stderr.write(`${line}\n`));
  let next = 0;
  let created = 0;
  let failure: FillError | undefined;
  let key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  let pem = '';
  const started = performance.now();
  let lastReport = started;

  const append = async (i: number): Promise<void> => {
    if (i % 1000 === 0 || !pem) {
      if (i % 1000 === 0 && i > 0) key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      pem = Buffer.from(key.publicKey.export({ type: 'spki', format: 'pem' }) as string).toString('base64');
    }
    const data = randomBytes(32);
    const body = JSON.stringify({
      apiVersion: '0.0.1', kind: 'hashedrekord',
      spec: { signature: { content: sign('sha256', data, key.privateKey).toString('base64'), publicKey: { content: pem } }, data: { hash: { algorithm: 'sha256', value: createHash('sha256').update(data).digest('hex') } } },
    });
    let res: Response;
    let text: string;
    try {
      res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body, redirect: 'error', signal: AbortSignal.timeout(timeoutMs) });
      text = await res.text();
    } catch (e) {
      throw new FillError(`cannot reach ${url} (${fetchCause(e, timeoutMs)})`);
    }
    if (res.status === 201) return;
    if (res.status === 404 || res.status === 405 || res.ok) {
      throw new FillError(`${url} answered ${res.status}, not 201 Created with the new entry: ${NOT_A_LOG}`, created === 0);
    }
    let message = '';
    try {
      message = String((JSON.parse(text) as { message?: unknown }).message ?? '');
    } catch { /* not a Rekor error body: the status alone */ }
    throw new FillError(`${url} refused entry ${i} with ${res.status}${message ? `: ${message.slice(0, 300)}` : ''}`);
  };

  await Promise.all(Array.from({ length: o.concurrency }, async () => {
    while (next < o.count && !failure) {
      const i = next++;
      try {
        await append(i);
      } catch (e) {
        failure ??= e instanceof FillError ? e : new FillError((e as Error).message);
        return;
      }
      created++;
      if (performance.now() - lastReport > 1000) {
        lastReport = performance.now();
        progress(progressLine(created, o.count, started));
      }
    }
  }));
  if (failure) {
    // the other workers' requests in flight have settled: `created` is what the log holds from this run
    throw new FillError(`${failure.message} (${created} of ${o.count} entries were appended before it)`, failure.usage);
  }
  return { created, seconds: (performance.now() - started) / 1000 };
}
