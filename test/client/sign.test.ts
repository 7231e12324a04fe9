/**
 * signArtifact against an in-memory CA and log (TestPki) reached through a fetch stand-in, so every answer a
 * server could give, including wrong ones, can be produced. The real servers are in e2e.test.ts.
 */
import test from 'ava';
import { createPublicKey, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pemToDerList, derToPem } from '../../core/pem.ts';
import type { Signer } from '../../core/signer.ts';
import { leafHash } from '../../log/merkle/hash.ts';
import { SigningError, signArtifact, tokenChallenge } from '../../client/sign.ts';
import { createVerifier } from '../../client/verify/index.ts';
import { canonicalize } from '../../client/verify/tlog-body.ts';
import { EMAIL, ISSUER, mth, path, TestPki } from './pki-fixture.ts';

const jwt = (payload: object) => `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.sig`;
const token = jwt({ iss: ISSUER, sub: 'alice-sub', email: EMAIL, email_verified: true });

test('the proof-of-possession challenge is the verified email, else the subject', (t) => {
  t.is(tokenChallenge(token), EMAIL);
  t.is(tokenChallenge(jwt({ email: EMAIL, email_verified: 'true' })), EMAIL);
  t.is(tokenChallenge(jwt({ sub: 'spiffe://example/ns/app' })), 'spiffe://example/ns/app');
  t.throws(() => tokenChallenge(jwt({ email: EMAIL, email_verified: false, sub: 'x' })), { instanceOf: SigningError, message: /token: .*not verified/ });
  t.throws(() => tokenChallenge(jwt({ email: EMAIL, sub: 'x' })), { message: /not verified/ });
  t.throws(() => tokenChallenge(jwt({ email_verified: true })), { message: /neither an email nor a subject/ });
  t.throws(() => tokenChallenge('a.b'), { message: /not a JWT/ });
  t.throws(() => tokenChallenge(`${token}.`), { message: /not a JWT/ });
  t.throws(() => tokenChallenge('a.!!!.c'), { message: /not JSON/ });
});

test('GHSA-f83f-xpx7-ffpw: a token made of dots is refused after counting, without splitting it', (t) => {
  t.throws(() => tokenChallenge('.'.repeat(60_000)), { message: /not a JWT/ });
  t.throws(() => tokenChallenge('.'.repeat(1_000_000)), { message: /too long/ });
});

type Answer = { status: number; body: unknown };
interface FakeOptions {
  ca?: (leafPem: string, signer: Signer) => Answer;
  log?: (proposed: Record<string, unknown>, good: Record<string, any>) => Answer;
}

/** A fetch that answers /api/v2/signingCert and /api/v1/log/entries from a TestPki, or as the test says. */
function fakeFetch(pki: TestPki, o: FakeOptions = {}): typeof fetch {
  return (async (url: string, init: RequestInit) => {
    const req = JSON.parse(String(init.body));
    let answer: Answer;
    if (url.endsWith('/api/v2/signingCert')) {
      const der = pemToDerList(req.publicKeyRequest.publicKey.content, 'PUBLIC KEY')[0]!;
      const signer = { publicKeyDer: der, publicKey: createPublicKey({ key: der, format: 'der', type: 'spki' }) } as Signer;
      const leafPem = derToPem(pki.leaf(signer));
      answer = o.ca?.(leafPem, signer) ?? { status: 201, body: { signedCertificateEmbeddedSct: { chain: { certificates: [leafPem, derToPem(pki.intermediateDer)] } } } };
    } else if (url.endsWith('/api/v1/log/entries')) {
      const body = Buffer.from(canonicalize(req)!);
      const index = pki.append(body);
      const integratedTime = Math.floor(pki.now / 1000);
      const leaves = pki.entries.map((e) => leafHash(e));
      const good = {
        [leafHash(body).toString('hex')]: {
          body: body.toString('base64'), integratedTime, logID: pki.rekor.keyId.toString('hex'), logIndex: index,
          verification: {
            inclusionProof: { checkpoint: pki.checkpoint(leaves.length), hashes: path(index, leaves).map((h) => h.toString('hex')), logIndex: index, rootHash: mth(leaves).toString('hex'), treeSize: leaves.length },
            signedEntryTimestamp: pki.setFor(body, integratedTime, index).toString('base64'),
          },
        },
      };
      answer = o.log?.(req, good) ?? { status: 201, body: good };
    } else {
      answer = { status: 404, body: { message: 'no such route' } };
    }
    return new Response(typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body), { status: answer.status, headers: { 'Content-Type': 'application/json' } });
  }) as typeof fetch;
}

const sign = (pki: TestPki, o: FakeOptions = {}, extra: Partial<Parameters<typeof signArtifact>[0]> = {}) =>
  signArtifact({ artifact: Buffer.from('payload'), identityToken: token, fulcioUrl: 'https://ca.example', rekorUrl: 'https://rekor.example/', fetch: fakeFetch(pki, o), ...extra });

test('signs into a v0.3 bundle that verifies, with progress naming each step', async (t) => {
  const pki = new TestPki();
  const lines: string[] = [];
  const bundle = await sign(pki, {}, { onProgress: (l) => lines.push(l) });
  t.is(bundle.mediaType, 'application/vnd.dev.sigstore.bundle.v0.3+json');
  t.truthy(bundle.verificationMaterial.certificate);
  t.is(bundle.verificationMaterial.tlogEntries.length, 1);
  const result = createVerifier(pki.trustedRoot(), { now: () => pki.now + 1000 }).verify({ artifact: Buffer.from('payload'), bundle, policy: { identity: EMAIL, issuer: ISSUER } });
  t.is(result.identity, EMAIL);
  t.regex(lines.join('\n'), /certificate for alice@example.com from https:\/\/ca.example[\s\S]*Logged as entry \d+ in https:\/\/rekor.example$/);
});

