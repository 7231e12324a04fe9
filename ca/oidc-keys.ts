import { createLocalJWKSet, type JSONWebKeySet } from 'jose';
import { Agent, fetch as undiciFetch } from 'undici';
import { UnavailableError } from '../core/errors.ts';
import { readCapped } from '../core/read-capped.ts';
import { withDeadline } from '../core/deadline.ts';

/**
 * Fetches and caches an OIDC issuer's discovery document and JWKS. Only issuers that the configuration
 * matched ever reach here, so no token can make the CA fetch an arbitrary URL. Redirects to another origin are
 * refused (GHSA-f5mr-q85p-6hh6: a cross-host redirect let an issuer's host point Fulcio at attacker keys or at
 * internal addresses); responses are size- and time-limited.
 */

/** The asymmetric JWS algorithms go-oidc accepts. Never HS* (the public key would become an HMAC secret) or none. */
export const ASYMMETRIC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512', 'EdDSA'] as const;

export interface IssuerKeys {
  /** jose key selector over the issuer's JWKS. */
  keys: ReturnType<typeof createLocalJWKSet>;
  /** Allowed algorithms: what discovery advertises, intersected with ASYMMETRIC_ALGORITHMS; RS256 if none (as go-oidc). */
  algorithms: string[];
  fetchedAt: number;
}

export interface OidcKeyCacheOptions {
  fetch?: typeof fetch;
  /** Milliseconds since the epoch. */
  clock?: () => number;
  /** Per HTTP request; Fulcio uses 10 s for discovery. */
  timeoutMs?: number;
  /** How long a discovery document + JWKS is reused before it is fetched again. */
  maxAgeMs?: number;
  /** Minimum time between two forced refreshes of one issuer (an unknown `kid` triggers one). */
  refreshCooldownMs?: number;
  /** Cap on a discovery document or JWKS body. */
  maxBytes?: number;
  /** Issuers kept (meta issuers can name many); least recently used go first. Fulcio keeps 100. */
  maxIssuers?: number;
}

const MAX_REDIRECTS = 3;
const MAX_CONCURRENT_FETCHES = 32;
const FAILURE_TTL_MS = 30_000;

/** Per-issuer sources: a static JWKS (no network at all) or a private TLS CA for the issuer's HTTPS. */
export interface IssuerKeySource {
  jwks?: JSONWebKeySet;
  caCertPem?: string;
}

/** Algorithms a static JWKS allows: what its keys declare, else every asymmetric one (jose matches keys by type). */
function staticAlgorithms(jwks: JSONWebKeySet): string[] {
  const declared = jwks.keys.map((k) => k.alg).filter((a): a is string => typeof a === 'string');
  const allowed = (ASYMMETRIC_ALGORITHMS as readonly string[]).filter((a) => declared.includes(a));
  return declared.length > 0 ? allowed : [...ASYMMETRIC_ALGORITHMS];
}

export class OidcKeyCache {
  private readonly fetchFn: typeof fetch;
  private readonly customFetch: boolean;
  private readonly clock: () => number;
  private readonly timeoutMs: number;
  private readonly maxAgeMs: number;
  private readonly refreshCooldownMs: number;
  private readonly maxBytes: number;
  private readonly maxIssuers: number;
  private readonly cache = new Map<string, IssuerKeys>();
  private readonly inFlight = new Map<string, Promise<IssuerKeys>>();
  /** Issuers whose last fetch failed, and why (least recent first). */
  private readonly failures = new Map<string, { at: number; error: unknown }>();
  /** One TLS agent per private CA bundle, reused across fetches. */
  private readonly agents = new Map<string, Agent>();

  constructor(opts: OidcKeyCacheOptions = {}) {
    this.fetchFn = opts.fetch ?? fetch;
    this.customFetch = opts.fetch !== undefined;
    this.clock = opts.clock ?? Date.now;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.maxAgeMs = opts.maxAgeMs ?? 10 * 60_000;
    this.refreshCooldownMs = opts.refreshCooldownMs ?? 30_000;
    this.maxBytes = opts.maxBytes ?? 1024 * 1024;
    this.maxIssuers = opts.maxIssuers ?? 100;
  }

  /** The issuer's keys, from cache when fresh. Concurrent callers share one fetch. */
  get(issuerUrl: string, source: IssuerKeySource = {}): Promise<IssuerKeys> {
    if (source.jwks) return Promise.resolve(this.staticKeys(issuerUrl, source.jwks));
    const cached = this.cache.get(issuerUrl);
    if (cached && this.clock() - cached.fetchedAt < this.maxAgeMs) {
      this.cache.delete(issuerUrl); // re-insert: Map order is our LRU order
      this.cache.set(issuerUrl, cached);
      return Promise.resolve(cached);
    }
    return this.load(issuerUrl, source);
  }

