import test from 'ava';
import fc from 'fast-check';
import { createHash, verify } from 'node:crypto';
import { verifyCheckpoint } from '../../log/checkpoint.ts';
import { leafHash } from '../../log/merkle/hash.ts';
import { verifyConsistency, verifyInclusion } from '../../log/merkle/verify.ts';
import { certificateFor, ecKey, expectedBody, signedProposal, toPem } from './fixtures.ts';
import { NOW_MS, SIGNER_NAME, TREE_ID, postEntry, startRekor, type RekorServer } from './rekor-server.ts';

const TREE_HEX = BigInt(TREE_ID).toString(16).padStart(16, '0');
const key = ecKey('P-256');
let counter = 0;
const fresh = (form: 'key' | 'cert' = 'key') => signedProposal(key, Buffer.from(`artifact ${counter++}`), form);

async function withRekor(run: (r: RekorServer) => Promise<void>): Promise<void> {
  const r = await startRekor();
  try {
    await run(r);
  } finally {
    await r.close();
  }
}

async function getJson(url: string): Promise<{ status: number; body: any; res: Response }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.json(), res };
}

/** Independent checks of one LogEntry response against the log key (no code under test involved). */
function checkEntry(t: import('ava').ExecutionContext, r: RekorServer, json: any, expectedBodyText?: string) {
  const keys = Object.keys(json);
  t.is(keys.length, 1);
  const [uuid] = keys;
  const e = json[uuid];
  const body = Buffer.from(e.body, 'base64');
  if (expectedBodyText) t.is(body.toString(), expectedBodyText); // rekor#2799: the body is what was proposed
  t.regex(uuid, /^[0-9a-f]{80}$/);
  t.is(uuid.slice(0, 16), TREE_HEX);
  t.is(uuid.slice(16), leafHash(body).toString('hex')); // rekor#469
  t.is(e.logID, createHash('sha256').update(r.signer.publicKeyDer).digest('hex'));
  t.is(e.integratedTime, Math.floor(NOW_MS / 1000));
  const proof = e.verification.inclusionProof;
  t.is(proof.logIndex, e.logIndex);
  t.true(verifyInclusion(leafHash(body), e.logIndex, proof.treeSize, proof.hashes.map((h: string) => Buffer.from(h, 'hex')),
    Buffer.from(proof.rootHash, 'hex')));
  // rekor#1092: the checkpoint must commit to the same root and size as the proof
  const cp = verifyCheckpoint(proof.checkpoint, [{ name: SIGNER_NAME, publicKey: r.signer.publicKey, keyId: r.signer.keyId }]);
  t.is(cp.origin, `${SIGNER_NAME} - ${TREE_ID}`);
  t.is(cp.size, proof.treeSize);
  t.is(cp.rootHash.toString('hex'), proof.rootHash);
  // SET: RFC 8785 of {body, integratedTime, logID, logIndex}, written out by hand
  const payload = `{"body":"${e.body}","integratedTime":${e.integratedTime},"logID":"${e.logID}","logIndex":${e.logIndex}}`;
  t.true(verify('sha256', Buffer.from(payload), r.signer.publicKey, Buffer.from(e.verification.signedEntryTimestamp, 'base64')));
  return { uuid, entry: e };
}

test('create a key-keyed entry, then fetch it by index, 80-hex id and 64-hex uuid', (t) => withRekor(async (r) => {
  const p = fresh('key');
  const res = await postEntry(r.url, p.proposal);
  t.is(res.status, 201);
  const created = await res.json();
  const { uuid, entry } = checkEntry(t, r, created, expectedBody(p.signature, p.keyPem, 'sha256', p.digest.toString('hex')));
  t.is(res.headers.get('location'), `/api/v1/log/entries/${uuid}`);
  t.is(res.headers.get('etag'), uuid);
  t.is(entry.logIndex, 0);
  t.is(entry.verification.inclusionProof.treeSize, 1);

  for (const path of [`entries?logIndex=0`, `entries/${uuid}`, `entries/${uuid.slice(16)}`, `entries/${uuid.toUpperCase()}`]) {
    const got = await getJson(`${r.url}/api/v1/log/${path}`);
    t.is(got.status, 200, path);
    const { uuid: gotUuid, entry: e } = checkEntry(t, r, got.body);
    t.is(gotUuid, uuid);
    t.is(e.body, entry.body);
    t.is(e.logIndex, 0);
  }
}));

