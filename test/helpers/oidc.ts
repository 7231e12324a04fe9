import { createHmac, generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, SignJWT, type JWK } from 'jose';

/**
 * An in-test OIDC identity provider: its own key pair, a discovery document and a JWKS served over node:http
 * on 127.0.0.1 at an ephemeral port, and `mint()` to sign ID tokens. Options let it misbehave (bad signatures,
 * `alg: none`, HS256 keyed with the public key, redirects, key rotation) so tests can prove the CA refuses.
 */

export type IssuerKeyAlgorithm = 'ES256' | 'RS256';

export interface OidcIssuerOptions {
  /** Signing algorithm and so key type; ES256 by default. */
  algorithm?: IssuerKeyAlgorithm;
  /** Path of the issuer under the server root, e.g. `/tenants/acme`; none by default. */
  path?: string;
  /** Host written in the issuer URL: `127.0.0.1` (default) or `localhost` (both reach the same server). */
  host?: '127.0.0.1' | 'localhost';
  /** Serve the JWK without its `alg` member (`alg` is optional in RFC 7517 and many issuers leave it out); false by default. */
  omitJwkAlg?: boolean;
}

export interface MintOptions {
  /** Sign with the issuer's key (default), an unrelated key under the same `kid`, HS256 keyed with the issuer's public key PEM (algorithm confusion), or not at all (`alg: none`). */
  signWith?: 'issuer' | 'stranger' | 'hs256-public-key' | 'none';
  /** `kid` header; the issuer's by default, `null` to leave it out. */
  kid?: string | null;
  /** Extra protected header parameters. */
  header?: Record<string, unknown>;
}

export interface OidcIssuer {
  /** The issuer URL (`iss`), e.g. `http://127.0.0.1:41234`. */
  issuer: string;
  /** Every request the server received, as `METHOD /path`, in order. */
  requests: string[];
  /**
   * Signs an ID token. Defaults: iss = this issuer, aud 'sigstore', sub 'test-subject', iat = nbf = now,
   * exp = now + 5 minutes; `claims` override them, and a claim given as `undefined` is left out.
   */
  mint(claims?: Record<string, unknown>, opts?: MintOptions): Promise<string>;
  /** Make discovery answer 302 to `location` (undefined: behave again). */
  redirectDiscoveryTo(location: string | undefined): void;
  /** Merge `patch` into the discovery document (undefined: restore). */
  patchDiscovery(patch: Record<string, unknown> | undefined): void;
  /** Replace the signing key (new `kid`); the JWKS serves only the new key. */
  rotateKey(): Promise<void>;
  close(): Promise<void>;
}

interface KeyState {
  privateKey: KeyObject;
  publicKey: KeyObject;
  kid: string;
  jwk: JWK;
}

async function newKey(algorithm: IssuerKeyAlgorithm, omitAlg = false): Promise<KeyState> {
  const { privateKey, publicKey } = algorithm === 'ES256'
    ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
    : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = randomUUID();
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid, ...(omitAlg ? {} : { alg: algorithm }), use: 'sig' };
  return { privateKey, publicKey, kid, jwk };
}

function b64url(data: string | Buffer): string {
  return Buffer.from(data).toString('base64url');
}

export async function startOidcIssuer(options: OidcIssuerOptions = {}): Promise<OidcIssuer> {
  const algorithm = options.algorithm ?? 'ES256';
  const path = (options.path ?? '').replace(/\/$/, '');
  const omitAlg = options.omitJwkAlg ?? false;
  let key = await newKey(algorithm, omitAlg);
  const stranger = await newKey(algorithm, omitAlg);
  const requests: string[] = [];
  let redirect: string | undefined;
  let patch: Record<string, unknown> | undefined;
  let issuer = '';

  const server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.url === `${path}/.well-known/openid-configuration`) {
      if (redirect) {
        res.writeHead(302, { location: redirect });
        res.end();
        return;
      }
      send(200, {
        issuer,
        jwks_uri: `${issuer}/jwks`,
        authorization_endpoint: `${issuer}/auth`,
        token_endpoint: `${issuer}/token`,
        response_types_supported: ['id_token'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: [algorithm],
        ...patch,
      });
    } else if (req.url === `${path}/jwks`) {
      send(200, { keys: [key.jwk] });
    } else {
      send(404, { error: 'not found' });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  issuer = `http://${options.host ?? '127.0.0.1'}:${port}${path}`;

  async function mint(claims: Record<string, unknown> = {}, opts: MintOptions = {}): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const payload: Record<string, unknown> = { iss: issuer, aud: 'sigstore', sub: 'test-subject', iat: now, nbf: now, exp: now + 300, ...claims };
    for (const [k, v] of Object.entries(payload)) if (v === undefined) delete payload[k];
    const kid = opts.kid === null ? undefined : opts.kid ?? key.kid;
    const signWith = opts.signWith ?? 'issuer';
    if (signWith === 'none' || signWith === 'hs256-public-key') {
      const header = { alg: signWith === 'none' ? 'none' : 'HS256', typ: 'JWT', ...(kid ? { kid } : {}), ...opts.header };
      const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
      if (signWith === 'none') return `${input}.`;
      const secret = key.publicKey.export({ type: 'spki', format: 'pem' });
      return `${input}.${b64url(createHmac('sha256', secret).update(input).digest())}`;
    }
    const signingKey = signWith === 'stranger' ? stranger.privateKey : key.privateKey;
    return new SignJWT(payload)
      .setProtectedHeader({ alg: algorithm, typ: 'JWT', ...(kid ? { kid } : {}), ...opts.header })
      .sign(signingKey);
  }

  return {
    issuer,
    requests,
    mint,
    redirectDiscoveryTo(location) {
      redirect = location;
    },
    patchDiscovery(p) {
      patch = p;
    },
    async rotateKey() {
      key = await newKey(algorithm, omitAlg);
    },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
