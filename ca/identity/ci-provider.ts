import { goClaimString, renderValue } from '../ci-metadata.ts';
import { renderFulcioExtensions, type FulcioExtensionValues } from '../extensions.ts';
import type { VerifiedToken } from '../token.ts';
import { identityError, requireAscii, stringClaim } from './claims.ts';
import type { Principal } from './index.ts';

/**
 * `ci-provider` issuers: the SAN and extensions come from the CIIssuerMetadata templates of the issuer's
 * CIProvider, over the token's claims (stringified as Go's %v would) merged on top of the provider's defaults.
 * Issuer and subject always come from the token. Mirrors Fulcio's pkg/identity/ciprovider.
 */
export function ciProviderPrincipal(token: VerifiedToken): Principal {
  const metadata = token.settings.ciMetadata;
  if (!metadata) throw identityError(`metadata not found for ci provider ${token.settings.ciProvider ?? ''}`);
  const data: Record<string, string> = { ...metadata.defaults };
  for (const [k, v] of Object.entries(token.claims)) {
    try {
      data[k] = goClaimString(v);
    } catch (err) {
      throw identityError(`claim ${JSON.stringify(k.slice(0, 100))}: ${(err as Error).message}`);
    }
  }
  const render = (t: Parameters<typeof renderValue>[0], what: string) => {
    try {
      return renderValue(t, data, what);
    } catch (err) {
      throw identityError((err as Error).message);
    }
  };
  const san = requireAscii(render(metadata.san, 'SubjectAlternativeName'), 'subject alternative name');
  let parsed: URL;
  try {
    parsed = new URL(san);
  } catch {
    throw identityError(`subject alternative name ${JSON.stringify(san.slice(0, 200))} is not a URI`);
  }
  if (/\s/.test(san) || !parsed.protocol) throw identityError('subject alternative name is not a URI');
  const subject = stringClaim(token, 'sub') ?? '';
  const values: FulcioExtensionValues = { issuer: token.issuer, tokenSubject: subject };
  for (const [field, t] of Object.entries(metadata.extensions) as [keyof FulcioExtensionValues, Parameters<typeof renderValue>[0]][]) {
    values[field] = render(t, field);
  }
  return { name: subject, san: { type: 'uri', value: san }, extensions: renderFulcioExtensions(values) };
}
