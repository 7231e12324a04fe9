import { VerificationError } from '../../core/errors.ts';

/**
 * Strict readers for attacker-supplied JSON (bundles, log entry bodies). Each one checks exactly the shape
 * it expects and throws ShapeError naming the JSON path, so callers can turn any malformation into a
 * VerificationError instead of a TypeError deep inside a check (sigstore-js#1722).
 */
export class ShapeError extends Error {}

/** Runs a strict read; a ShapeError becomes the VerificationError `code` with `prefix` before its message. */
export function shape<T>(read: () => T, code: string, prefix: string): T {
  try {
    return read();
  } catch (e) {
    if (e instanceof ShapeError) throw new VerificationError(code, prefix ? `${prefix}: ${e.message}` : e.message);
    throw e;
  }
}

export type JsonObject = Record<string, unknown>;

/**
 * An object whose keys are all in `allowed` and which has every key of `required`. Unknown keys are refused:
 * a field the verifier does not understand may carry meaning another verifier gives it.
 */
export function object(value: unknown, path: string, allowed: readonly string[], required: readonly string[] = allowed): JsonObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ShapeError(`${path}: expected an object`);
  const o = value as JsonObject;
  for (const key of Object.keys(o)) {
    if (!allowed.includes(key)) throw new ShapeError(`${path}: unknown field "${key}"`);
  }
  for (const key of required) {
    if (o[key] === undefined || o[key] === null) throw new ShapeError(`${path}.${key}: missing`);
  }
  return o;
}

export function array(value: unknown, path: string, max: number): unknown[] {
  if (!Array.isArray(value)) throw new ShapeError(`${path}: expected an array`);
  if (value.length > max) throw new ShapeError(`${path}: more than ${max} items`);
  return value;
}

export function string(value: unknown, path: string, max = 1 << 20): string {
  if (typeof value !== 'string') throw new ShapeError(`${path}: expected a string`);
  if (value.length > max) throw new ShapeError(`${path}: longer than ${max} characters`);
  return value;
}

export function literal<T extends string>(value: unknown, path: string, expected: readonly T[]): T {
  const s = string(value, path, 256);
  if (!(expected as readonly string[]).includes(s)) throw new ShapeError(`${path}: "${s.slice(0, 80)}" is not supported (expected ${expected.join(' or ')})`);
  return s as T;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Standard padded base64 whose decoding re-encodes to the same text: two different strings can never stand
 * for the same bytes, and Buffer.from's silent skipping of bad characters cannot hide anything.
 */
export function base64(value: unknown, path: string, opts: { min?: number; max?: number; length?: number } = {}): Buffer {
  const s = string(value, path, 4 * Math.ceil((opts.max ?? 1 << 20) / 3) + 4);
  const bytes = Buffer.from(s, 'base64');
  // The round trip alone decides: toString('base64') writes only the standard alphabet, padded, so equality
  // means `s` is canonical standard base64. The pattern is only asked on failure, to say which way it is not
  // (it cost ~2% of an unseen bundle's verification when asked of every field).
  if (bytes.toString('base64') !== s) {
    throw new ShapeError(`${path}: ${s.length % 4 !== 0 || !BASE64.test(s) ? 'not standard' : 'not canonical'} base64`);
  }
  if (opts.length !== undefined && bytes.length !== opts.length) throw new ShapeError(`${path}: expected ${opts.length} bytes, got ${bytes.length}`);
  if (bytes.length < (opts.min ?? 1)) throw new ShapeError(`${path}: empty`);
  if (opts.max !== undefined && bytes.length > opts.max) throw new ShapeError(`${path}: longer than ${opts.max} bytes`);
  return bytes;
}

const DECIMAL = /^(?:0|[1-9][0-9]{0,15})$/;

/**
 * A non-negative int64 as proto3 JSON writes it (a decimal string), or as a plain JSON number, limited to
 * the safe-integer range so that no precision is silently lost (BigInt would accept "0x10" and " 1").
 */
export function uint(value: unknown, path: string): number {
  let n: number;
  if (typeof value === 'string') {
    if (!DECIMAL.test(value)) throw new ShapeError(`${path}: not a canonical decimal integer`);
    n = Number(value);
  } else if (typeof value === 'number') {
    n = value;
  } else {
    throw new ShapeError(`${path}: expected an integer`);
  }
  if (!Number.isSafeInteger(n) || n < 0) throw new ShapeError(`${path}: not a non-negative safe integer`);
  return n;
}

const HEX = /^[0-9a-f]*$/;

/** Lower-case hex (what Rekor writes), of an exact byte length. */
export function hex(value: unknown, path: string, length: number): Buffer {
  const s = string(value, path, length * 2);
  if (s.length !== length * 2 || !HEX.test(s)) throw new ShapeError(`${path}: expected ${length} bytes of lower-case hex`);
  return Buffer.from(s, 'hex');
}
