import test from 'ava';
import fc from 'fast-check';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash, createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import { p256 } from '@noble/curves/nist';
import { BadRequestError } from '../../core/errors.ts';
import { canonicalizeProposedEntry } from '../../log/kinds/index.ts';
import { verifyPrehashed } from '../../log/kinds/prehashed-verify.ts';
import {
  certificateFor, digestOf, ecKey, ed25519Key, expectedBody, proposal, publicKeyPem, rsaKey, signedProposal, toPem, type Proposal,
} from './fixtures.ts';

const data = Buffer.from('an artifact the log never sees');
const p256Key = ecKey('P-256');

function rejects(t: import('ava').ExecutionContext, input: unknown, message: RegExp, code = 'BAD_REQUEST') {
  const err = t.throws(() => canonicalizeProposedEntry(input), { instanceOf: BadRequestError });
  t.regex(err!.message, message);
  t.is(err!.code, code);
}

/** A deep copy of a valid proposal with `edit` applied. */
function edited(edit: (p: any) => void, base: Proposal = signedProposal(p256Key, data).proposal): unknown {
  const copy = JSON.parse(JSON.stringify(base));
  edit(copy);
  return copy;
}

test('node:crypto cannot verify a prehashed ECDSA signature; the noble path can', (t) => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const signature = sign('sha256', data, privateKey);
  const digest = createHash('sha256').update(data).digest();
  // verify(null, digest) hashes the digest again, so it is the wrong tool for hashedrekord
  t.false(verify(null, digest, publicKey, signature));
  t.true(verify(null, data, publicKey, signature));
  t.true(verifyPrehashed(publicKey, 'sha256', digest, signature));
  t.false(verifyPrehashed(publicKey, 'sha256', createHash('sha256').update('other').digest(), signature));
});

test('Ed25519ph over a SHA-512 digest matches RFC 8032 §7.3 (TEST abc)', (t) => {
  const publicKey = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519',
    x: Buffer.from('ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf', 'hex').toString('base64url') }, format: 'jwk' });
  const signature = Buffer.from('98a70222f0b8121aa9d30f813d683f809e462b469c7ff87639499bb94e6dae41' +
    '31f85042463c2a355a2003d062adf5aaa10b8c61e636062aaad11c2a26083406', 'hex');
  const digest = createHash('sha512').update('abc').digest();
  t.true(verifyPrehashed(publicKey, 'sha512', digest, signature));
  t.false(verifyPrehashed(publicKey, 'sha512', createHash('sha512').update('abd').digest(), signature));
});

for (const [make, form] of [
  [() => ecKey('P-256'), 'key'], [() => ecKey('P-256'), 'cert'], [() => ecKey('P-384'), 'key'], [() => ecKey('P-521'), 'cert'],
  [() => rsaKey(2048), 'key'], [() => rsaKey(2048), 'cert'], [() => ed25519Key(), 'key'], [() => ed25519Key(), 'cert'],
] as const) {
  const key = make();
  test(`accepts ${key.name} (${form}) and stores Rekor's canonical body`, (t) => {
    const { proposal: p, signature, keyPem, digest } = signedProposal(key, data, form);
    const body = canonicalizeProposedEntry(p);
    t.is(body.toString('utf8'), expectedBody(signature, keyPem, key.alg, digest.toString('hex')));
  });
}

test('PEM is stored re-encoded from its DER (CRLF, short lines and surrounding whitespace normalised)', (t) => {
  const { signature, digest, keyPem } = signedProposal(p256Key, data, 'key');
  const der = p256Key.publicKey.export({ type: 'spki', format: 'der' });
  const messy = `\n  -----BEGIN PUBLIC KEY-----\r\n${der.toString('base64').match(/.{1,20}/g)!.join('\r\n')}\r\n-----END PUBLIC KEY-----\r\n\n`;
  const body = canonicalizeProposedEntry(proposal(signature, messy, 'sha256', digest.toString('hex')));
  t.is(body.toString(), expectedBody(signature, keyPem, 'sha256', digest.toString('hex')));
});

test('ECDSA signatures are accepted in both low-S and high-S form (as Go and OpenSSL produce)', (t) => {
  const { signature, digest, keyPem } = signedProposal(p256Key, data);
  const sig = p256.Signature.fromBytes(signature, 'der');
  const flipped = Buffer.from(new p256.Signature(sig.r, p256.Point.Fn.ORDER - sig.s).toBytes('der'));
  for (const s of [signature, flipped]) t.notThrows(() => canonicalizeProposedEntry(proposal(s, keyPem, 'sha256', digest.toString('hex'))));
});