test('errors name the step and carry what the server said', async (t) => {
  const pki = new TestPki();
  await t.throwsAsync(sign(pki, { ca: () => ({ status: 401, body: { code: 16, message: 'invalid identity token' } }) }), { instanceOf: SigningError, message: 'CA: https://ca.example/api/v2/signingCert said 401: invalid identity token' });
  await t.throwsAsync(sign(pki, { log: () => ({ status: 400, body: { code: 400, message: 'bad entry' } }) }), { message: 'log: https://rekor.example/api/v1/log/entries said 400: bad entry' });
  await t.throwsAsync(sign(pki, { ca: () => ({ status: 503, body: 'upstream down' }) }), { message: /CA: .* said 503: upstream down/ });
  const offline = (async () => { throw new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED 127.0.0.1:1') }); }) as unknown as typeof fetch;
  await t.throwsAsync(sign(pki, {}, { fetch: offline }), { message: /CA: cannot reach https:\/\/ca.example\/api\/v2\/signingCert \(connect ECONNREFUSED/ });
  await t.throwsAsync(sign(pki, {}, { identityToken: jwt({ email: EMAIL }) }), { message: /token: .*not verified/ });
});

test('the CA must certify our key, with an embedded SCT', async (t) => {
  const pki = new TestPki();
  const otherKey = new TestPki().leaf({ publicKeyDer: pki.ct.publicKeyDer } as Signer);
  await t.throwsAsync(sign(pki, { ca: () => ({ status: 201, body: { signedCertificateEmbeddedSct: { chain: { certificates: [derToPem(otherKey)] } } } }) }), { message: 'CA: the certificate is not for our key' });
  await t.throwsAsync(sign(pki, { ca: (pem) => ({ status: 201, body: { signedCertificateDetachedSct: { chain: { certificates: [pem] }, signedCertificateTimestamp: 'AA==' } } }) }), { message: /detached SCT/ });
  await t.throwsAsync(sign(pki, { ca: () => ({ status: 201, body: { signedCertificateEmbeddedSct: { chain: { certificates: [] } } } }) }), { message: /no certificate chain/ });
});

test('rekor#469 / #2799: the log answer must be one entry, named by its leaf hash, holding what we proposed', async (t) => {
  const pki = new TestPki();
  await t.throwsAsync(sign(pki, { log: (_p, good) => ({ status: 201, body: { ...good, ['0'.repeat(64)]: Object.values(good)[0] } }) }), { message: /holds 2 entries/ });
  await t.throwsAsync(sign(pki, { log: (_p, good) => ({ status: 201, body: { ['ab'.repeat(32)]: Object.values(good)[0] } }) }), { message: /UUID .* is not the leaf hash/ });
  await t.throwsAsync(sign(pki, {
    log: (proposed) => {
      const swapped = structuredClone(proposed) as any;
      swapped.spec.data.hash.value = '00'.repeat(32);
      const body = Buffer.from(canonicalize(swapped)!);
      return { status: 201, body: { [leafHash(body).toString('hex')]: { body: body.toString('base64'), integratedTime: 1, logID: '00'.repeat(32), logIndex: 0, verification: {} } } };
    },
  }), { message: 'log: the returned entry is not the entry we proposed' });
  await t.throwsAsync(sign(pki, { log: (_p, good) => { const e = Object.values(good)[0]; delete e.verification.signedEntryTimestamp; return { status: 201, body: good }; } }), { message: /malformed response: verification.signedEntryTimestamp: missing/ });
  // An 80-hex entry id (tree id prefix) is accepted when its last 64 digits are the leaf hash.
  const bundle = await sign(pki, { log: (_p, good) => ({ status: 201, body: { [`0000000000000001${Object.keys(good)[0]}`]: Object.values(good)[0] } }) });
  t.is(bundle.verificationMaterial.tlogEntries.length, 1);
});

test('a file is hashed and signed as one stream: the bundle verifies over its bytes; an unreadable file costs no certificate', async (t) => {
  const pki = new TestPki();
  const dir = mkdtempSync(join(tmpdir(), 'sigstack-stream-'));
  try {
    // Several read chunks (1 MiB each) and a partial last one.
    const bytes = randomBytes(3 * 1024 * 1024 + 12_345);
    writeFileSync(join(dir, 'big.bin'), bytes);
    const bundle = await sign(pki, {}, { artifact: { path: join(dir, 'big.bin') } });
    const result = createVerifier(pki.trustedRoot(), { now: () => pki.now + 1000 }).verify({ artifact: bytes, bundle, policy: { identity: EMAIL, issuer: ISSUER } });
    t.is(result.identity, EMAIL);

    let requests = 0;
    const counting = (async (...args: Parameters<typeof fetch>) => {
      requests++;
      return fakeFetch(pki, {})(...args);
    }) as typeof fetch;
    await t.throwsAsync(sign(pki, {}, { artifact: { path: join(dir, 'missing.bin') }, fetch: counting }), { instanceOf: SigningError, message: /^artifact: cannot read .*missing\.bin: ENOENT/ });
    t.is(requests, 0, 'the CA was not asked');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
