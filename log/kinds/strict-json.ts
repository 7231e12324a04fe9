import { BadRequestError } from '../../core/errors.ts';
import { hasLoneSurrogate } from '../../core/unicode.ts';

/**
 * Field readers for proposed log entries. Rekor's Go decoder silently drops wrong types and unknown fields and
 * later panicked on the holes it left (GHSA-frqx-jfcm-6jjr: a `null` element gave a 500). Here every field is
 * checked for its exact JSON type, unknown fields are refused, and every error names the field by its JSON
 * path, so a bad request always ends as a 400 the client can act on.
 */

export type JsonObject = Record<string, unknown>;

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

/**
 * `value` must be a plain JSON object whose keys are all in `allowed`, and holding every key in `required`.
 * Unknown keys are refused rather than ignored: a field we do not read (e.g. a `url` to fetch a key from,
 * GHSA-4c4x-jm2x-pf9j) must not be silently accepted as if it had been honoured.
 */
export function readObject(value: unknown, path: string, allowed: readonly string[], required: readonly string[] = []): JsonObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new BadRequestError(`${path} must be an object, got ${describe(value)}`);
  }
  const obj = value as JsonObject;
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) throw new BadRequestError(`${path}.${key} is not a known field`);
  }
  for (const key of required) {
    if (!Object.prototype.hasOwnProperty.call(obj, key)) throw new BadRequestError(`${path}.${key} is required`);
  }
  return obj;
}

/** A non-empty JSON string. */
export function readString(value: unknown, path: string): string {
  if (typeof value !== 'string') throw new BadRequestError(`${path} must be a string, got ${describe(value)}`);
  if (value.length === 0) throw new BadRequestError(`${path} must not be empty`);
  return wellFormed(value, path);
}

/**
 * `value`, refused when it holds a lone surrogate (what JSON's `\ud800` escape decodes to): it has no UTF-8
 * form, RFC 8785 forbids it in canonical JSON, and Go's decoder would read U+FFFD instead, so no Rekor client
 * could rebuild the body or hash it as the log did.
 */
export function wellFormed(value: string, path: string): string {
  if (hasLoneSurrogate(value)) throw new BadRequestError(`${path} is not valid Unicode (it holds a lone surrogate)`);
  return value;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Standard base64 with padding, in its one canonical spelling. Node's decoder skips junk characters and
 * tolerates missing padding; two spellings of the same bytes would otherwise be two different requests.
 */
export function decodeBase64(text: string, path: string): Buffer {
  if (!BASE64.test(text)) throw new BadRequestError(`${path} is not valid standard base64`);
  const bytes = Buffer.from(text, 'base64');
  if (bytes.toString('base64') !== text) throw new BadRequestError(`${path} is not canonical base64`);
  if (bytes.length === 0) throw new BadRequestError(`${path} must not be empty`);
  return bytes;
}

/** Lower-case hex of exactly `bytes` bytes (the schema says lower case; one spelling per digest). */
export function decodeLowerHex(text: string, path: string, bytes: number): Buffer {
  if (text.length !== bytes * 2) {
    throw new BadRequestError(`${path} must be ${bytes * 2} hex characters, got ${text.length}`);
  }
  if (!/^[0-9a-f]*$/.test(text)) throw new BadRequestError(`${path} must be lower-case hex`);
  return Buffer.from(text, 'hex');
}
