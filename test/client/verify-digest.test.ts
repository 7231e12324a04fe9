/**
 * The verifier given the artifact's SHA-256 instead of its bytes (`{ sha256 }`, what `sigstack verify` passes
 * after streaming the file): the same result as with the bytes, the same refusals with the same codes, and the
 * signature still checked, as a prehashed ECDSA P-256 verification over the digest. Keyless bundles come from the
 * in-memory PKI fixture; key-based ones from the same fixture with a public-key body (no log server needed).
 * Managed-key signing of a file streamed from disk is checked against a stub log that echoes the proposed entry.
 */
import { createHash, verify as cryptoVerify } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { publicKeyHint, signArtifactWithKey } from '../../client/sign-key.ts';
import { SigningError } from '../../client/sign.ts';
import { canonicalize } from '../../client/verify/tlog-body.ts';
import { createVerifier } from '../../client/verify/index.ts';
import { derToPem } from '../../core/pem.ts';
import { generateSigner, type Signer } from '../../core/signer.ts';
import { leafHash } from '../../log/merkle/hash.ts';
import { EMAIL, ISSUER, refuses, TestPki } from './pki-fixture.ts';

type Json = Record<string, any>;
const pki = new TestPki();
const verifier = createVerifier(pki.trustedRoot(), { now: () => pki.now });
const policy = { identity: EMAIL, issuer: ISSUER };
const artifact = Buffer.from('release 3.0, verified from its digest');
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest();
const digest = sha256(artifact);
const keyless = pki.sign(artifact);
const signerA = generateSigner();
const signerB = generateSigner();

/** A key-based bundle: the fixture's bundle with a hashedrekord naming the signer's PUBLIC KEY and a key hint. */
function keyBundle(data: Buffer, signer: Signer, signature = signer.sign(data)): Json {
  const body = (d: Buffer, s: Buffer) => Buffer.from(canonicalize({
    apiVersion: '0.0.1', kind: 'hashedrekord',
    spec: {
      data: { hash: { algorithm: 'sha256', value: d.toString('hex') } },
      signature: { content: s.toString('base64'), publicKey: { content: Buffer.from(derToPem(signer.publicKeyDer, 'PUBLIC KEY')).toString('base64') } },
    },
  })!);
  const b = pki.sign(data, { leafSigner: signer, signature, body });
  delete b.verificationMaterial.certificate;
  b.verificationMaterial.publicKey = { hint: publicKeyHint(signer.publicKey) };
  return b;
}
const keyed = keyBundle(artifact, signerA);
const run = (art: unknown, bundle: unknown = keyless) => verifier.verify({ artifact: art as Uint8Array, bundle, policy });
const runKey = (art: unknown, bundle: unknown = keyed, publicKey = signerA.publicKey) => verifier.verifyWithKey({ artifact: art as Uint8Array, bundle, publicKey });

test('keyless: a bundle verifies identically given the bytes and given { sha256 } of them', (t) => {
  const fromBytes = run(artifact);
  t.deepEqual(run({ sha256: digest }), fromBytes);
  // A Uint8Array that is not a Buffer is a digest too.
  t.deepEqual(run({ sha256: new Uint8Array(digest) }), fromBytes);
  t.true(fromBytes.checks.some((c) => c.startsWith('signature: verifies')));
});

test('key-based: a bundle verifies identically given the bytes and given { sha256 } of them', (t) => {
  const fromBytes = runKey(artifact);
  t.deepEqual(runKey({ sha256: digest }), fromBytes);
  t.true(fromBytes.checks.some((c) => c.startsWith('signature: verifies')));
});

test('a wrong digest is refused with the same code as wrong bytes (DIGEST), keyless and key-based', (t) => {
  const other = Buffer.from('another release');
  refuses(t, () => run(other), 'DIGEST');
  refuses(t, () => run({ sha256: sha256(other) }), 'DIGEST');
  refuses(t, () => runKey(other), 'DIGEST');
  refuses(t, () => runKey({ sha256: sha256(other) }), 'DIGEST');
  // One bit off: still the digest check, not a later one.
  const flipped = Buffer.from(digest);
  flipped[31]! ^= 1;
  refuses(t, () => run({ sha256: flipped }), 'DIGEST');
  refuses(t, () => runKey({ sha256: flipped }), 'DIGEST');
});

test('with a digest, the bundle digest AND the logged digest must both be the given one', (t) => {
  // The bundle's messageDigest rewritten to the given digest, while the log still names the real one.
  const other = sha256(Buffer.from('another release'));
  for (const [b, go] of [[structuredClone(keyless), run], [structuredClone(keyed), runKey]] as const) {
    b.messageSignature.messageDigest.digest = other.toString('base64');
    refuses(t, () => go({ sha256: other }, b), 'TLOG_BODY', /logged digest/);
  }
});

