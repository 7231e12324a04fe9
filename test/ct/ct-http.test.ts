import test from 'ava';
import fc from 'fast-check';
import { createHash, verify } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate } from '@peculiar/asn1-x509';
import { X509Certificate as SigstoreCert } from '@sigstore/core';
import { verifySCTs } from '@sigstore/verify/dist/key/sct.js';
import { generateSigner } from '../../core/signer.ts';
import {
  ENTRY_TYPE_PRECERT, ENTRY_TYPE_X509, merkleTreeLeaf, sctFromJson, sctSignedData, serializeSctList, type SctJson,
} from '../../core/sct.ts';
import { openMerkleLog } from '../../log/merkle-log.ts';
import { leafHash } from '../../log/merkle/hash.ts';
import { verifyConsistency, verifyInclusion } from '../../log/merkle/verify.ts';
import { CtLog } from '../../log/ct/ct-log.ts';
import { ctRouter } from '../../log/ct/routes.ts';
import { verifySthJson, type SignedTreeHead } from '../../log/ct/sth.ts';
import { parsePrecertExtraData, parseX509ExtraData } from '../../log/ct/extra-data.ts';
import { serveRouters } from '../helpers/http.ts';
import { finalCertificate, makeIntermediate, makeLeaf, makeRoot, OID_CT_POISON, OID_PRECERT_SIGNING, resign } from './test-pki.ts';

const root = makeRoot();
const intermediate = makeIntermediate(root);
const T0 = 1_735_689_600_000;
const b64 = (b: Buffer) => b.toString('base64');
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest();

