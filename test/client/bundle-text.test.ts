/**
 * One text, one reading: a bundle (or trust document) whose JSON text could be read two ways is refused.
 * Found by differential fuzzing: `JSON.parse` keeps the last of duplicate keys (other parsers the first),
 * turns invalid UTF-8 into U+FFFD, and `\ud800` escapes into strings with no UTF-8 form.
 */
import test from 'ava';
import fc from 'fast-check';
import { JsonTextError, parseJsonBytes, parseJsonText } from '../../core/json-text.ts';
import { createVerifier } from '../../client/verify/index.ts';
import { parseTrustedRoot } from '../../client/trusted-root.ts';
import { EMAIL, ISSUER, refuses, TestPki } from './pki-fixture.ts';

const pki = new TestPki();
const verifier = createVerifier(pki.trustedRoot(), { now: () => pki.now });
const policy = { identity: EMAIL, issuer: ISSUER };
const artifact = Buffer.from('release 5.0');
const good = pki.sign(artifact);
const other = pki.sign(Buffer.from('another artifact'));
const run = (bundle: unknown) => verifier.verify({ artifact, bundle, policy });
const text = JSON.stringify(good);

/** The text with `"key":` at its first occurrence preceded by a decoy member of the same name. */
function withDecoy(key: string, decoy: unknown): string {
  const at = text.indexOf(`"${key}":`);
  return `${text.slice(0, at)}"${key}":${JSON.stringify(decoy)},${text.slice(at)}`;
}

test('control: the bundle as compact text, pretty text and bytes verifies', (t) => {
  t.notThrows(() => run(text));
  t.notThrows(() => run(JSON.stringify(good, null, 2)));
  t.notThrows(() => run(Buffer.from(text)));
});

test('a duplicate member name anywhere is refused, whichever copy a reader would keep', (t) => {
  const decoys: [string, unknown][] = [
    ['certificate', other.verificationMaterial.certificate],
    ['mediaType', 'application/vnd.dev.sigstore.bundle+json;version=0.1'],
    ['logIndex', '999'],
    ['integratedTime', '1'],
    ['signature', 'AAAA'],
    ['tlogEntries', []],
  ];
  for (const [key, decoy] of decoys) {
    const dup = withDecoy(key, decoy);
    t.deepEqual(JSON.parse(dup), good, `${key}: JSON.parse alone sees the good bundle`);
    refuses(t, () => run(dup), 'BUNDLE', /the same member name twice/);
    refuses(t, () => run(Buffer.from(dup)), 'BUNDLE', /the same member name twice/);
  }
});

test('invalid UTF-8 and lone surrogates are refused, in text, bytes and objects', (t) => {
  const bytes = Buffer.from(text.replace('"mediaType"', '"mediaType" '));
  const bad = Buffer.concat([bytes.subarray(0, bytes.length - 1), Buffer.from([0x20, 0xff, 0x7d])]);
  refuses(t, () => run(bad), 'BUNDLE', /not valid UTF-8/);
  refuses(t, () => run(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)])), 'BUNDLE', /byte-order mark/);
  // A checkpoint line signed as U+FFFD, carried as \ud800: both encode to the same bytes, but only one was signed.
  const b = structuredClone(good);
  const proof = b.verificationMaterial.tlogEntries[0].inclusionProof;
  proof.checkpoint.envelope = proof.checkpoint.envelope.replace('\n\n', '\nx\ud800\n\n');
  refuses(t, () => run(b), 'BUNDLE', /lone surrogate/);
  refuses(t, () => run(JSON.stringify(b)), 'BUNDLE', /lone surrogate/);
});

test('a deeply nested logged body is a TLOG_BODY refusal, not a stack overflow', (t) => {
  for (const body of ['['.repeat(130_000) + ']'.repeat(130_000), '{"a":'.repeat(40_000) + '1' + '}'.repeat(40_000)]) {
    const b = structuredClone(good);
    b.verificationMaterial.tlogEntries[0].canonicalizedBody = Buffer.from(body).toString('base64');
    refuses(t, () => run(b), 'TLOG_BODY');
  }
});

test('a trusted root with a duplicate member name is refused', (t) => {
  const root = JSON.stringify(pki.trustedRoot());
  t.notThrows(() => parseTrustedRoot(root));
  const at = root.indexOf('"tlogs":');
  t.throws(() => parseTrustedRoot(`${root.slice(0, at)}"tlogs":[],${root.slice(at)}`), { message: /the same member name twice/ });
});

test('parseJsonText: string contents never count as member names; agrees with JSON.parse on unique keys (property)', (t) => {
  const tricky = '{"a":"x\\":y","b\\"":"\\\\","c":["d:",{"e":"\\\\\\":"}],"f":{"g":{}}}';
  t.deepEqual(parseJsonText(tricky), JSON.parse(tricky));
  t.throws(() => parseJsonText('{"a":1,"b":{"c":1,"c":2}}'), { instanceOf: JsonTextError });
  t.throws(() => parseJsonText('{"a":1,"\\u0061":2}'), { instanceOf: JsonTextError }, 'the same name spelled with an escape');
  t.throws(() => parseJsonText('{"__proto__":1,"__proto__":2}'), { instanceOf: JsonTextError });
  t.throws(() => parseJsonBytes(Buffer.from([0x22, 0xc3, 0x22])), { instanceOf: JsonTextError });
  fc.assert(fc.property(fc.jsonValue(), fc.boolean(), (value, pretty) => {
    const s = JSON.stringify(value, null, pretty ? 2 : undefined);
    t.deepEqual(parseJsonText(s), JSON.parse(s));
  }), { numRuns: 300 });
});