  /**
   * Keyed by the configured JWKS itself, not by the token's `iss`: a meta issuer matches any number of issuer URLs,
   * and each forged one would otherwise add an entry, before any signature was checked.
   */
  private readonly staticCache = new WeakMap<JSONWebKeySet, IssuerKeys>();

  private staticKeys(issuerUrl: string, jwks: JSONWebKeySet): IssuerKeys {
    const cached = this.staticCache.get(jwks);
    if (cached) return cached;
    let keys: IssuerKeys['keys'];
    try {
      keys = createLocalJWKSet(jwks);
    } catch (err) {
      throw new UnavailableError(`static JWKS of ${issuerUrl} is invalid: ${(err as Error).message}`);
    }
    const entry: IssuerKeys = { keys, algorithms: staticAlgorithms(jwks), fetchedAt: this.clock() };
    this.staticCache.set(jwks, entry);
    return entry;
  }

  /**
   * Fetches again when the cached keys did not contain the token's key (key rotation), at most once per
   * cooldown so that tokens with made-up `kid`s cannot turn the CA into a request amplifier.
   * Returns undefined when the cooldown forbids a refresh.
   */
  async refresh(issuerUrl: string, source: IssuerKeySource = {}): Promise<IssuerKeys | undefined> {
    if (source.jwks) return undefined; // a static JWKS has nothing newer to offer
    const cached = this.cache.get(issuerUrl);
    if (cached && this.clock() - cached.fetchedAt < this.refreshCooldownMs) return undefined;
    return this.load(issuerUrl, source);
  }

  /**
   * One fetch per issuer at a time, at most MAX_CONCURRENT_FETCHES issuers at once (a meta issuer pattern lets any
   * unsigned token name a new issuer host: beyond the cap it is a 503, not another outbound connection), and a
   * failure is remembered for FAILURE_TTL_MS, so a token naming an issuer that does not answer costs one fetch.
   */
  private load(issuerUrl: string, source: IssuerKeySource): Promise<IssuerKeys> {
    let pending = this.inFlight.get(issuerUrl);
    if (pending) return pending;
    const failed = this.failures.get(issuerUrl);
    if (failed && this.clock() - failed.at < FAILURE_TTL_MS) return Promise.reject(failed.error);
    if (this.inFlight.size >= MAX_CONCURRENT_FETCHES) return Promise.reject(new UnavailableError(`too many OIDC issuers are being fetched at once; try ${issuerUrl} again shortly`));
    pending = withDeadline(this.fetchKeys(issuerUrl, source), 3 * this.timeoutMs, () => {
      throw new UnavailableError(`OIDC issuer ${issuerUrl} did not answer within ${(3 * this.timeoutMs) / 1000} s`);
    })
      .then((keys) => {
        this.failures.delete(issuerUrl);
        return keys;
      }, (error: unknown) => {
        this.failures.delete(issuerUrl);
        this.failures.set(issuerUrl, { at: this.clock(), error });
        while (this.failures.size > this.maxIssuers) this.failures.delete(this.failures.keys().next().value!);
        throw error;
      })
      .finally(() => this.inFlight.delete(issuerUrl));
    this.inFlight.set(issuerUrl, pending);
    return pending;
  }

  private async fetchKeys(issuerUrl: string, source: IssuerKeySource): Promise<IssuerKeys> {
    const discoveryUrl = `${issuerUrl.replace(/\/$/, '')}/.well-known/openid-configuration`;
    const discovery = await this.getJson(discoveryUrl, issuerUrl, source.caCertPem);
    // OIDC Discovery 1.0 section 4.3: the document must name exactly the issuer it was fetched for.
    if (discovery.issuer !== issuerUrl) {
      throw new UnavailableError(`OIDC discovery for ${issuerUrl} names a different issuer (${String(discovery.issuer)})`);
    }
    if (typeof discovery.jwks_uri !== 'string') throw new UnavailableError(`OIDC discovery for ${issuerUrl} has no jwks_uri`);
    const jwks = await this.getJson(discovery.jwks_uri, issuerUrl, source.caCertPem);
    let keys: IssuerKeys['keys'];
    try {
      keys = createLocalJWKSet(jwks as unknown as JSONWebKeySet);
    } catch (err) {
      throw new UnavailableError(`JWKS of ${issuerUrl} is invalid: ${(err as Error).message}`);
    }
    const advertised = Array.isArray(discovery.id_token_signing_alg_values_supported) ? discovery.id_token_signing_alg_values_supported : [];
    const algorithms = (ASYMMETRIC_ALGORITHMS as readonly string[]).filter((a) => advertised.includes(a));
    const entry: IssuerKeys = { keys, algorithms: algorithms.length > 0 ? algorithms : ['RS256'], fetchedAt: this.clock() };
    this.cache.delete(issuerUrl);
    this.cache.set(issuerUrl, entry);
    while (this.cache.size > this.maxIssuers) this.cache.delete(this.cache.keys().next().value!);
    return entry;
  }

