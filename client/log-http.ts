/**
 * What `log audit` and `log fill` share about reaching a log: the --url check and fetch errors that name the URL
 * and the cause (undici's own message is a bare "fetch failed").
 */

/** The reason under a failed fetch: "connect ECONNREFUSED 127.0.0.1:9", "timed out after 15 s", ... */
export function fetchCause(e: unknown, timeoutMs: number): string {
  const err = e as { name?: string; message?: string; cause?: { message?: string; code?: string } };
  if (err.name === 'TimeoutError' || err.name === 'AbortError') return `no answer within ${timeoutMs / 1000} s`;
  return err.cause?.message || err.cause?.code || err.message || String(e);
}

/**
 * The log's base URL from --url, or a message saying what is wrong with it. An API path (…/api/v1/log) is the
 * usual mistake: every route is appended to the base, so it would end up as …/api/v1/log/api/v1/log/….
 */
export function logBaseUrl(value: string): { base: string } | { problem: string } {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return { problem: `--url "${value}" is not a URL (expected the server's base URL, e.g. http://127.0.0.1:3000)` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { problem: `--url ${value}: the log is reached over http or https, not ${url.protocol.replace(/:$/, '')}` };
  if (url.search || url.hash) return { problem: `--url ${value}: give the server's base URL, with no query or fragment` };
  const api = /\/(api\/v\d+|ct\/v1|sigstack\/v1)(\/|$)/.exec(url.pathname);
  if (api) {
    const base = `${url.origin}${url.pathname.slice(0, api.index)}`.replace(/\/+$/, '');
    return { problem: `--url ${value} is an API path: give the server's base URL (${base}), the one \`sigstack serve\` prints` };
  }
  return { base: value.replace(/\/+$/, '') };
}
