/**
 * `work`, unless `ms` pass first: then whatever `onExpiry` returns, or the error it throws. This, not an abort
 * signal, is what bounds a read from a server that may stall: aborting a stalled body did not always end the
 * read (see client/log-audit-http.ts). The timer is cleared either way, and a rejection of `work` after the
 * deadline won is not left unhandled.
 */
export function withDeadline<T>(work: Promise<T>, ms: number, onExpiry: () => T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<T>((resolve, reject) => {
    timer = setTimeout(() => {
      try {
        resolve(onExpiry());
      } catch (e) {
        reject(e);
      }
    }, ms);
  });
  work.catch(() => undefined);
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}