test('certificate-keyed entries; older entries are proven against the current tree', (t) => withRekor(async (r) => {
  const first = fresh('cert');
  const res = await postEntry(r.url, first.proposal);
  t.is(res.status, 201);
  const { uuid } = checkEntry(t, r, await res.json(), expectedBody(first.signature, first.keyPem, 'sha256', first.digest.toString('hex')));
  for (let i = 0; i < 4; i++) t.is((await postEntry(r.url, fresh(i % 2 ? 'cert' : 'key').proposal)).status, 201);
  const got = await getJson(`${r.url}/api/v1/log/entries/${uuid}`);
  const { entry } = checkEntry(t, r, got.body);
  t.is(entry.logIndex, 0);
  t.is(entry.verification.inclusionProof.treeSize, 5);
  const byIndex = await getJson(`${r.url}/api/v1/log/entries?logIndex=3`);
  t.is(checkEntry(t, r, byIndex.body).entry.logIndex, 3);
}));

test('a wrong signature is a 400 and nothing is appended', (t) => withRekor(async (r) => {
  const good = fresh();
  const other = fresh();
  const bad = JSON.parse(JSON.stringify(good.proposal));
  bad.spec.signature.content = other.signature.toString('base64');
  const res = await postEntry(r.url, bad);
  t.is(res.status, 400);
  const err = await res.json();
  t.is(err.code, 400);
  t.regex(err.message, /signature does not verify/);
  t.is(r.log.size(), 0);
  t.is((await getJson(`${r.url}/api/v1/log`)).body.treeSize, 0);
}));

test('a duplicate is a 409 with the Location of the existing entry', (t) => withRekor(async (r) => {
  const p = fresh();
  const first = await postEntry(r.url, p.proposal);
  const location = first.headers.get('location')!;
  const uuid = location.split('/').pop();
  // the same entry spelled differently (PEM line length) canonicalizes to the same body
  const respelled = JSON.parse(JSON.stringify(p.proposal));
  const der = key.publicKey.export({ type: 'spki', format: 'der' });
  respelled.spec.signature.publicKey.content = Buffer.from(`-----BEGIN PUBLIC KEY-----\n${der.toString('base64')}\n-----END PUBLIC KEY-----`).toString('base64');
  for (const again of [p.proposal, respelled]) {
    const res = await postEntry(r.url, again);
    t.is(res.status, 409);
    t.is(res.headers.get('location'), location);
    t.deepEqual(await res.json(), { code: 409, message: `an equivalent entry already exists in the transparency log with UUID ${uuid}` });
  }
  t.is(r.log.size(), 1);
}));

test('malformed request bodies are 400s, whatever their shape', (t) => withRekor(async (r) => {
  const cert = toPem('CERTIFICATE', certificateFor(key.publicKey));
  for (const body of ['', 'null', '[]', '{', '"x"', '{"kind":"hashedrekord"}', JSON.stringify({ ...fresh().proposal, spec: null }),
    JSON.stringify({ ...fresh().proposal, kind: 'intoto' }),
    JSON.stringify(fresh().proposal).replace('{"apiVersion"', '{"__proto__":{"polluted":true},"apiVersion"')]) {
    const res = await postEntry(r.url, body);
    t.is(res.status, 400, body);
    t.is((await res.json()).code, 400);
  }
  const twoCerts = JSON.parse(JSON.stringify(fresh('cert').proposal));
  twoCerts.spec.signature.publicKey.content = Buffer.from(cert + cert).toString('base64');
  const res = await postEntry(r.url, twoCerts);
  t.is(res.status, 400);
  t.regex((await res.json()).message, /^spec\.signature\.publicKey\.content holds 2 PEM blocks/);
  t.is(r.log.size(), 0);
  t.is(({} as any).polluted, undefined);
  // rekor#1334: the Rekor routes sit behind the body size limit (128 KiB in the test server)
  const huge = JSON.parse(JSON.stringify(fresh().proposal));
  huge.spec.signature.content = Buffer.alloc(200 * 1024).toString('base64');
  t.is((await postEntry(r.url, huge)).status, 413);
}));