test('a signature that does not verify is refused with INVALID_SIGNATURE', (t) => {
  const good = signedProposal(p256Key, data);
  const other = signedProposal(ecKey('P-256'), data);
  const digestHex = good.digest.toString('hex');
  const zeroRS = Buffer.from('3006020100020100', 'hex'); // r = s = 0 ("psychic signatures", CVE-2022-21449)
  const wrongDigest = digestOf('sha256', Buffer.from('different')).toString('hex');
  for (const p of [
    proposal(other.signature, good.keyPem, 'sha256', digestHex),
    proposal(zeroRS, good.keyPem, 'sha256', digestHex),
    proposal(Buffer.from('not a signature'), good.keyPem, 'sha256', digestHex),
    proposal(good.signature, good.keyPem, 'sha256', wrongDigest),
    proposal(Buffer.concat([good.signature, Buffer.of(0)]), good.keyPem, 'sha256', digestHex),
  ]) rejects(t, p, /signature does not verify/, 'INVALID_SIGNATURE');
  const rsa = rsaKey(2048);
  const r = signedProposal(rsa, data);
  rejects(t, proposal(r.signature.subarray(1), r.keyPem, 'sha256', r.digest.toString('hex')), /does not verify/, 'INVALID_SIGNATURE');
  // Rekor's hashedrekord verifies Ed25519 keys as Ed25519ph: a pure Ed25519 signature by the same key is refused
  const ed = generateKeyPairSync('ed25519');
  const pureEd = sign(null, data, ed.privateKey);
  rejects(t, proposal(pureEd, publicKeyPem(ed.publicKey), 'sha512', digestOf('sha512', data).toString('hex')), /does not verify/,
    'INVALID_SIGNATURE');
});

test('key/hash pairs outside Rekor\'s default signing algorithms are refused', (t) => {
  const k = signedProposal(p256Key, data);
  const sha512 = digestOf('sha512', data).toString('hex');
  rejects(t, proposal(k.signature, k.keyPem, 'sha512', sha512), /ecdsa public key: P-256\/sha512 is not allowed/, 'ALGORITHM_NOT_ALLOWED');
  const small = generateKeyPairSync('rsa', { modulusLength: 1024 });
  rejects(t, proposal(sign('sha256', data, small.privateKey), publicKeyPem(small.publicKey), 'sha256', digestOf('sha256', data).toString('hex')),
    /RSA key of 1024 bits \(2048 to 4096 are accepted\)/, 'ALGORITHM_NOT_ALLOWED');
  const k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' });
  rejects(t, proposal(sign('sha256', data, k1.privateKey), publicKeyPem(k1.publicKey), 'sha256', digestOf('sha256', data).toString('hex')),
    /curve secp256k1/, 'ALGORITHM_NOT_ALLOWED');
});

test('malformed specs are refused with a message naming the field', (t) => {
  const cert = toPem('CERTIFICATE', certificateFor(p256Key.publicKey));
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const cases: Array<[(p: any) => void, RegExp]> = [
    [(p) => { p.spec = null; }, /^spec must be an object, got null/],
    [(p) => { p.spec = []; }, /^spec must be an object, got an array/],
    [(p) => { delete p.spec.signature; }, /^spec\.signature is required/],
    [(p) => { p.spec.signature = null; }, /^spec\.signature must be an object/],
    [(p) => { p.spec.signature.content = 5; }, /^spec\.signature\.content must be a string/],
    [(p) => { p.spec.signature.content = ''; }, /^spec\.signature\.content must not be empty/],
    [(p) => { p.spec.signature.content = 'abc'; }, /^spec\.signature\.content is not valid standard base64/],
    [(p) => { p.spec.signature.content = 'QR=='; }, /^spec\.signature\.content is not canonical base64/],
    [(p) => { p.spec.signature.content = 'a-b_'; }, /^spec\.signature\.content is not valid standard base64/],
    [(p) => { p.spec.signature.publicKey = null; }, /^spec\.signature\.publicKey must be an object/],
    [(p) => { p.spec.signature.publicKey = [null]; }, /^spec\.signature\.publicKey must be an object, got an array/],
    [(p) => { p.spec.signature.publicKey.content = null; }, /^spec\.signature\.publicKey\.content must be a string/],
    [(p) => { p.spec.signature.publicKey.content = b64('hello'); }, /publicKey\.content is not a PEM document/],
    [(p) => { p.spec.signature.publicKey.content = b64(cert + cert); }, /holds 2 PEM blocks/],
    [(p) => { p.spec.signature.publicKey.content = b64(`junk\n${cert}`); }, /must start with a PEM BEGIN line/],
    [(p) => { p.spec.signature.publicKey.content = b64(cert.replace('END CERTIFICATE', 'END PUBLIC KEY')); }, /must end with/],
    [(p) => { p.spec.signature.publicKey.content = b64('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'); }, /cannot be parsed/],
    [(p) => { p.spec.signature.publicKey.content = b64('-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n'); }, /cannot be parsed/],
    [(p) => { p.spec.signature.publicKey.content = b64('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n'); }, /PEM type "PRIVATE KEY" is not supported/],
    [(p) => { p.spec.signature.publicKey.content = b64(cert.replace('-----\n', '-----\nProc-Type: 4,ENCRYPTED\n\n')); }, /no headers/],
    [(p) => { p.spec.signature.publicKey.content = b64(`${cert}\u00e9`); }, /non-ASCII/],
    [(p) => { p.spec.data = { hash: { hash: p.spec.data.hash } }; }, /^spec\.data\.hash\.hash is not a known field/],
    [(p) => { p.spec.data.hash.algorithm = 'md5'; }, /^spec\.data\.hash\.algorithm must be one of sha256, sha384, sha512/],
    [(p) => { p.spec.data.hash.algorithm = null; }, /^spec\.data\.hash\.algorithm must be a string, got null/],
    [(p) => { p.spec.data.hash.value = p.spec.data.hash.value.toUpperCase(); }, /^spec\.data\.hash\.value must be lower-case hex/],
    [(p) => { p.spec.data.hash.value = 'zz'.repeat(32); }, /^spec\.data\.hash\.value must be lower-case hex/],
    [(p) => { p.spec.data.hash.algorithm = 'sha384'; }, /^spec\.data\.hash\.value must be 96 hex characters, got 64/],
    [(p) => { p.spec.data.hash.value = [p.spec.data.hash.value]; }, /^spec\.data\.hash\.value must be a string, got an array/],
    [(p) => { p.spec.extra = 1; }, /^spec\.extra is not a known field/],
    [(p) => { p.kind = 'rekord'; }, /^entry\.kind "rekord" is not supported/],
    [(p) => { p.apiVersion = '0.0.2'; }, /^entry\.apiVersion "0\.0\.2" is not supported for kind "hashedrekord"/],
    [(p) => { delete p.apiVersion; }, /^entry\.apiVersion is required/],
    [(p) => { p.kind = 7; }, /^entry\.kind must be a string/],
    [(p) => { p.extra = {}; }, /^entry\.extra is not a known field/],
  ];
  for (const [edit, message] of cases) rejects(t, edited(edit), message);
  for (const input of [null, [], 'entry', 42, true]) rejects(t, input, /^entry must be an object/);
});