test('a digest must be exactly 32 bytes in a { sha256 } object: 31, 33, hex text or other fields are refused (POLICY)', (t) => {
  for (const go of [run, runKey]) {
    t.truthy(go({ sha256: digest }));
    refuses(t, () => go({ sha256: digest.subarray(0, 31) }), 'POLICY', /32 bytes, not 31/);
    refuses(t, () => go({ sha256: Buffer.concat([digest, Buffer.of(0)]) }), 'POLICY', /32 bytes, not 33/);
    refuses(t, () => go({ sha256: createHash('sha512').update(artifact).digest() }), 'POLICY', /32 bytes, not 64/);
    refuses(t, () => go({ sha256: digest.toString('hex') }), 'POLICY', /SHA-256 digest of 32 bytes/);
    refuses(t, () => go({ sha256: digest, sha512: Buffer.alloc(64) }), 'POLICY', /bytes or \{ sha256 \}/);
    refuses(t, () => go({}), 'POLICY', /bytes or \{ sha256 \}/);
    refuses(t, () => go(null), 'POLICY');
    refuses(t, () => go(artifact.toString()), 'POLICY');
  }
});

test('with a digest the signature is checked: another key, other data, the digest signed as a message, r = s = 0', (t) => {
  const byB = signerB.sign(artifact);
  // Keyless: the log names the certificate, the bundle and the log carry B's signature.
  refuses(t, () => run({ sha256: digest }, pki.sign(artifact, { signature: byB })), 'SIGNATURE');
  // Key-based: the log names key A, the signature is B's.
  refuses(t, () => runKey({ sha256: digest }, keyBundle(artifact, signerA, byB)), 'SIGNATURE');
  // The right key over other data, or over SHA-256(digest) (a verifier that hashed the digest again would accept it).
  for (const sig of [signerA.sign(Buffer.from('something else')), signerA.sign(digest), Buffer.from('3006020100020100', 'hex')]) {
    refuses(t, () => run({ sha256: digest }, pki.sign(artifact, { leafSigner: signerA, signature: sig })), 'SIGNATURE');
    refuses(t, () => runKey({ sha256: digest }, keyBundle(artifact, signerA, sig)), 'SIGNATURE');
  }
  // Each of those is refused the same way with the bytes.
  refuses(t, () => runKey(artifact, keyBundle(artifact, signerA, byB)), 'SIGNATURE');
});

test('a DSSE bundle is refused in digest mode as with bytes (BUNDLE): it has no message signature to check', (t) => {
  const dsse: Json = { ...structuredClone(keyless), dsseEnvelope: { payload: '', payloadType: 'application/vnd.in-toto+json', signatures: [] } };
  delete dsse.messageSignature;
  refuses(t, () => run(artifact, dsse), 'BUNDLE', /DSSE/);
  refuses(t, () => run({ sha256: digest }, dsse), 'BUNDLE', /DSSE/);
  refuses(t, () => runKey({ sha256: digest }, dsse), 'BUNDLE', /DSSE/);
});

/** A log that accepts any entry: echoes the proposed body back with placeholder proofs (checkLogResponse reads only their shape). */
const echoLog = (async (_url: string, init: { body: string }) => {
  const body = Buffer.from(canonicalize(JSON.parse(init.body))!);
  const entry = {
    body: body.toString('base64'), integratedTime: 1_700_000_000, logID: '00'.repeat(32), logIndex: 0,
    verification: { signedEntryTimestamp: 'AA==', inclusionProof: { checkpoint: 'c', hashes: [], logIndex: 0, rootHash: '00'.repeat(32), treeSize: 1 } },
  };
  return new Response(JSON.stringify({ [leafHash(body).toString('hex')]: entry }), { status: 201 });
}) as unknown as typeof fetch;

test('sign --key streams a file: the same digest as the bytes, a signature over them; an unreadable file is an artifact error', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sigstack-stream-sign-'));
  try {
    // Larger than one 1 MiB read, so several chunks go through the hash and the signer.
    const data = Buffer.alloc(3 * 1024 * 1024 + 17, 'sigstack');
    writeFileSync(join(dir, 'artifact'), data);
    const fromFile = await signArtifactWithKey({ artifact: { path: join(dir, 'artifact') }, key: signerA.privateKey, rekorUrl: 'http://log.test', fetch: echoLog }) as Json;
    const fromBytes = await signArtifactWithKey({ artifact: data, key: signerA.privateKey, rekorUrl: 'http://log.test', fetch: echoLog }) as Json;
    t.is(fromFile.messageSignature.messageDigest.digest, sha256(data).toString('base64'));
    t.is(fromFile.messageSignature.messageDigest.digest, fromBytes.messageSignature.messageDigest.digest);
    t.true(cryptoVerify('sha256', data, signerA.publicKey, Buffer.from(fromFile.messageSignature.signature, 'base64')));
    const err = await t.throwsAsync(signArtifactWithKey({ artifact: { path: join(dir, 'missing') }, key: signerA.privateKey, rekorUrl: 'http://log.test', fetch: echoLog }),
      { instanceOf: SigningError });
    t.is(err?.step, 'artifact');
    t.regex(err!.message, /cannot read .*missing: ENOENT/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
