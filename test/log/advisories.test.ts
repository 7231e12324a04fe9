/**
 * Log-wide rows of SECURITY-ADVISORIES.md that had code but no test able to fail:
 *  - GHSA-2h5h-59f5-c5x9 / rekor#2831 (decompression without a bound): a compressed request body is refused by
 *    name on every POST (Rekor and CT), never inflated;
 *  - rekor#1334 / tesseract #814 (request size): a chunked body with no Content-Length is cut at the limit too;
 *  - sunlight 903d987 (CT dedup cache keys): a resubmission only ever gets the SCT of its own logged leaf;
 *  - sunlight 6ffa693 (unverified checkpoints stored): `log audit` saves a checkpoint only after it verified.
 */
import test from 'ava';
import http from 'node:http';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { generateSigner } from '../../core/signer.ts';
import { openMerkleLog } from '../../log/merkle-log.ts';
import { CtLog, ctDedupKey } from '../../log/ct/ct-log.ts';
import { ENTRY_TYPE_PRECERT, ENTRY_TYPE_X509, merkleTreeLeaf, type CtSignedEntry } from '../../core/sct.ts';
import fc from 'fast-check';
import { ctRouter } from '../../log/ct/routes.ts';
import { audit } from '../../client/commands/log.ts';
import { serveRouters } from '../helpers/http.ts';
import { hashedRekordProposal } from '../helpers/rekord.ts';
import { tempDbPath } from '../log-engine/temp-dir.ts';
import { makeIntermediate, makeLeaf, makeRoot } from '../ct/test-pki.ts';
import { post, proposal, startIndexedRekor } from './rekor-server.ts';

const root = makeRoot();
const intermediate = makeIntermediate(root);

test('GHSA-2h5h-59f5-c5x9 / rekor#2831: compressed request bodies are refused by name, never inflated (Rekor and CT)', async (t) => {
  const rekor = await startIndexedRekor(tempDbPath(t));
  t.teardown(rekor.close);
  const ctLog = openMerkleLog({ path: ':memory:' });
  const ct = await serveRouters(ctRouter(new CtLog({ log: ctLog, signer: generateSigner(), roots: [root.der] })));
  t.teardown(async () => { await ct.close(); await ctLog.close(); });

  const entry = Buffer.from(JSON.stringify(hashedRekordProposal().proposal));
  // 16 MiB of spaces: valid JSON padding once inflated, ~16 KiB on the wire (far under the 128 KiB limit)
  const bomb = gzipSync(Buffer.concat([entry, Buffer.alloc(16 * 1024 * 1024, 0x20)]));
  const bodies: [string, Buffer][] = [
    ['gzip', gzipSync(entry)], ['gzip', bomb], ['deflate', deflateSync(entry)], ['br', brotliCompressSync(entry)],
    ['x-gzip', gzipSync(entry)], ['GZIP', gzipSync(entry)], ['compress', entry], ['gzip, identity', gzipSync(entry)], ['identity, gzip', gzipSync(entry)],
  ];
  const send = (url: string, path: string, encoding: string, body: Buffer) =>
    fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': encoding }, body: new Uint8Array(body) });
  for (const [encoding, body] of bodies) {
    for (const path of ['/api/v1/log/entries', '/api/v1/log/entries/retrieve', '/api/v1/index/retrieve']) {
      const res = await send(rekor.url, path, encoding, body);
      const err = await res.json() as { code: number; message: string };
      t.is(res.status, 400, `${encoding} ${path}: ${err.message}`);
      t.is(err.message, `unsupported content-encoding "${encoding}"`);
    }
    const res = await send(ct.url, '/ct/v1/add-chain', encoding, gzipSync(JSON.stringify({ chain: [makeLeaf(intermediate, { poison: false }).toString('base64')] })));
    t.is(res.status, 400);
    t.is(await res.text(), `unsupported content-encoding "${encoding}"`);
  }
  t.is(rekor.log.size(), 0);
  t.is(ctLog.size(), 0);
  // identity is no encoding at all
  t.is((await send(rekor.url, '/api/v1/log/entries', 'identity', entry)).status, 201);
});

/** A POST whose body is sent in chunks with no Content-Length; resolves with the status and body the server answered. */
function postChunked(url: string, path: string, chunks: Buffer[]): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = http.request(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (res) => {
      answered = true;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    // the server may answer and close before the upload ends: that is the point, not an error
    req.on('error', (e) => (answered ? undefined : reject(e)));
    (async () => {
      for (const c of chunks) {
        if (req.destroyed) return;
        if (!req.write(c)) await new Promise((r) => req.once('drain', r));
      }
      req.end();
    })().catch(reject);
  });
}

test('rekor#1334 / tesseract #814: a chunked body without Content-Length is cut at the limit (413), nothing appended', async (t) => {
  const rekor = await startIndexedRekor(tempDbPath(t));
  t.teardown(rekor.close);
  // a valid entry padded with whitespace to 200 KiB: over the 128 KiB limit only because of its size
  const entry = Buffer.from(JSON.stringify(proposal(generateSigner()).body));
  const padded = Buffer.concat([entry, Buffer.alloc(200 * 1024 - entry.length, 0x20)]);
  const chunks = Array.from({ length: 50 }, (_, i) => padded.subarray(i * 4096, (i + 1) * 4096));
  const res = await postChunked(rekor.url, '/api/v1/log/entries', chunks);
  t.is(res.status, 413, res.body);
  t.deepEqual(JSON.parse(res.body), { code: 413, message: 'request body is over the limit of 131072 bytes' });
  t.is(rekor.log.size(), 0);
  // the same bytes cut to under the limit, still chunked, go in
  const small = Buffer.concat([entry, Buffer.alloc(1000, 0x20)]);
  t.is((await postChunked(rekor.url, '/api/v1/log/entries', [small.subarray(0, 100), small.subarray(100)])).status, 201);
});

