/**
 * Registry credentials for the webhook, looked up through docker's config.json and its credential helpers.
 * A helper is a child process: it runs at most once per registry at a time (concurrent images of one registry
 * wait for the same run), its answer is kept for a minute, and its failure for a few seconds, so a broken or
 * slow helper costs one run per registry per few seconds, never one per image of every admission request.
 */
import { VerdictCache } from './verdict-cache.ts';

export type CredentialsLookup<T> = (registry: string) => Promise<T>;

export function cachedCredentials<T>(lookup: CredentialsLookup<T>, opts: { ttlMs?: number; failureTtlMs?: number; now?: () => number } = {}): CredentialsLookup<T> {
  const now = opts.now ?? Date.now;
  const ok = new VerdictCache<{ value: T }>(256, opts.ttlMs ?? 60_000, now); // boxed: "no credentials" is an answer too
  const failed = new VerdictCache<{ error: unknown }>(256, opts.failureTtlMs ?? 5_000, now);
  const running = new Map<string, Promise<T>>();
  return async (registry) => {
    const hit = ok.get(registry);
    if (hit) return hit.value;
    const failure = failed.get(registry);
    if (failure) throw failure.error;
    let run = running.get(registry);
    if (!run) {
      run = lookup(registry).then(
        (value) => {
          ok.set(registry, { value });
          return value;
        },
        (error: unknown) => {
          failed.set(registry, { error });
          throw error;
        },
      ).finally(() => running.delete(registry));
      running.set(registry, run);
    }
    return run;
  };
}
