import { BadRequestError } from '../../core/errors.ts';
import { MAX_CHAIN_LENGTH } from './chain.ts';

/**
 * Strict parsing of RFC 6962 request parameters. Everything a client sends is refused with a plain 400
 * unless it is exactly what the RFC describes; nothing malformed reaches the log.
 */

const CANONICAL_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Standard padded base64, canonical (no stray padding bits); undefined otherwise. */
export function decodeBase64Strict(s: string): Buffer | undefined {
  if (!CANONICAL_BASE64.test(s)) return undefined;
  const out = Buffer.from(s, 'base64');
  return out.toString('base64') === s ? out : undefined;
}

type Query = Record<string, string | string[] | undefined>;

function single(query: Query, name: string): string {
  const v = query[name];
  if (v === undefined) throw new BadRequestError(`missing parameter ${name}`);
  if (typeof v !== 'string') throw new BadRequestError(`parameter ${name} is given more than once`);
  return v;
}

/** A decimal non-negative integer parameter (no sign, no leading zeros, no exponent, safe-integer range). */
export function intParam(query: Query, name: string): number {
  const v = single(query, name);
  if (!/^(?:0|[1-9][0-9]{0,15})$/.test(v) || !Number.isSafeInteger(Number(v))) {
    throw new BadRequestError(`parameter ${name} must be a non-negative decimal integer`);
  }
  return Number(v);
}

/** A base64 parameter. A '+' left unescaped in the URL arrives as a space; it can only have meant '+'. */
export function base64Param(query: Query, name: string): Buffer {
  const v = decodeBase64Strict(single(query, name).replace(/ /g, '+'));
  if (!v) throw new BadRequestError(`parameter ${name} is not valid base64`);
  return v;
}

/** The body of add-chain / add-pre-chain: `{"chain": [base64 DER, ...]}`, length-checked before any decoding. */
export function chainFromBody(body: unknown): Buffer[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new BadRequestError('request body must be a JSON object with a "chain" array');
  }
  const chain = (body as { chain?: unknown }).chain;
  if (!Array.isArray(chain)) throw new BadRequestError('"chain" must be an array of base64 DER certificates');
  if (chain.length === 0) throw new BadRequestError('"chain" is empty');
  if (chain.length > MAX_CHAIN_LENGTH) {
    throw new BadRequestError(`"chain" has ${chain.length} certificates; at most ${MAX_CHAIN_LENGTH} are accepted`);
  }
  return chain.map((c, i) => {
    const der = typeof c === 'string' ? decodeBase64Strict(c) : undefined;
    if (!der || der.length === 0) throw new BadRequestError(`chain[${i}] is not a base64 string`);
    return der;
  });
}
