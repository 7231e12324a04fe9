import test from 'ava';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { generateSigner, type Signer } from '../../core/signer.ts';
import {
  formatCheckpointBody, parseCheckpointBody, parseSignedNote, signCheckpoint, verifyCheckpoint,
} from '../../log/checkpoint.ts';

// sigstore-js's checkpoint verifier as an oracle (test-only import of its internals).
const require = createRequire(import.meta.url);
const sigstoreCheckpoint = require('@sigstore/verify/dist/tlog/checkpoint.js') as {
  verifyCheckpoint(entry: unknown, tlogs: unknown[]): { origin: string; logSize: bigint; logHash: Buffer; rest: string[] };
};

const signer = generateSigner();
const other = generateSigner();
const NAME = 'sigstack.local';
const ORIGIN = 'sigstack.local - 2605736670972794746';
const ROOT = createHash('sha256').update('root').digest();
const cp = { origin: ORIGIN, size: 1234, rootHash: ROOT };
const keyOf = (s: Signer, name = NAME) => ({ name, publicKey: s.publicKey, keyId: s.keyId });
const note = signCheckpoint(cp, NAME, signer);

test('the note is the C2SP body, a blank line and one em-dash signature line with the 4-byte key hint', (t) => {
  const body = `${ORIGIN}\n1234\n${ROOT.toString('base64')}\n`;
  t.is(formatCheckpointBody(cp), body);
  t.true(note.startsWith(`${body}\n\u2014 ${NAME} `));
  t.true(note.endsWith('\n'));
  const parsed = parseSignedNote(note);
  t.is(parsed.body, body);
  t.is(parsed.signatures.length, 1);
  t.is(parsed.signatures[0].name, NAME);
  t.deepEqual(parsed.signatures[0].keyHint, signer.keyId.subarray(0, 4));
  t.deepEqual(verifyCheckpoint(note, [keyOf(signer)]), { origin: ORIGIN, size: 1234, rootHash: ROOT });
});

test('extension lines round-trip and are covered by the signature', (t) => {
  const withExt = signCheckpoint({ ...cp, otherContent: ['Timestamp: 1700000000000000000', 'x y z'] }, NAME, signer);
  const parsed = parseCheckpointBody(parseSignedNote(withExt).body);
  t.deepEqual(parsed.otherContent, ['Timestamp: 1700000000000000000', 'x y z']);
  t.notThrows(() => verifyCheckpoint(withExt, [keyOf(signer)]));
  t.throws(() => verifyCheckpoint(withExt.replace('x y z', 'x y Z'), [keyOf(signer)]), { instanceOf: RangeError });
});

test('@sigstore/verify accepts our checkpoints and reads the same origin, size and root', (t) => {
  const tlog = { logID: signer.keyId, baseURL: `https://${NAME}`, publicKey: signer.publicKey };
  const theirs = sigstoreCheckpoint.verifyCheckpoint({ inclusionProof: { checkpoint: { envelope: note } } }, [tlog]);
  t.is(theirs.origin, ORIGIN);
  t.is(theirs.logSize, 1234n);
  t.deepEqual(Buffer.from(theirs.logHash), ROOT);
  const tampered = note.replace('\n1234\n', '\n1235\n');
  t.throws(() => sigstoreCheckpoint.verifyCheckpoint({ inclusionProof: { checkpoint: { envelope: tampered } } }, [tlog]));
  t.throws(() => verifyCheckpoint(tampered, [keyOf(signer)]), { instanceOf: RangeError });
});

test('signatures only count with the right key, the exact name and the key hint of that key (rekor#2214)', (t) => {
  const fail = (text: string, keys: ReturnType<typeof keyOf>[], why: string) =>
    t.throws(() => verifyCheckpoint(text, keys), { instanceOf: RangeError, message: /^checkpoint signature/ }, why);
  fail(note, [keyOf(other)], 'wrong key');
  fail(note, [keyOf(signer, 'sigstack.local2')], 'wrong name');
  fail(note, [keyOf(signer, 'sigstack')], 'name prefix');
  fail(note, [], 'no keys');
  // Right key and name, but the hint names another key: refused even though the signature itself is valid.
  const body = formatCheckpointBody(cp);
  const wrongHint = Buffer.concat([other.keyId.subarray(0, 4), signer.sign(Buffer.from(body))]).toString('base64');
  fail(`${body}\n\u2014 ${NAME} ${wrongHint}\n`, [keyOf(signer)], 'wrong key hint');
  // A key whose keyId is not its own SPKI hash does not make the hint match.
  fail(note, [{ ...keyOf(signer), keyId: other.keyId }], 'keyId of another key');
  // Several signatures: an unknown one first does not hide the valid one.
  const extra = signCheckpoint(cp, 'witness.example', other).split('\n\n')[1];
  t.notThrows(() => verifyCheckpoint(`${body}\n${extra}${note.split('\n\n')[1]}`, [keyOf(signer)]));
});

test('names are literal strings, never patterns (sigstore-js#1722)', (t) => {
  // With String.match, the name "." matched any base URL and "(a|aa)*$" could backtrack for ages.
  for (const name of ['.', '.*', '(a|aa)*$', '[', 'sigstack.loca.']) {
    const text = signCheckpoint(cp, name, signer);
    t.throws(() => verifyCheckpoint(text, [keyOf(signer, NAME)]), { instanceOf: RangeError }, name);
    t.notThrows(() => verifyCheckpoint(text, [keyOf(signer, name)]), name);
  }
});

