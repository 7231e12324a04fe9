import { renderFulcioExtensions } from '../extensions.ts';
import type { VerifiedToken } from '../token.ts';
import { identityError, stringClaim } from './claims.ts';
import type { Principal } from './index.ts';

/**
 * SPIFFE workload identities: `sub` is a SPIFFE ID, certified as the URI SAN, and its trust domain must EQUAL the
 * configured SPIFFETrustDomain (fulcio#588: a suffix or prefix match would let `evil-example.org` or
 * `example.org.evil` pass). SPIFFE ID syntax as go-spiffe's spiffeid.FromString checks it.
 */
const TRUST_DOMAIN = /^[a-z0-9._-]+$/;
const SEGMENT = /^[A-Za-z0-9._-]+$/;

/** The trust domain of a configuration value (`example.org` or `spiffe://example.org`), or undefined when invalid. */
export function parseTrustDomain(value: string): string | undefined {
  const td = value.startsWith('spiffe://') ? value.slice('spiffe://'.length) : value;
  return TRUST_DOMAIN.test(td) ? td : undefined;
}

/** The trust domain of a SPIFFE ID, or undefined when `id` is not a valid SPIFFE ID. */
export function spiffeIdTrustDomain(id: string): string | undefined {
  if (!id.startsWith('spiffe://')) return undefined;
  const rest = id.slice('spiffe://'.length);
  const slash = rest.indexOf('/');
  const td = slash < 0 ? rest : rest.slice(0, slash);
  if (!TRUST_DOMAIN.test(td)) return undefined;
  if (slash >= 0) {
    for (const seg of rest.slice(slash + 1).split('/')) {
      if (!SEGMENT.test(seg) || seg === '.' || seg === '..') return undefined; // also refuses empty segments and a trailing '/'
    }
  }
  return td;
}

export function spiffePrincipal(token: VerifiedToken): Principal {
  const id = stringClaim(token, 'sub', true);
  const configured = parseTrustDomain(token.settings.spiffeTrustDomain ?? '');
  if (!configured) throw identityError('issuer has no valid SPIFFETrustDomain configured');
  const td = spiffeIdTrustDomain(id);
  if (!td) throw identityError(`invalid spiffe ID provided: ${id.slice(0, 200)}`);
  if (td !== configured) throw identityError(`spiffe ID trust domain ${td} doesn't match configured trust domain ${configured}`);
  return {
    name: id,
    san: { type: 'uri', value: id },
    extensions: renderFulcioExtensions({ issuer: token.issuer, tokenSubject: id }),
  };
}
