/**
 * The HTTP side of the registry client: bounded body reads and the registry auth handshake.
 *
 * Every body is read with a ceiling, checked against Content-Length first and then while streaming, so a
 * registry cannot make us hold more than we asked for (GHSA-88jx-383q-w4qc). Auth follows the distribution
 * token spec: a 401 with `WWW-Authenticate: Bearer realm=..,service=..,scope=..` is answered by fetching a token
 * from the realm (with basic credentials when we have them) and retrying once; `Basic` is answered with the
 * credentials themselves. Tokens are kept per scope for the life of the client.
 */
import type { Credentials } from './credentials.ts';
import { readCapped } from '../../core/read-capped.ts';

export class RegistryError extends Error {
  constructor(message: string, readonly status?: number) {
    super(message);
    this.name = 'RegistryError';
  }
}

/** How long one registry request may take, its body included (as the CA and log requests of sign.ts). */
export const REGISTRY_TIMEOUT_MS = 15_000;

/** Why a request failed, in words: a timeout says so; a network error gives its cause (ECONNREFUSED...). */
export function requestFailure(e: unknown): string {
  if ((e as Error)?.name === 'TimeoutError') return `no answer within ${REGISTRY_TIMEOUT_MS / 1000} s`;
  return (e as { cause?: { message?: string } }).cause?.message ?? (e as Error).message;
}

export async function readLimited(res: Response, max: number, what: string): Promise<Buffer> {
  return readCapped(res, max, {
    tooLarge: (declared) => new RegistryError(declared !== undefined ? `${what}: ${declared} bytes is more than the limit of ${max}` : `${what}: more than the limit of ${max} bytes`),
    // The request's timeout signal also ends a body that stops arriving.
    cut: (e) => new RegistryError(`${what}: the registry stopped answering (${requestFailure(e)})`),
  });
}

interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** `Bearer realm="https://auth",service="registry",scope="repository:a:pull"` -> scheme + params. */
export function parseChallenge(header: string): Challenge | undefined {
  const m = /^\s*([A-Za-z]+)\s*(.*)$/.exec(header);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  const re = /([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*,?\s*/g;
  let p: RegExpExecArray | null;
  while ((p = re.exec(m[2]!)) !== null) {
    if (p[0] === '') break;
    params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3]!;
  }
  return { scheme: m[1]!.toLowerCase(), params };
}

const MAX_TOKEN_RESPONSE = 1024 * 1024;

export interface AuthOptions {
  credentials?: Credentials;
  fetch: typeof fetch;
}

export class RegistryAuth {
  readonly #tokens = new Map<string, string>();
  #basic = false;

  constructor(private readonly opts: AuthOptions) {}

  /** The Authorization header to send for `scope`, if one is known. */
  header(scope: string): string | undefined {
    const token = this.#tokens.get(scope);
    if (token) return `Bearer ${token}`;
    if (this.#basic && this.opts.credentials) return basicHeader(this.opts.credentials);
    return undefined;
  }

  /** Answers a 401; returns false when there is nothing more to try. */
  async answer(res: Response, scope: string): Promise<boolean> {
    const header = res.headers.get('www-authenticate');
    const challenge = header ? parseChallenge(header) : undefined;
    if (!challenge) return false;
    if (challenge.scheme === 'basic') {
      if (!this.opts.credentials || this.#basic) return false;
      this.#basic = true;
      return true;
    }
    if (challenge.scheme !== 'bearer' || this.#tokens.has(scope)) return false;
    const realm = challenge.params.realm;
    if (!realm) throw new RegistryError('the registry asked for a bearer token without saying where to get it (no realm)');
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new RegistryError(`the token realm ${realm.slice(0, 200)} is not a URL`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new RegistryError(`the token realm ${url.protocol} is not http(s)`);
    if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
    url.searchParams.set('scope', scope);
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (this.opts.credentials) headers.Authorization = basicHeader(this.opts.credentials);
    let tokenRes: Response;
    try {
      tokenRes = await this.opts.fetch(url, { headers, redirect: 'error', signal: AbortSignal.timeout(REGISTRY_TIMEOUT_MS) });
    } catch (e) {
      throw new RegistryError(`cannot reach the token service ${url.origin} (${requestFailure(e)})`);
    }
    const body = await readLimited(tokenRes, MAX_TOKEN_RESPONSE, 'token response');
    if (!tokenRes.ok) throw new RegistryError(`the token service ${url.origin} said ${tokenRes.status}${tokenRes.status === 401 ? ' (wrong or missing registry credentials)' : ''}`, tokenRes.status);
    let json: { token?: unknown; access_token?: unknown };
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      throw new RegistryError('the token service answered with something that is not JSON');
    }
    const token = typeof json?.token === 'string' && json.token !== '' ? json.token : json?.access_token;
    if (typeof token !== 'string' || token === '' || /[\r\n]/.test(token)) throw new RegistryError('the token service answered without a token');
    this.#tokens.set(scope, token);
    return true;
  }
}

function basicHeader(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
}