test('property: arbitrary JSON bodies get 201, 400 or 409, never a 5xx', (t) => withRekor(async (r) => {
  const base = fresh().proposal;
  const arb = fc.oneof(
    fc.jsonValue({ maxDepth: 4 }),
    fc.record({ apiVersion: fc.jsonValue(), kind: fc.constant('hashedrekord'), spec: fc.jsonValue({ maxDepth: 4 }) }),
    fc.record({ apiVersion: fc.constant('0.0.1'), kind: fc.constant('hashedrekord'),
      spec: fc.record({ signature: fc.jsonValue({ maxDepth: 3 }), data: fc.constant(base.spec.data) }) }),
    fc.constant(base),
  );
  await t.notThrowsAsync(fc.assert(fc.asyncProperty(arb, async (body) => {
    const res = await postEntry(r.url, JSON.stringify(body));
    await res.arrayBuffer();
    return [201, 400, 409].includes(res.status);
  }), { numRuns: 150 }));
}));

test('GET /api/v1/log: LogInfo with a signed tree head, signed once per size', (t) => withRekor(async (r) => {
  const empty = await getJson(`${r.url}/api/v1/log`);
  t.is(empty.status, 200);
  t.is(empty.body.treeSize, 0);
  t.is(empty.body.rootHash, createHash('sha256').digest('hex'));
  for (let i = 0; i < 3; i++) await postEntry(r.url, fresh().proposal);
  const a = (await getJson(`${r.url}/api/v1/log`)).body;
  const b = (await getJson(`${r.url}/api/v1/log`)).body;
  t.deepEqual(Object.keys(a).sort(), ['inactiveShards', 'rootHash', 'signedTreeHead', 'treeID', 'treeSize']);
  t.deepEqual(a.inactiveShards, []);
  t.is(a.treeID, TREE_ID);
  t.is(a.treeSize, 3);
  t.is(a.rootHash, r.log.rootHash(3).toString('hex'));
  const cp = verifyCheckpoint(a.signedTreeHead, [{ name: SIGNER_NAME, publicKey: r.signer.publicKey, keyId: r.signer.keyId }]);
  t.is(cp.size, 3);
  t.is(cp.rootHash.toString('hex'), a.rootHash);
  // ECDSA signatures are randomized: an identical note means it was signed once and cached
  t.is(b.signedTreeHead, a.signedTreeHead);
  const entry = (await getJson(`${r.url}/api/v1/log/entries?logIndex=1`)).body;
  t.is((Object.values(entry)[0] as any).verification.inclusionProof.checkpoint, a.signedTreeHead);
}));

test('GET /api/v1/log/proof: consistency proofs between every pair of sizes verify', (t) => withRekor(async (r) => {
  const N = 6;
  for (let i = 0; i < N; i++) await postEntry(r.url, fresh().proposal);
  const roots: string[] = [];
  for (let s = 1; s <= N; s++) {
    const same = await getJson(`${r.url}/api/v1/log/proof?firstSize=${s}&lastSize=${s}`);
    t.is(same.status, 200);
    t.deepEqual(same.body.hashes, []);
    roots[s] = same.body.rootHash;
  }
  for (let a = 1; a < N; a++) {
    for (let b = a + 1; b <= N; b++) {
      const { status, body } = await getJson(`${r.url}/api/v1/log/proof?firstSize=${a}&lastSize=${b}&treeID=${TREE_ID}`);
      t.is(status, 200);
      t.deepEqual(Object.keys(body).sort(), ['hashes', 'rootHash']);
      t.is(body.rootHash, roots[b]);
      t.true(verifyConsistency(a, b, body.hashes.map((h: string) => Buffer.from(h, 'hex')), Buffer.from(roots[a], 'hex'),
        Buffer.from(roots[b], 'hex')), `${a}->${b}`);
    }
  }
  // firstSize defaults to 1, as upstream's openapi
  t.is((await getJson(`${r.url}/api/v1/log/proof?lastSize=4`)).body.rootHash, roots[4]);
  // rekor 5366584c / #1290: size 0 and sizes beyond the tree are refused
  for (const q of ['firstSize=0&lastSize=3', 'firstSize=4&lastSize=3', `firstSize=1&lastSize=${N + 1}`, 'firstSize=1',
    'firstSize=-1&lastSize=2', 'firstSize=1&lastSize=2.0', 'firstSize=1&lastSize=1e1', 'firstSize=1&lastSize=0x2',
    'firstSize=1&lastSize=99999999999999999999', 'firstSize=1&lastSize=2&lastSize=3', 'firstSize=1&lastSize=2&treeID=5',
    'firstSize=1&lastSize=2&treeID=abc', 'firstSize=%201&lastSize=2']) {
    const { status, body } = await getJson(`${r.url}/api/v1/log/proof?${q}`);
    t.is(status, 400, q);
    t.is(body.code, 400, q);
  }
}));

