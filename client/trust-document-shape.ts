import { HashAlgorithm, PublicKeyDetails, ServiceSelector } from '@sigstore/protobuf-specs';
import { jsonProblem, parseJsonText } from '../core/json-text.ts';

/**
 * The shape protobuf-specs' fromJSON reads, checked first: it assumes every list item is an object and every field
 * of the right type, so `tlogs: [null]` or `rawBytes: 5` would surface as a TypeError naming no field. Absent and
 * null fields are proto3 defaults (the checks after fromJSON say which are required); unknown fields are ignored,
 * as the stock clients do, so a newer trusted root still loads.
 */
export type Check = (value: unknown, path: string) => string | undefined;

function describe(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.slice(0, 60))}`;
  return typeof v === 'object' ? 'an object' : `the ${typeof v} ${String(v).slice(0, 60)}`;
}

const expect = (ok: (v: unknown) => boolean, what: string): Check => (v, p) => (ok(v) ? undefined : `${p}: expected ${what}, got ${describe(v)}`);
const str = expect((v) => typeof v === 'string', 'a string');
const bytes = expect((v) => typeof v === 'string' && /^[A-Za-z0-9+/_-]*={0,2}$/.test(v), 'a base64 string');
const time = expect((v) => typeof v === 'string' || v instanceof Date, 'an RFC 3339 time string');
const uint = expect((v) => (Number.isSafeInteger(v) && (v as number) >= 0) || (typeof v === 'string' && /^[0-9]{1,9}$/.test(v)), 'a non-negative integer');
const enumOf = (e: Record<string, string | number>, name: string) =>
  expect((v) => (typeof v === 'string' ? typeof e[v] === 'number' : typeof v === 'number' && typeof e[v] === 'string'), `a ${name} value`);
const obj = (fields: Record<string, Check>): Check => (v, p) => {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Date) return `${p}: expected an object, got ${describe(v)}`;
  const o = v as Record<string, unknown>;
  return Object.entries(fields).reduce<string | undefined>((found, [k, check]) => found ?? (o[k] === undefined || o[k] === null ? undefined : check(o[k], p ? `${p}.${k}` : k)), undefined);
};
const list = (item: Check): Check => (v, p) =>
  // Array.from: reduce alone would skip the holes of a sparse array, which fromJSON would then trip on.
  (Array.isArray(v) ? Array.from(v).reduce<string | undefined>((found, x, i) => found ?? item(x, `${p}[${i}]`), undefined) : `${p}: expected a list, got ${describe(v)}`);
const TIME_RANGE = obj({ start: time, end: time });
const LOG_ID = obj({ keyId: bytes });
const LOG = obj({ baseUrl: str, hashAlgorithm: enumOf(HashAlgorithm, 'HashAlgorithm'), logId: LOG_ID, checkpointKeyId: LOG_ID, operator: str,
  publicKey: obj({ rawBytes: bytes, keyDetails: enumOf(PublicKeyDetails, 'PublicKeyDetails'), validFor: TIME_RANGE }) });
const CA = obj({ subject: obj({ organization: str, commonName: str }), uri: str, certChain: obj({ certificates: list(obj({ rawBytes: bytes })) }), validFor: TIME_RANGE, operator: str });
export const TRUSTED_ROOT_SHAPE = obj({ mediaType: str, tlogs: list(LOG), certificateAuthorities: list(CA), ctlogs: list(LOG), timestampAuthorities: list(CA) });
const SERVICE = obj({ url: str, majorApiVersion: uint, validFor: TIME_RANGE, operator: str });
const SERVICE_CONFIG = obj({ selector: enumOf(ServiceSelector, 'ServiceSelector'), count: uint });
export const SIGNING_CONFIG_SHAPE = obj({ mediaType: str, caUrls: list(SERVICE), oidcUrls: list(SERVICE), rekorTlogUrls: list(SERVICE), rekorTlogConfig: SERVICE_CONFIG,
  tsaUrls: list(SERVICE), tsaConfig: SERVICE_CONFIG });

/**
 * A trust document (text or object), its shape and media type checked, read by protobuf-specs' `fromJSON`;
 * `problem` throws.
 */
export function readDocument<T>(input: unknown, shape: Check, mediaType: string, fromJSON: (json: unknown) => T, problem: (m: string) => never): T {
  let json = input;
  if (typeof input === 'string') {
    try {
      json = parseJsonText(input);
    } catch (e) {
      problem(jsonProblem(e, 'not valid JSON'));
    }
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) problem(`expected a JSON object, got ${describe(json)}`);
  const found = shape(json, '');
  if (found) problem(found);
  const given = (json as { mediaType?: unknown }).mediaType;
  if (given === undefined || given === null || given === '') problem(`mediaType is missing (expected ${mediaType})`);
  if (given !== mediaType) problem(`mediaType must be ${mediaType}, got ${describe(given)}`);
  try {
    return fromJSON(json);
  } catch (e) {
    return problem(`malformed (${(e as Error).message})`);
  }
}
