/**
 * JSON text read so that every reader sees the same document. `JSON.parse` keeps the last of duplicate keys
 * (other parsers keep the first, or refuse), turns invalid UTF-8 into U+FFFD and `\ud800` escapes into lone
 * surrogates that have no UTF-8 form; each lets one text mean two things, or bytes differ from what was signed.
 * These refuse all three, after `JSON.parse` has accepted the text's syntax.
 */

import { hasLoneSurrogate } from './unicode.ts';

export class JsonTextError extends Error {}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Bytes as UTF-8, refusing malformed sequences (and a byte-order mark, which JSON text does not start with). */
export function decodeUtf8(bytes: Uint8Array): string {
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    throw new JsonTextError('not valid UTF-8');
  }
  if (text.charCodeAt(0) === 0xfeff) throw new JsonTextError('starts with a byte-order mark');
  return text;
}

/**
 * Every string token of the text, in order, with whether a colon follows it (then it is a member name). Outside
 * strings JSON has no quote character, so matching string tokens left to right finds exactly the text's strings.
 */
const STRING_TOKEN = /"[^"\\]*(?:\\.[^"\\]*)*"(\s*:)?/g;

function countMembers(text: string): number {
  let n = 0;
  for (const m of text.matchAll(STRING_TOKEN)) if (m[1] !== undefined) n++;
  return n;
}

/** Members of every object in the parsed value, and any string (name or value) that is not well-formed UTF-16. */
function walk(value: unknown): number {
  let members = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === 'string') {
      if (hasLoneSurrogate(v)) throw new JsonTextError('a string holds a lone surrogate (a \\ud800-style escape with no pair)');
    } else if (Array.isArray(v)) {
      for (const e of v) stack.push(e);
    } else if (typeof v === 'object' && v !== null) {
      for (const [k, e] of Object.entries(v)) {
        members++;
        if (hasLoneSurrogate(k)) throw new JsonTextError('a member name holds a lone surrogate');
        stack.push(e);
      }
    }
  }
  return members;
}

/** JSON.parse, then no duplicate member names and no lone surrogates. Throws SyntaxError or JsonTextError. */
export function parseJsonText(text: string): unknown {
  const value: unknown = JSON.parse(text);
  if (walk(value) !== countMembers(text)) throw new JsonTextError('an object has the same member name twice');
  return value;
}

/** parseJsonText of bytes decoded strictly as UTF-8. */
export function parseJsonBytes(bytes: Uint8Array): unknown {
  return parseJsonText(decodeUtf8(bytes));
}

/** The message to give for a failed parse: the JsonTextError's own, or `syntax` for JSON.parse's. */
export function jsonProblem(e: unknown, syntax: string): string {
  return e instanceof JsonTextError ? e.message : syntax;
}

/** A JSON object (not null, not an array): what every reader of parsed JSON asks first. */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
