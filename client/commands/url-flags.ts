/**
 * The URL flags of the client commands (--url, --fulcio-url, --rekor-url) and the registry of image references,
 * checked when the command line is read, as `log fill` and `log audit` check theirs (client/log-http.ts
 * logBaseUrl): a value that is not a server's base URL is a usage error (exit 2) naming the flag, never
 * "Invalid URL" from the network code after the file was hashed or a certificate issued.
 */
import { logBaseUrl } from '../log-http.ts';

/**
 * What is wrong with `value` as the base URL given by `flag`, or undefined. The rules of logBaseUrl (a URL, no query
 * or fragment, not an API path), plus: http or https only, and no user name or password, which fetch refuses to
 * send ("Request cannot be constructed from a URL that includes credentials").
 */
export function serverUrlProblem(flag: string, value: string): string | undefined {
  // "localhost:3000" parses as a URL of the scheme "localhost": without "//" it is a host, not a URL
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return `${flag} "${value}" is not a URL (expected the server's base URL, e.g. http://127.0.0.1:3000)`;
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    // logBaseUrl says it is not a URL
  }
  if (url && url.protocol !== 'http:' && url.protocol !== 'https:') {
    return `${flag} ${value}: the server is reached over http or https, not ${url.protocol.replace(/:$/, '')}`;
  }
  if (url && (url.username || url.password)) {
    // the password is not echoed to the terminal (or a CI log)
    return `${flag} ${url.protocol}//***@${url.host}${url.pathname}: a URL holding a user name or password cannot be used; give the server's base URL without them`;
  }
  const checked = logBaseUrl(value);
  // logBaseUrl names its own flag, --url, first in each message
  return 'problem' in checked ? checked.problem.replace(/^--url\b/, flag) : undefined;
}

/** Every URL flag of `opts` that is set, checked; the first problem exits through `usage`. */
export function checkUrlFlags(opts: { url?: string; fulcioUrl?: string; rekorUrl?: string }, usage: (m: string) => never): void {
  const flags: [string | undefined, string][] = [[opts.url, '--url'], [opts.fulcioUrl, '--fulcio-url'], [opts.rekorUrl, '--rekor-url']];
  for (const [value, flag] of flags) {
    const problem = value === undefined ? undefined : serverUrlProblem(flag, value);
    if (problem) usage(problem);
  }
}

/**
 * The image reference, parsed, with a registry the URL parser takes: the reference grammar accepts any 5-digit
 * port, so `localhost:99999/app` would otherwise fail as "Invalid URL" when the registry is first asked.
 */
export async function checkImageReference(image: string, usage: (m: string) => never): Promise<void> {
  const { apiHost } = await import('../oci/reference.ts');
  const { registryOf } = await import('../oci/cli-options.ts');
  const registry = registryOf(image, usage);
  try {
    new URL(`https://${apiHost(registry)}/`);
  } catch {
    const port = /:(\d+)$/.exec(registry)?.[1];
    usage(`image reference ${image}: the registry ${registry} is not a host[:port] that can be reached${port && Number(port) > 65535 ? ` (port ${port} is above 65535)` : ''}`);
  }
}