test('GHSA-4c4x-jm2x-pf9j: URL fields are refused, never fetched', async (t) => {
  let requests = 0;
  const server = http.createServer((_req, res) => { requests++; res.end(publicKeyPem(p256Key.publicKey)); });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/key.pem`;
  try {
    rejects(t, edited((p) => { p.spec.signature.publicKey = { url }; }), /^spec\.signature\.publicKey\.url is not a known field/);
    rejects(t, edited((p) => { p.spec.signature.publicKey.url = url; }), /^spec\.signature\.publicKey\.url is not a known field/);
    rejects(t, edited((p) => { p.spec.data.url = url; }), /^spec\.data\.url is not a known field/);
    // give any stray request time to arrive before counting (a round trip on loopback, not a timing assertion)
    await new Promise<void>((resolve) => http.get(url, (res) => { res.resume(); res.on('end', resolve); }));
    t.is(requests, 1); // only our own probe above
  } finally {
    server.close();
  }
});

test('GHSA-frqx-jfcm-6jjr: null anywhere in a valid entry is a 400, never a crash', (t) => {
  const paths = [[], ['spec'], ['spec', 'signature'], ['spec', 'signature', 'content'], ['spec', 'signature', 'publicKey'],
    ['spec', 'signature', 'publicKey', 'content'], ['spec', 'data'], ['spec', 'data', 'hash'], ['spec', 'data', 'hash', 'algorithm'],
    ['spec', 'data', 'hash', 'value'], ['kind'], ['apiVersion']];
  for (const path of paths) {
    const input = edited((p) => {
      if (path.length === 0) return;
      let node = p;
      for (const k of path.slice(0, -1)) node = node[k];
      node[path[path.length - 1]] = null;
    });
    const value = path.length === 0 ? null : input;
    t.throws(() => canonicalizeProposedEntry(value), { instanceOf: BadRequestError }, path.join('.'));
  }
});

const valid = signedProposal(p256Key, data).proposal;
const PATHS = [[], ['spec'], ['spec', 'signature'], ['spec', 'signature', 'content'], ['spec', 'signature', 'publicKey'],
  ['spec', 'signature', 'publicKey', 'content'], ['spec', 'data'], ['spec', 'data', 'hash'], ['spec', 'data', 'hash', 'algorithm'],
  ['spec', 'data', 'hash', 'value'], ['kind'], ['apiVersion']];

test('property: any JSON value at any position of an entry is either accepted or a BadRequestError', (t) => {
  t.notThrows(() => fc.assert(fc.property(fc.constantFrom(...PATHS), fc.jsonValue({ maxDepth: 3 }), fc.boolean(), (path, value, replace) => {
    const input: any = JSON.parse(JSON.stringify(valid));
    let target: unknown = input;
    if (path.length === 0) target = value;
    else {
      let node = input;
      for (const k of path.slice(0, -1)) node = node[k];
      const last = path[path.length - 1];
      if (replace) node[last] = value;
      else if (typeof node[last] === 'object' && node[last] !== null) node[last].extra = value;
      else node[last] = value;
    }
    try {
      t.true(Buffer.isBuffer(canonicalizeProposedEntry(target)));
    } catch (err) {
      if (!(err instanceof BadRequestError)) throw err;
    }
  }), { numRuns: 300 }));
});