test('logIndex and entryUUID errors: 400 for malformed, 404 for absent, never 500', (t) => withRekor(async (r) => {
  const created = await (await postEntry(r.url, fresh().proposal)).json();
  const uuid = Object.keys(created)[0];
  for (const q of ['', 'logIndex=', 'logIndex=-1', 'logIndex=1.5', 'logIndex=1e3', 'logIndex=abc', 'logIndex=%200', 'logIndex=0x1',
    'logIndex=99999999999999999999', 'logIndex=0&logIndex=0', 'logIndex=+1']) {
    const { status } = await getJson(`${r.url}/api/v1/log/entries?${q}`);
    t.is(status, 400, q);
  }
  t.is((await getJson(`${r.url}/api/v1/log/entries?logIndex=1`)).status, 404);
  t.is((await getJson(`${r.url}/api/v1/log/entries?logIndex=9007199254740991`)).status, 404);
  const absent = 'ab'.repeat(32);
  const cases: Array<[string, number]> = [
    [uuid.slice(1), 400], [`${uuid}0`, 400], ['zz'.repeat(40), 400], ['%ZZ', 400], ['x', 400],
    [`ffffffffffffffff${uuid.slice(16)}`, 400], // rekor#2895: not an int64 tree id
    [`0000000000000001${uuid.slice(16)}`, 404], // another tree
    [absent, 404], [`${TREE_HEX}${absent}`, 404],
  ];
  for (const [id, expected] of cases) {
    const { status, body } = await getJson(`${r.url}/api/v1/log/entries/${id}`);
    t.is(status, expected, id);
    t.is(body.code, expected, id);
  }
}));

test('GET /api/v1/log/publicKey: the log key as PEM', (t) => withRekor(async (r) => {
  const res = await fetch(`${r.url}/api/v1/log/publicKey`);
  t.is(res.status, 200);
  t.regex(res.headers.get('content-type')!, /^application\/x-pem-file/);
  const pem = await res.text();
  t.is(pem, r.signer.publicKey.export({ type: 'spki', format: 'pem' }).toString());
  t.is((await fetch(`${r.url}/api/v1/log/publicKey?treeID=${TREE_ID}`)).status, 200);
  t.is((await fetch(`${r.url}/api/v1/log/publicKey?treeID=12`)).status, 400);
}));

test('POST /api/v1/log/entries/retrieve: by id, uuid, proposed entry and index; at most 10 queries (rekor#1011)', (t) => withRekor(async (r) => {
  const proposals = [fresh(), fresh('cert'), fresh()];
  const ids: string[] = [];
  for (const p of proposals) ids.push(Object.keys(await (await postEntry(r.url, p.proposal)).json())[0]);
  const search = (body: unknown) => fetch(`${r.url}/api/v1/log/entries/retrieve`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  });

  const res = await search({
    entryUUIDs: [ids[0], ids[1].slice(16), `0000000000000001${ids[2].slice(16)}`, 'cd'.repeat(32)],
    entries: [proposals[2].proposal],
    logIndexes: [1, 7],
  });
  t.is(res.status, 200);
  const found: any[] = await res.json();
  // other tree, unknown uuid and index 7 are left out
  t.deepEqual(found.map((e) => Object.keys(e)[0]), [ids[0], ids[1], ids[2], ids[1]]);
  for (const e of found) checkEntry(t, r, e);

  t.deepEqual(await (await search({})).json(), []);
  const tooMany = await search({ logIndexes: [0, 1, 2, 0, 1, 2], entryUUIDs: ids.concat(ids.slice(0, 2)) });
  t.is(tooMany.status, 422);
  t.is((await tooMany.json()).code, 422);
  for (const bad of [null, [], { logIndexes: [-1] }, { logIndexes: ['1'] }, { logIndexes: [1.5] }, { entryUUIDs: [null] },
    { entryUUIDs: ['xyz'] }, { entryUUIDs: [`ffffffffffffffff${ids[0].slice(16)}`] }, { entryUUIDs: ids[0] },
    { entries: [{ kind: 'hashedrekord' }] }, { other: [] }]) {
    const res = await search(bad);
    t.is(res.status, 400, JSON.stringify(bad));
  }
}));
