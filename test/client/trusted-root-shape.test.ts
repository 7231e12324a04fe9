/**
 * Malformed trust documents get clean errors: whatever field of a trusted root or signing config is nulled,
 * retyped or removed, parsing either succeeds or throws an error naming the field, never a TypeError from deep
 * inside protobuf-specs ("Cannot read properties of null") and never the word "undefined".
 */
import test from 'ava';
import fc from 'fast-check';
import { VerificationError } from '../../core/errors.ts';
import { parseSigningConfig, parseTrustedRoot, SIGNING_CONFIG_MEDIA_TYPE } from '../../client/trusted-root.ts';
import { createVerifier } from '../../client/verify/index.ts';
import { TestPki } from './pki-fixture.ts';

type Json = Record<string, any>;
const pki = new TestPki();
const root = (): Json => structuredClone(pki.trustedRoot());
const signingConfig = (): Json => ({
  mediaType: SIGNING_CONFIG_MEDIA_TYPE,
  caUrls: [{ url: 'https://ca.example', majorApiVersion: 1, validFor: { start: '2020-01-01T00:00:00Z' }, operator: 'x' }],
  rekorTlogUrls: [{ url: 'https://rekor.example', majorApiVersion: 1, validFor: { start: '2020-01-01T00:00:00Z' } }],
  rekorTlogConfig: { selector: 'ANY' },
});

/** What a clean error must not look like: a JavaScript failure leaking through, or an absent value printed. */
const RAW = /Cannot read|undefined|is not a function|is not iterable|TypeError|Unexpected token|\[object Object\]|NaN/;

function trustedRootMessage(t: any, json: unknown): string {
  const err = t.throws(() => createVerifier(json), { instanceOf: VerificationError });
  t.is(err.code, 'TRUSTED_ROOT');
  return err.message;
}

test('the reviewer\'s cases: {}, a null CA or log, a null service, each named by field', (t) => {
  t.is(trustedRootMessage(t, {}), 'trusted root: mediaType is missing (expected application/vnd.dev.sigstore.trustedroot+json;version=0.1)');
  const nullCa = root();
  nullCa.certificateAuthorities[0] = null;
  t.is(trustedRootMessage(t, nullCa), 'trusted root: certificateAuthorities[0]: expected an object, got nothing');
  const nullLog = root();
  nullLog.tlogs.push(null);
  t.is(trustedRootMessage(t, nullLog), 'trusted root: tlogs[1]: expected an object, got nothing');
  const badBytes = root();
  badBytes.ctlogs[0].publicKey.rawBytes = 5;
  t.is(trustedRootMessage(t, badBytes), 'trusted root: ctlogs[0].publicKey.rawBytes: expected a base64 string, got the number 5');
  const badTime = root();
  badTime.tlogs[0].publicKey.validFor.start = 1;
  t.regex(trustedRootMessage(t, badTime), /tlogs\[0\]\.publicKey\.validFor\.start: expected an RFC 3339 time string/);
  const noUrl = root();
  delete noUrl.tlogs[0].baseUrl;
  t.is(trustedRootMessage(t, noUrl), 'trusted root: tlogs[0]: baseUrl is missing');

  t.throws(() => parseSigningConfig({ ...signingConfig(), caUrls: [null] }), { message: 'signing config: caUrls[0]: expected an object, got nothing' });
  t.throws(() => parseSigningConfig({}), { message: /^signing config: mediaType is missing/ });
  t.throws(() => parseSigningConfig('{'), { message: 'signing config: not valid JSON' });
  t.throws(() => parseSigningConfig({ ...signingConfig(), rekorTlogConfig: { selector: 'SOME' } }), { message: /rekorTlogConfig\.selector: expected a ServiceSelector value, got the string "SOME"/ });
});

/** Every JSON path of `doc` that leads to a value (objects and arrays included). */
function paths(doc: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = [prefix];
  if (Array.isArray(doc)) doc.forEach((v, i) => out.push(...paths(v, [...prefix, i])));
  else if (typeof doc === 'object' && doc !== null) for (const [k, v] of Object.entries(doc)) out.push(...paths(v, [...prefix, k]));
  return out;
}

/** Values every path is tried with (undefined deletes the field, or leaves a hole in a list). */
const CONSTANTS = [null, undefined, 0, -1, 1.5, 2 ** 60, true, '', 'x', 'AAAA', '2020-01-01T00:00:00Z', 'https://x.example', [], [null], {}, { keyId: null },
  'PKIX_ECDSA_P256_SHA_256', 'SHA2_256'];
const replacement = fc.oneof(fc.constantFrom(...CONSTANTS), fc.string({ maxLength: 8 }), fc.integer(), fc.array(fc.constantFrom(null, 1, 'x', {}), { maxLength: 3 }));

/** `doc` with the value at `path` replaced (or deleted, for `undefined`). */
function mutate(doc: Json, path: (string | number)[], value: unknown): unknown {
  if (path.length === 0) return value;
  const copy = structuredClone(doc);
  let node: any = copy;
  for (const step of path.slice(0, -1)) node = node[step];
  if (value === undefined) delete node[path.at(-1)!];
  else node[path.at(-1)!] = value;
  return copy;
}

function cleanTrustedRoot(doc: unknown, where: string): void {
  try {
    parseTrustedRoot(doc);
  } catch (e) {
    if (!(e instanceof VerificationError) || e.code !== 'TRUSTED_ROOT' || RAW.test(e.message)) throw new Error(`at ${where}: ${String(e)}`);
  }
}

function cleanSigningConfig(doc: unknown, where: string): void {
  try {
    parseSigningConfig(doc);
  } catch (e) {
    if (!(e instanceof Error) || !e.message.startsWith('signing config: ') || RAW.test(e.message)) throw new Error(`at ${where}: ${String(e)}`);
  }
}

for (const [name, base, clean] of [['trusted root', root(), cleanTrustedRoot], ['signing config', signingConfig(), cleanSigningConfig]] as const) {
  const all = paths(base);
  test(`every field of a ${name} nulled, retyped or removed: a clean error or a parse`, (t) => {
    t.notThrows(() => {
      for (const path of all) for (const value of CONSTANTS) clean(mutate(base, path, value), `${path.join('.')} = ${JSON.stringify(value)}`);
    });
  });

  test(`property: a ${name} with a field replaced by any value, as an object or as JSON text, gives a clean error or parses`, (t) => {
    t.notThrows(() => fc.assert(fc.property(fc.nat({ max: all.length - 1 }), replacement, fc.boolean(), (i, value, asText) => {
      const doc = mutate(base, all[i]!, value);
      clean(asText ? JSON.stringify(doc) ?? 'null' : doc, all[i]!.join('.'));
    }), { numRuns: 1000 }));
  });
}