const valid = note.split('\n');
const sigLine = valid[4];
const b64root = ROOT.toString('base64');
const MALFORMED: [string, string][] = [
  ['empty', ''],
  ['no blank line', note.replace('\n\n', '\n')],
  ['no signatures', `${formatCheckpointBody(cp)}\n`],
  ['no final newline', note.slice(0, -1)],
  ['signature without em dash', note.replace('\u2014', '-')],
  ['signature with en dash', note.replace('\u2014', '\u2013')],
  ['signature missing its blob', `${formatCheckpointBody(cp)}\n\u2014 ${NAME}\n`],
  ['signature with two spaces', note.replace(`${NAME} `, `${NAME}  `)],
  ['signature bad base64', `${formatCheckpointBody(cp)}\n\u2014 ${NAME} !!!!\n`],
  ['signature unpadded base64', `${formatCheckpointBody(cp)}\n\u2014 ${NAME} ${Buffer.alloc(73, 7).toString('base64').replace(/=+$/, '')}\n`],
  ['signature non-canonical base64', `${formatCheckpointBody(cp)}\n\u2014 ${NAME} ${Buffer.alloc(73, 7).toString('base64').replace(/w==$/, 'x==')}\n`],
  ['signature too short', `${formatCheckpointBody(cp)}\n\u2014 ${NAME} AAAAAA==\n`],
  ['blank line among signatures', `${note}\n`],
  ['CRLF line endings', note.replace(/\n/g, '\r\n')],
  ['body with two lines', `${ORIGIN}\n1234\n\n${sigLine}\n`],
  ['size with leading zero', note.replace('\n1234\n', '\n01234\n')],
  ['negative size', note.replace('\n1234\n', '\n-1\n')],
  ['size in exponent form', note.replace('\n1234\n', '\n1e3\n')],
  ['size with a space', note.replace('\n1234\n', '\n 1234\n')],
  ['size above 2^53', note.replace('\n1234\n', '\n9007199254740993\n')],
  ['size that BigInt() would reject', note.replace('\n1234\n', '\nlots\n')],
  ['root of 31 bytes', note.replace(b64root, ROOT.subarray(0, 31).toString('base64'))],
  ['root not base64', note.replace(b64root, '%'.repeat(44))],
  ['empty origin', note.replace(ORIGIN, '')],
  ['control character in body', note.replace(ORIGIN, `${ORIGIN}\u0007`)],
  ['too many signatures', `${formatCheckpointBody(cp)}\n${`${sigLine}\n`.repeat(101)}`],
];

test('malformed notes and bodies throw RangeError, never TypeError', (t) => {
  for (const [why, text] of MALFORMED) {
    t.throws(() => verifyCheckpoint(text, [keyOf(signer)]), { instanceOf: RangeError }, why);
  }
  t.throws(() => parseSignedNote(42 as unknown as string), { instanceOf: RangeError });
  t.throws(() => parseCheckpointBody(undefined as unknown as string), { instanceOf: RangeError });
  t.throws(() => parseCheckpointBody(`${ORIGIN}\n1\n${b64root}`), { instanceOf: RangeError }, 'body without final newline');
  t.throws(() => parseCheckpointBody(`${ORIGIN}\n1\n${b64root}\n\nx\n`), { instanceOf: RangeError }, 'empty extension line');
});

test('bad checkpoints cannot be signed', (t) => {
  t.throws(() => formatCheckpointBody({ ...cp, origin: 'a\nb' }), { instanceOf: RangeError });
  t.throws(() => formatCheckpointBody({ ...cp, size: -1 }), { instanceOf: RangeError });
  t.throws(() => formatCheckpointBody({ ...cp, size: 1.5 }), { instanceOf: RangeError });
  t.throws(() => formatCheckpointBody({ ...cp, rootHash: Buffer.alloc(31) }), { instanceOf: RangeError });
  t.throws(() => formatCheckpointBody({ ...cp, otherContent: [''] }), { instanceOf: RangeError });
  t.throws(() => signCheckpoint(cp, 'has space', signer), { instanceOf: RangeError });
  t.throws(() => signCheckpoint(cp, 'a+b', signer), { instanceOf: RangeError });
  t.throws(() => signCheckpoint(cp, '', signer), { instanceOf: RangeError });
});

test('property: arbitrary text and arbitrary edits of a valid note only ever throw RangeError', (t) => {
  const keys = [keyOf(signer)];
  const onlyRangeErrors = (text: string) => {
    try {
      const got = verifyCheckpoint(text, keys);
      // Anything accepted must be exactly what was signed.
      return got.origin === ORIGIN && got.size === 1234 && got.rootHash.equals(ROOT);
    } catch (e) {
      return e instanceof RangeError;
    }
  };
  t.notThrows(() => fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 300 }), onlyRangeErrors), { numRuns: 300 }));
  const edit = fc.record({ at: fc.nat(note.length), drop: fc.nat(4), insert: fc.string({ unit: 'binary', maxLength: 4 }) });
  t.notThrows(() => fc.assert(fc.property(edit, ({ at, drop, insert }) => onlyRangeErrors(note.slice(0, at) + insert + note.slice(at + drop))), { numRuns: 500 }));
});