  /** GET a JSON object, following redirects only within the same origin. */
  /**
   * With a private CA, requests go through undici's fetch with an Agent that trusts exactly that CA (Node's
   * global fetch cannot take one per request); otherwise through the configured fetch.
   */
  private fetchFor(caCertPem: string | undefined): (url: URL, init: RequestInit) => Promise<Response> {
    if (this.customFetch && !caCertPem) return (url, init) => this.fetchFn(url, init);
    const agentKey = caCertPem ?? '';
    let agent = this.agents.get(agentKey);
    if (!agent) {
      // undici's own header and body timers close a stalled socket even if the abort signal does not end the
      // body (log audit saw one case it did not, cause unknown); load() also races each fetch against a timer.
      const timeouts = { headersTimeout: this.timeoutMs, bodyTimeout: this.timeoutMs };
      agent = new Agent({ ...timeouts, connect: caCertPem ? { ca: caCertPem, timeout: this.timeoutMs } : { timeout: this.timeoutMs } });
      this.agents.set(agentKey, agent);
    }
    const dispatcher = agent;
    return (url, init) => undiciFetch(url, { ...(init as object), dispatcher }) as unknown as Promise<Response>;
  }

  private async getJson(url: string, issuerUrl: string, caCertPem?: string): Promise<Record<string, unknown>> {
    const doFetch = this.fetchFor(caCertPem);
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      throw new UnavailableError(`OIDC issuer ${issuerUrl} gave an invalid URL`);
    }
    if (target.protocol !== 'https:' && target.protocol !== 'http:') {
      throw new UnavailableError(`OIDC issuer ${issuerUrl} gave a non-http(s) URL`);
    }
    for (let hop = 0; ; hop++) {
      let res: Response;
      try {
        res = await doFetch(target, {
          redirect: 'manual',
          headers: { accept: 'application/json' },
          signal: AbortSignal.timeout(this.timeoutMs),
        });
      } catch (err) {
        throw new UnavailableError(`OIDC issuer ${issuerUrl} is unreachable: ${(err as Error).message}`);
      }
      if (res.status >= 300 && res.status < 400) {
        await res.body?.cancel();
        const location = res.headers.get('location');
        let next: URL | undefined;
        try {
          next = location ? new URL(location, target) : undefined;
        } catch {
          next = undefined;
        }
        if (!next || next.origin !== target.origin) {
          throw new UnavailableError(`OIDC issuer ${issuerUrl}: redirect from ${target.host} to another host refused`);
        }
        if (hop >= MAX_REDIRECTS) throw new UnavailableError(`OIDC issuer ${issuerUrl}: too many redirects`);
        target = next;
        continue;
      }
      if (res.status !== 200) {
        await res.body?.cancel();
        throw new UnavailableError(`OIDC issuer ${issuerUrl} answered ${res.status} for ${target.pathname}`);
      }
      const text = await this.readBody(res, issuerUrl);
      let doc: unknown;
      try {
        doc = JSON.parse(text);
      } catch {
        throw new UnavailableError(`OIDC issuer ${issuerUrl} sent invalid JSON from ${target.pathname}`);
      }
      if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
        throw new UnavailableError(`OIDC issuer ${issuerUrl} sent a non-object from ${target.pathname}`);
      }
      return doc as Record<string, unknown>;
    }
  }

  private async readBody(res: Response, issuerUrl: string): Promise<string> {
    const body = await readCapped(res, this.maxBytes, {
      tooLarge: () => new UnavailableError(`OIDC issuer ${issuerUrl} sent a response over ${this.maxBytes} bytes`),
      cut: (err) => new UnavailableError(`OIDC issuer ${issuerUrl}: reading the response failed: ${(err as Error).message}`),
    });
    return body.toString('utf8');
  }
}