/** RFC 6962 §3.4 MerkleTreeLeaf of an x509 entry, and its leaf hash, written out here (not the log's encoder). */
function x509LeafHash(timestamp: bigint, cert: Buffer): Buffer {
  const head = Buffer.alloc(2 + 8 + 2 + 3);
  head.writeBigUInt64BE(timestamp, 2); // version 0, leaf type 0 (timestamped_entry), then the timestamp
  head.writeUInt16BE(0, 10); // entry type x509_entry
  head.writeUIntBE(cert.length, 12, 3);
  const leaf = Buffer.concat([head, cert, Buffer.alloc(2) /* no extensions */]);
  return createHash('sha256').update(Buffer.concat([Buffer.of(0), leaf])).digest();
}

test('sunlight 903d987: resubmissions get the SCT of their own logged leaf, never another certificate\'s', async (t) => {
  const log = openMerkleLog({ path: ':memory:' });
  t.teardown(() => log.close());
  let now = 1_735_689_600_000;
  const ct = new CtLog({ log, signer: generateSigner(), roots: [root.der], clock: () => now++ });
  const certs = Array.from({ length: 150 }, () => makeLeaf(intermediate, { poison: false }));
  // every certificate twice at once, then once more: a dedup key that confuses two certificates would hand one of
  // them the timestamp of the other's leaf, an SCT for an entry that is not in the log
  const first = await Promise.all(certs.flatMap((c) => [ct.addChain([c, intermediate.der]), ct.addChain([c, intermediate.der])]));
  const again = await Promise.all(certs.map((c) => ct.addChain([c, intermediate.der, root.der])));
  t.is(log.size(), certs.length);
  certs.forEach((cert, i) => {
    const scts = [first[2 * i]!, first[2 * i + 1]!, again[i]!];
    for (const sct of scts) {
      t.is(sct.timestamp, scts[0]!.timestamp);
      t.truthy(log.findByLeafHash(x509LeafHash(sct.timestamp, cert)), `certificate ${i}: its SCT names a leaf the log holds`);
    }
  });
  t.is(new Set(first.map((s) => s.timestamp)).size, certs.length, 'one leaf, one timestamp, per certificate');
});

test('sunlight 903d987: the dedup key is all 256 bits of SHA-256 over the whole entry, and it covers every byte of the entry', (t) => {
  fc.assert(fc.property(
    fc.uint8Array({ minLength: 1, maxLength: 300 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.boolean(),
    (bytes, issuerKeyHash, precert) => {
      const body = Buffer.from(bytes);
      const entry: CtSignedEntry = precert
        ? { type: ENTRY_TYPE_PRECERT, issuerKeyHash: Buffer.from(issuerKeyHash), tbsCertificate: body }
        : { type: ENTRY_TYPE_X509, certificate: body };
      const key = ctDedupKey(entry);
      t.is(key, createHash('sha256').update(merkleTreeLeaf(0n, entry)).digest('hex'));
      t.is(Buffer.from(key, 'hex').length, 32);
      // the last byte of the entry changes the key: nothing of the entry is left out
      const flipped = Buffer.from(body);
      flipped[flipped.length - 1]! ^= 1;
      t.not(ctDedupKey(precert ? { ...entry, tbsCertificate: flipped } as CtSignedEntry : { type: ENTRY_TYPE_X509, certificate: flipped }), key);
    },
  ), { numRuns: 200 });
});

test('sunlight 6ffa693: log audit saves a checkpoint only after it verified, so a bad one can never wedge the next run', async (t) => {
  const path = tempDbPath(t);
  const rekor = await startIndexedRekor(path);
  t.teardown(rekor.close);
  for (let i = 0; i < 3; i++) t.is((await post(rekor.url, '/api/v1/log/entries', proposal(generateSigner()).body)).status, 201);
  const dir = dirname(path);
  const saved = join(dir, 'checkpoint.txt');
  const stranger = join(dir, 'stranger.pem');
  const logKey = join(dir, 'log.pem');
  writeFileSync(stranger, generateSigner().publicKey.export({ type: 'spki', format: 'pem' }));
  writeFileSync(logKey, rekor.signer.publicKey.export({ type: 'spki', format: 'pem' }));

  await t.throwsAsync(audit({ url: rekor.url, checkpoint: saved, publicKey: stranger }), { message: /checkpoint signature does not verify/ });
  t.false(existsSync(saved), 'a checkpoint that did not verify is not saved');

  t.is((await audit({ url: rekor.url, checkpoint: saved, publicKey: logKey })).size, 3);
  const good = readFileSync(saved, 'utf8');
  t.regex(good, /\n3\n/);
  t.is((await post(rekor.url, '/api/v1/log/entries', proposal(generateSigner()).body)).status, 201);
  await t.throwsAsync(audit({ url: rekor.url, checkpoint: saved, publicKey: stranger }));
  t.is(readFileSync(saved, 'utf8'), good, 'nor does it replace the last verified one');
  // and the next run with the right key is not wedged: it proves 3 -> 4 and moves on
  t.is((await audit({ url: rekor.url, checkpoint: saved, publicKey: logKey })).size, 4);
  t.regex(readFileSync(saved, 'utf8'), /\n4\n/);
});