async function setup() {
  const log = openMerkleLog({ path: ':memory:' });
  const signer = generateSigner();
  let now = T0;
  const ct = new CtLog({ log, signer, roots: [root.der], clock: () => now++ });
  const server = await serveRouters(ctRouter(ct));
  const post = (path: string, body: unknown) => fetch(`${server.url}/ct/v1/${path}`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const get = (path: string) => fetch(`${server.url}/ct/v1/${path}`);
  const close = async () => {
    await server.close();
    await log.close();
  };
  return { log, signer, ct, post, get, close };
}

/** RFC 6962 TBS of a precertificate, computed here independently of log/ct. */
function tbsWithoutPoison(precert: Buffer): Buffer {
  const tbs = AsnConvert.parse(precert, Certificate).tbsCertificate;
  tbs.extensions!.splice(tbs.extensions!.findIndex((e) => e.extnID === OID_CT_POISON), 1);
  return Buffer.from(AsnConvert.serialize(tbs));
}

test('add-pre-chain: the SCT signs the RFC 6962 precert entry, and the stock sigstore-js verifier accepts it embedded', async (t) => {
  const s = await setup();
  t.teardown(s.close);
  const precert = makeLeaf(intermediate);
  const res = await s.post('add-pre-chain', { chain: [b64(precert), b64(intermediate.der), b64(root.der)] });
  t.is(res.status, 200);
  const sct = sctFromJson((await res.json()) as SctJson);
  t.deepEqual(sct.logId, s.signer.keyId);
  t.is(sct.timestamp, BigInt(T0));
  t.is(sct.extensions.length, 0);
  const entry = { type: ENTRY_TYPE_PRECERT, issuerKeyHash: sha256(intermediate.spki), tbsCertificate: tbsWithoutPoison(precert) } as const;
  t.true(verify('sha256', sctSignedData(sct.timestamp, entry), s.signer.publicKey, sct.signature));
  t.is(s.log.size(), 1);

  // Oracle: the CA's embedding plan, checked by @sigstore/verify exactly as sigstore-js clients do.
  const ctlogs = [{
    logID: s.signer.keyId, baseURL: 'http://ct', publicKey: s.signer.publicKey,
    validFor: { start: new Date(0), end: new Date(8.64e15) },
  }];
  const issuer = SigstoreCert.parse(Buffer.from(intermediate.der));
  const final = SigstoreCert.parse(Buffer.from(finalCertificate(precert, intermediate, serializeSctList([sct]))));
  t.deepEqual(verifySCTs(final, issuer, ctlogs), [s.signer.keyId]);
  // ...and it is not a verifier that accepts anything: a shifted timestamp or another log's key fails.
  const forged = SigstoreCert.parse(Buffer.from(finalCertificate(precert, intermediate, serializeSctList([{ ...sct, timestamp: sct.timestamp + 1n }]))));
  t.throws(() => verifySCTs(forged, issuer, ctlogs));
  const otherLog = generateSigner();
  t.throws(() => verifySCTs(final, issuer, [{ ...ctlogs[0]!, publicKey: otherLog.publicKey }]));
});

test('add-chain logs a final certificate; get-entries returns the leaves and RFC 6962 extra_data', async (t) => {
  const s = await setup();
  t.teardown(s.close);
  const precert = makeLeaf(intermediate);
  const cert = makeLeaf(intermediate, { poison: false });
  t.is((await s.post('add-pre-chain', { chain: [b64(precert), b64(intermediate.der)] })).status, 200);
  const res = await s.post('add-chain', { chain: [b64(cert), b64(intermediate.der)] });
  t.is(res.status, 200);
  const sct = sctFromJson((await res.json()) as SctJson);
  t.true(verify('sha256', sctSignedData(sct.timestamp, { type: ENTRY_TYPE_X509, certificate: cert }), s.signer.publicKey, sct.signature));

  const body = (await (await s.get('get-entries?start=0&end=99')).json()) as { entries: { leaf_input: string; extra_data: string }[] };
  t.is(body.entries.length, 2);
  const [e0, e1] = body.entries.map((e) => ({ leaf: Buffer.from(e.leaf_input, 'base64'), extra: Buffer.from(e.extra_data, 'base64') }));
  t.deepEqual(e0!.leaf, merkleTreeLeaf(BigInt(T0), { type: ENTRY_TYPE_PRECERT, issuerKeyHash: sha256(intermediate.spki), tbsCertificate: tbsWithoutPoison(precert) }));
  t.deepEqual(parsePrecertExtraData(e0!.extra), { precertificate: precert, chain: [intermediate.der, root.der] });
  t.deepEqual(e1!.leaf, merkleTreeLeaf(sct.timestamp, { type: ENTRY_TYPE_X509, certificate: cert }));
  t.deepEqual(parseX509ExtraData(e1!.extra), [intermediate.der, root.der]);

  const roots = (await (await s.get('get-roots')).json()) as { certificates: string[] };
  t.deepEqual(roots.certificates, [b64(root.der)]);
});

test('get-sth is signed; get-proof-by-hash and get-sth-consistency proofs verify against it', async (t) => {
  const s = await setup();
  t.teardown(s.close);
  const heads: SignedTreeHead[] = [];
  const leaves: Buffer[] = [];
  for (let i = 0; i < 7; i++) {
    t.is((await s.post('add-pre-chain', { chain: [b64(makeLeaf(intermediate)), b64(intermediate.der)] })).status, 200);
    const sth = verifySthJson(await (await s.get('get-sth')).json(), s.signer.publicKey);
    if (!sth) return t.fail('STH signature does not verify');
    t.is(sth.treeSize, i + 1);
    heads.push(sth);
  }
  t.is(verifySthJson({ ...(await (await s.get('get-sth')).json() as object), tree_size: 6 }, s.signer.publicKey), undefined);
  const entries = (await (await s.get('get-entries?start=0&end=6')).json()) as { entries: { leaf_input: string }[] };
  for (const e of entries.entries) leaves.push(Buffer.from(e.leaf_input, 'base64'));

  for (const head of heads) {
    for (let i = 0; i < head.treeSize; i++) {
      const hash = encodeURIComponent(b64(leafHash(leaves[i]!)));
      const p = (await (await s.get(`get-proof-by-hash?hash=${hash}&tree_size=${head.treeSize}`)).json()) as { leaf_index: number; audit_path: string[] };
      t.is(p.leaf_index, i);
      t.true(verifyInclusion(leafHash(leaves[i]!), i, head.treeSize, p.audit_path.map((h) => Buffer.from(h, 'base64')), head.rootHash));
    }
    const latest = heads[heads.length - 1]!;
    const c = (await (await s.get(`get-sth-consistency?first=${head.treeSize}&second=${latest.treeSize}`)).json()) as { consistency: string[] };
    t.true(verifyConsistency(head.treeSize, latest.treeSize, c.consistency.map((h) => Buffer.from(h, 'base64')), head.rootHash, latest.rootHash));
  }
  const ep = (await (await s.get('get-entry-and-proof?leaf_index=2&tree_size=5')).json()) as { leaf_input: string; audit_path: string[] };
  t.true(verifyInclusion(leafHash(Buffer.from(ep.leaf_input, 'base64')), 2, 5, ep.audit_path.map((h) => Buffer.from(h, 'base64')), heads[4]!.rootHash));
  // An unescaped '+' in the hash arrives as a space and is still understood.
  const raw = b64(leafHash(leaves[0]!)).replace(/\//g, '%2F').replace(/=/g, '%3D');
  t.is((await s.get(`get-proof-by-hash?hash=${raw}&tree_size=7`)).status, 200);
});

test('get-entries returns at most 256 entries per call, clipped to the tree', async (t) => {
  const s = await setup();
  t.teardown(s.close);
  // The CT face does not care what the leaves are for paging; fill the engine directly.
  await Promise.all(Array.from({ length: 300 }, (_, i) => s.log.append(Buffer.from(`leaf ${i}`))));
  const page = (await (await s.get('get-entries?start=10&end=299')).json()) as { entries: { leaf_input: string }[] };
  t.is(page.entries.length, 256);
  t.is(Buffer.from(page.entries[0]!.leaf_input, 'base64').toString(), s.log.getEntry(10)!.leaf.toString());
  const tail = (await (await s.get('get-entries?start=290&end=100000')).json()) as { entries: unknown[] };
  t.is(tail.entries.length, 10);
});

async function expect400(t: import('ava').ExecutionContext, s: Awaited<ReturnType<typeof setup>>, res: Response, message: RegExp) {
  const before = s.log.size();
  t.is(res.status, 400, await res.clone().text());
  t.regex(await res.text(), message);
  t.is(s.log.size(), before);
}

test('add-chain / add-pre-chain refusals are 400 with a plain message and leave the tree unchanged', async (t) => {
  const s = await setup();
  t.teardown(s.close);
  t.is((await s.post('add-pre-chain', { chain: [b64(makeLeaf(intermediate)), b64(intermediate.der)] })).status, 200);
  t.is(s.log.size(), 1);
  const other = makeRoot('sigstack test root');
  const otherInt = makeIntermediate(other);
  const precert = makeLeaf(intermediate);
  // Same structure, altered content (the SAN email): the intermediate's signature no longer matches.
  const tampered = Buffer.from(precert);
  tampered[tampered.indexOf('alice@example.com') + 4] = 0x66;
  const otherKey = resign(precert, other.privateKey);
  const pcs = makeIntermediate(intermediate, 'precert signer', OID_PRECERT_SIGNING);
  const cases: [string, unknown, RegExp][] = [
    ['add-pre-chain', { chain: [b64(makeLeaf(otherInt)), b64(otherInt.der), b64(other.der)] }, /accepted root/],
    ['add-pre-chain', { chain: [b64(tampered), b64(intermediate.der)] }, /chain\[0\] is not signed by chain\[1\]/],
    ['add-pre-chain', { chain: [b64(otherKey), b64(intermediate.der)] }, /chain\[0\] is not signed by chain\[1\]/],
    ['add-pre-chain', { chain: [b64(precert), b64(otherInt.der), b64(root.der)] }, /not signed by/],
    ['add-pre-chain', { chain: [b64(precert), b64(intermediate.der), b64(other.der)] }, /does not end at, or chain to, an accepted root/],
    ['add-pre-chain', { chain: [b64(makeLeaf(pcs)), b64(pcs.der), b64(intermediate.der)] }, /precertificate signing certificates/],
    ['add-pre-chain', { chain: [b64(makeLeaf(intermediate, { poison: false })), b64(intermediate.der)] }, /poison extension is missing/],
    ['add-chain', { chain: [b64(makeLeaf(intermediate)), b64(intermediate.der)] }, /precertificate/],
    ['add-pre-chain', { chain: ['!!!not base64!!!', b64(intermediate.der)] }, /not a base64/],
    ['add-pre-chain', { chain: [b64(precert).slice(0, -1)] }, /not a base64/],
    ['add-pre-chain', { chain: Array(11).fill(b64(intermediate.der)) }, /at most 10/],
    ['add-pre-chain', { chain: b64(precert) }, /must be an array/],
    ['add-pre-chain', { chain: [] }, /empty/],
    ['add-pre-chain', { chain: [42] }, /not a base64/],
    ['add-pre-chain', { chain: [b64(Buffer.from('hello'))] }, /not a DER X.509/],
    ['add-pre-chain', [b64(precert)], /JSON object/],
    ['add-pre-chain', 'null', /JSON object/],
    ['add-pre-chain', '{"chain": [', /not valid JSON/],
    ['add-chain', '', /JSON object/],
  ];
  for (const [path, body, message] of cases) await expect400(t, s, await s.post(path, body), message);
  t.is(s.log.size(), 1);
});

test('query parameter refusals are 400 (never 500), unknown hashes 404', async (t) => {
  const s = await setup();
  t.teardown(s.close);
  for (let i = 0; i < 3; i++) await s.post('add-pre-chain', { chain: [b64(makeLeaf(intermediate)), b64(intermediate.der)] });
  const bad: [string, RegExp][] = [
    ['get-entries?start=2&end=1', /larger than end/],
    ['get-entries?start=3&end=5', /beyond the tree size/],
    ['get-entries?start=0', /missing parameter end/],
    ['get-entries?start=-1&end=2', /non-negative decimal/],
    ['get-entries?start=1e0&end=2', /non-negative decimal/],
    ['get-entries?start=01&end=2', /non-negative decimal/],
    ['get-entries?start=0&start=1&end=2', /more than once/],
    ['get-entries?start=0&end=99999999999999999999', /non-negative decimal/],
    ['get-sth-consistency?first=0&second=2', /at least 1/],
    ['get-sth-consistency?first=3&second=2', /larger than second/],
    ['get-sth-consistency?first=1&second=4', /beyond the tree size/],
    ['get-sth-consistency?first=x&second=2', /non-negative decimal/],
    ['get-proof-by-hash?hash=%%%&tree_size=1', /not valid base64/],
    ['get-proof-by-hash?hash=AAAA&tree_size=1', /32-byte/],
    [`get-proof-by-hash?hash=${encodeURIComponent(b64(Buffer.alloc(32)))}&tree_size=0`, /at least 1/],
    [`get-proof-by-hash?hash=${encodeURIComponent(b64(Buffer.alloc(32)))}&tree_size=4`, /beyond the tree size/],
    ['get-proof-by-hash?tree_size=1', /missing parameter hash/],
    ['get-entry-and-proof?leaf_index=3&tree_size=3', /not below tree_size/],
    ['get-entry-and-proof?leaf_index=0&tree_size=4', /beyond the tree size/],
  ];
  for (const [path, message] of bad) await expect400(t, s, await s.get(path), message);
  t.is((await s.get(`get-proof-by-hash?hash=${encodeURIComponent(b64(Buffer.alloc(32)))}&tree_size=3`)).status, 404);
  // A leaf that exists but only in a later tree.
  const last = (await (await s.get('get-entries?start=2&end=2')).json()) as { entries: { leaf_input: string }[] };
  const hash = encodeURIComponent(b64(leafHash(Buffer.from(last.entries[0]!.leaf_input, 'base64'))));
  t.is((await s.get(`get-proof-by-hash?hash=${hash}&tree_size=2`)).status, 404);
  t.is((await s.get(`get-proof-by-hash?hash=${hash}&tree_size=3`)).status, 200);
  t.deepEqual(await (await s.get('get-sth-consistency?first=2&second=2')).json(), { consistency: [] });
});

test('fuzz: any single-byte corruption of a valid chain, and any JSON body, is a 400 that logs nothing', async (t) => {
  const s = await setup();
  t.teardown(s.close);
  const precert = makeLeaf(intermediate);
  t.is((await s.post('add-pre-chain', { chain: [b64(makeLeaf(intermediate)), b64(intermediate.der)] })).status, 200);
  await fc.assert(fc.asyncProperty(fc.nat(), fc.integer({ min: 1, max: 255 }), fc.boolean(), async (pos, xor, inIssuer) => {
    const chain = [Buffer.from(precert), Buffer.from(intermediate.der)];
    const target = chain[inIssuer ? 1 : 0]!;
    target[pos % target.length]! ^= xor;
    const res = await s.post('add-pre-chain', { chain: chain.map(b64) });
    return res.status === 400 && s.log.size() === 1;
  }), { numRuns: 30 });
  await fc.assert(fc.asyncProperty(fc.jsonValue(), async (body) => {
    const res = await s.post('add-pre-chain', { chain: body });
    const res2 = await s.post('add-chain', body);
    return res.status === 400 && res2.status === 400 && s.log.size() === 1;
  }), { numRuns: 25 });
});

test('fuzz: arbitrary query values never give a 500', async (t) => {
  const s = await setup();
  t.teardown(s.close);
  await s.post('add-pre-chain', { chain: [b64(makeLeaf(intermediate)), b64(intermediate.der)] });
  const paths = ['get-entries?start=%s&end=%s', 'get-sth-consistency?first=%s&second=%s', 'get-proof-by-hash?hash=%s&tree_size=%s', 'get-entry-and-proof?leaf_index=%s&tree_size=%s'];
  const value = fc.oneof(fc.string({ maxLength: 24 }), fc.integer({ min: -2, max: 3 }).map(String), fc.constant(b64(Buffer.alloc(32))));
  await t.notThrowsAsync(fc.assert(fc.asyncProperty(fc.constantFrom(...paths), value, value, async (p, a, b) => {
    const res = await s.get(p.replace('%s', encodeURIComponent(a)).replace('%s', encodeURIComponent(b)));
    return [200, 400, 404].includes(res.status);
  }), { numRuns: 50 }));
});

test('request bodies over the limit are refused before parsing (tesseract #814)', async (t) => {
  const s = await setup();
  t.teardown(s.close);
  const res = await s.post('add-pre-chain', { chain: ['A'.repeat(200 * 1024)] });
  t.is(res.status, 413);
  t.is(s.log.size(), 0);
});
