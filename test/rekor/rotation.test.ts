/**
 * Log key rotation as Rekor shards its log: sign on a real stack, stop it, `sigstack log rotate`, restart on the
 * same data folder, sign again. Both bundles verify with our verifier and with @sigstore/verify under the new
 * trusted root; the frozen tree stays readable through every read route with its own key, tree id and checkpoint.
 */
import { readPublishedSize } from '../../log/published-size.ts';
import test from 'ava';
import { createHash, createPublicKey, createVerify } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleFromJSON } from '@sigstore/bundle';
import { toSignedEntity } from '@sigstore/verify';
import { signerFromPem } from '../../core/signer.ts';
import { verifyCheckpoint } from '../../log/checkpoint.ts';
import { canonicalJson } from '../../log/kinds/canonical-json.ts';
import { verifyConsistency } from '../../log/merkle/verify.ts';
import { leafHash } from '../../log/merkle/hash.ts';
import { createVerifier } from '../../client/verify/index.ts';
import { readMeta } from '../../services/meta.ts';
import { buildTrustedRoot, loadTrustDocuments } from '../../services/trust.ts';
import { fetchRemoteTrust } from '../../services/remote-trust.ts';
import { pino } from 'pino';
import { backupDataDir, readManifest, restoreDataDir } from '../../services/backup.ts';
import { createLogService } from '../../services/log-service.ts';
import { openMerkleLog } from '../../log/merkle-log.ts';
import { audit } from '../../client/commands/log.ts';
import { TEST_EMAIL } from '../helpers/stack.ts';
import { refuses } from '../client/pki-fixture.ts';
import {
  type Json, dataDir, artifactA, artifactB, stack, issuerA, bundleA, bundleB, stockBundle, stockArtifact, rotateOut, oldTree, oldKeyPem,
  refusedWhileRunning, treeBeforeRotation, savedCheckpoint, sign, tlogEntry, get, post, stock, setUpRotatedStack, tearDownRotatedStack,
} from './rotated-stack.ts';

test.before(setUpRotatedStack);
test.after.always(tearDownRotatedStack);

test('rotate refuses while a server has the data folder open, and changes nothing', (t) => {
  t.regex(refusedWhileRunning, /is open in another process: stop the server using this data folder first/);
  t.is(treeBeforeRotation, oldTree);
});

test('rotate prints what it did and records the frozen tree; the data folder names every tree by its id', (t) => {
  const meta = readMeta(dataDir).log!;
  t.regex(rotateOut, new RegExp(`Froze Rekor tree ${oldTree}: 2 entries, root [0-9a-f]{64}`));
  t.regex(rotateOut, new RegExp(`New active tree ${meta.treeId}: key [0-9a-f]{64} .* first entry will be global log index 2`));
  t.regex(rotateOut, /trusted_root\.json/);
  t.not(meta.treeId, oldTree);
  t.deepEqual(meta.inactiveShards!.map((s) => [s.treeId, s.treeSize, s.dbFile]), [[oldTree, 2, `log/rekor-${oldTree}.db`]]);
  t.is(meta.dbFile, `log/rekor-${meta.treeId}.db`);
  t.throws(() => readFileSync(join(dataDir, 'keys/rekor.key.pem')), { code: 'ENOENT' }, 'the old name of the frozen key is gone');
  // the published-size mark went with its database (the frozen tree keeps its rollback guard)
  t.throws(() => readFileSync(join(dataDir, 'log/rekor.db.published')), { code: 'ENOENT' });
  t.is(readPublishedSize(join(dataDir, `log/rekor-${oldTree}.db`)), 2);
});

test('GET /api/v1/log lists the frozen tree with its size, root and final checkpoint signed by the old key', async (t) => {
  const { json } = await get('/api/v1/log');
  t.is(json.inactiveShards.length, 1);
  const shard = json.inactiveShards[0];
  t.deepEqual(Object.keys(shard).sort(), ['rootHash', 'signedTreeHead', 'treeID', 'treeSize']);
  t.is(shard.treeID, oldTree);
  t.is(shard.treeSize, 2);
  const old = signerFromPem(oldKeyPem);
  const host = new URL((stack.trustedRoot.tlogs as Json[])[0]!.baseUrl).host;
  const cp = verifyCheckpoint(shard.signedTreeHead, [{ name: host, publicKey: old.publicKey, keyId: old.keyId }]);
  t.is(cp.origin, `${host} - ${oldTree}`);
  t.is(cp.rootHash.toString('hex'), shard.rootHash);
  t.is(json.treeID, readMeta(dataDir).log!.treeId);
  t.is(json.treeSize, 2);
});

test('the trusted root lists both keys: the old one until the rotation, the new one from it', (t) => {
  const tlogs = stack.trustedRoot.tlogs as Json[];
  t.is(tlogs.length, 2);
  const [active, frozen] = tlogs as [Json, Json];
  t.is(frozen.publicKey.validFor.end, active.publicKey.validFor.start);
  t.is(active.publicKey.validFor.end, undefined);
  t.is(active.baseUrl, frozen.baseUrl);
  t.is(frozen.logId.keyId, tlogEntry(bundleA).logId.keyId);
  t.is(active.logId.keyId, tlogEntry(bundleB).logId.keyId);
  t.is((stack.trustedRoot.ctlogs as Json[]).length, 1, 'the CT log is not rotated');
});

test('the offline trusted root of the data folder is the one the server serves', async (t) => {
  t.deepEqual((await loadTrustDocuments(dataDir)).trustedRoot, stack.trustedRoot);
});

test('a split CA (serve ca --log-url) carries every tree key of the rotated log into its trusted root', async (t) => {
  const { logParts } = await fetchRemoteTrust(stack.url, pino({ level: 'silent' }), 0);
  t.deepEqual((buildTrustedRoot(logParts) as Json).tlogs, stack.trustedRoot.tlogs);
});

test('the new bundle: global logIndex after the frozen tree, shard-local inclusion proof, the new key', (t) => {
  const e = tlogEntry(bundleB);
  t.is(e.logIndex, '2');
  t.is(e.inclusionProof.logIndex ?? '0', '0');
  t.not(e.logId.keyId, tlogEntry(bundleA).logId.keyId);
});

test('both bundles verify with sigstack verify under the new trusted root', (t) => {
  const verifier = createVerifier(stack.trustedRoot);
  t.is(verifier.verify({ artifact: artifactA, bundle: bundleA, policy: { identity: TEST_EMAIL, issuer: issuerA } }).logIndex, 0);
  t.is(verifier.verify({ artifact: artifactB, bundle: bundleB, policy: { identity: TEST_EMAIL, issuer: stack.issuer } }).logIndex, 2);
});

test('both bundles verify with @sigstore/verify (ctlogThreshold 1, tlogThreshold 1) under the new trusted root', (t) => {
  const v = stock();
  t.is(v.verify(toSignedEntity(bundleFromJSON(bundleA), artifactA), { subjectAlternativeName: TEST_EMAIL, extensions: { issuer: issuerA } }).identity?.subjectAlternativeName, TEST_EMAIL);
  t.is(v.verify(toSignedEntity(bundleFromJSON(bundleB), artifactB), { subjectAlternativeName: TEST_EMAIL, extensions: { issuer: stack.issuer } }).identity?.subjectAlternativeName, TEST_EMAIL);
});

test('the stock @sigstore/sign logs into the rotated log; both verifiers accept its bundle', (t) => {
  const e = tlogEntry(stockBundle);
  t.is(e.logIndex, '3');
  t.is(e.inclusionProof.logIndex, '1', 'the proof index is the global index less the frozen tree');
  t.is(createVerifier(stack.trustedRoot).verify({ artifact: stockArtifact, bundle: stockBundle, policy: { identity: TEST_EMAIL, issuer: stack.issuer } }).identity, TEST_EMAIL);
  t.notThrows(() => stock().verify(toSignedEntity(bundleFromJSON(stockBundle), stockArtifact), { subjectAlternativeName: TEST_EMAIL }));
});

test('a SET over the shard-local index where the global one is signed is refused by both verifiers', (t) => {
  const b = structuredClone(bundleB);
  tlogEntry(b).logIndex = '0';
  refuses(t, () => createVerifier(stack.trustedRoot).verify({ artifact: artifactB, bundle: b, policy: { identity: TEST_EMAIL, issuer: stack.issuer } }), 'SET');
  t.throws(() => stock().verify(toSignedEntity(bundleFromJSON(b), artifactB)));
});

test('an entry claimed by the old key after its end is refused, even with a SET that key really signed', (t) => {
  const b = structuredClone(bundleA);
  const e = tlogEntry(b);
  const end = Date.parse((stack.trustedRoot.tlogs as Json[])[1]!.publicKey.validFor.end);
  const late = Math.floor(end / 1000) + 5;
  const payload = canonicalJson({ body: e.canonicalizedBody, integratedTime: late, logID: Buffer.from(e.logId.keyId, 'base64').toString('hex'), logIndex: Number(e.logIndex ?? 0) });
  e.integratedTime = String(late);
  e.inclusionPromise.signedEntryTimestamp = signerFromPem(oldKeyPem).sign(payload).toString('base64');
  const verifier = createVerifier(stack.trustedRoot, { now: () => (late + 60) * 1000 });
  refuses(t, () => verifier.verify({ artifact: artifactA, bundle: b, policy: { identity: TEST_EMAIL, issuer: issuerA } }), 'TIME', /log key's validity/);
  t.throws(() => stock().verify(toSignedEntity(bundleFromJSON(b), artifactA)), { message: /inclusion promise/ });
});

function checkEntry(t: any, json: Json, o: { uuidPrefix: string; logIndex: number; proofIndex: number; treeSize: number; logId: string }): Json {
  const [uuid, e] = Object.entries(json)[0] as [string, Json];
  t.is(uuid.slice(0, 16), o.uuidPrefix);
  t.is(e.logIndex, o.logIndex);
  t.is(e.logID, o.logId);
  t.is(e.verification.inclusionProof.logIndex, o.proofIndex);
  t.is(e.verification.inclusionProof.treeSize, o.treeSize);
  // the SET is over the global index, with the entry's own tree key
  const key = (stack.trustedRoot.tlogs as Json[]).find((l) => Buffer.from(l.logId.keyId, 'base64').toString('hex') === e.logID)!;
  const pub = createPublicKey({ key: Buffer.from(key.publicKey.rawBytes, 'base64'), format: 'der', type: 'spki' });
  const payload = canonicalJson({ body: e.body, integratedTime: e.integratedTime, logID: e.logID, logIndex: e.logIndex });
  t.true(createVerify('sha256').update(payload).verify(pub, Buffer.from(e.verification.signedEntryTimestamp, 'base64')));
  return e;
}

test('entries by global index: the frozen tree first, then the active one; beyond is 404', async (t) => {
  const oldHex = BigInt(oldTree).toString(16).padStart(16, '0');
  const newHex = BigInt(readMeta(dataDir).log!.treeId).toString(16).padStart(16, '0');
  const oldLogId = Buffer.from(tlogEntry(bundleA).logId.keyId, 'base64').toString('hex');
  const newLogId = Buffer.from(tlogEntry(bundleB).logId.keyId, 'base64').toString('hex');
  const e1 = checkEntry(t, (await get('/api/v1/log/entries?logIndex=1')).json, { uuidPrefix: oldHex, logIndex: 1, proofIndex: 1, treeSize: 2, logId: oldLogId });
  t.is(e1.verification.inclusionProof.checkpoint, (await get('/api/v1/log')).json.inactiveShards[0].signedTreeHead);
  checkEntry(t, (await get('/api/v1/log/entries?logIndex=2')).json, { uuidPrefix: newHex, logIndex: 2, proofIndex: 0, treeSize: 2, logId: newLogId });
  t.is((await get('/api/v1/log/entries?logIndex=4')).status, 404);
});

test('entries by 80-hex entry id (its tree only) and by 64-hex UUID (any tree); retrieve searches every tree', async (t) => {
  const byIndex = (await get('/api/v1/log/entries?logIndex=0')).json as Json;
  const id = Object.keys(byIndex)[0]!;
  t.deepEqual((await get(`/api/v1/log/entries/${id}`)).json[id].body, byIndex[id].body);
  t.deepEqual(Object.keys((await get(`/api/v1/log/entries/${id.slice(16)}`)).json), [id]);
  const newHex = BigInt(readMeta(dataDir).log!.treeId).toString(16).padStart(16, '0');
  t.is((await get(`/api/v1/log/entries/${newHex}${id.slice(16)}`)).status, 404, 'the leaf is not in the active tree');
  t.is((await get(`/api/v1/log/entries/7fffffffffffffff${id.slice(16)}`)).status, 404, 'a tree not served');
  t.is((await get(`/api/v1/log/entries/ffffffffffffffff${id.slice(16)}`)).status, 400, 'rekor#2895: a tree id that is no int64 is a 400, not a 500');
  const r = await post('/api/v1/log/entries/retrieve', { entryUUIDs: [id, id.slice(16)], logIndexes: [0, 2, 9] });
  t.is(r.status, 200);
  t.deepEqual(r.json.map((e: Json) => Object.values(e)[0].logIndex), [0, 0, 0, 2]);
});

test('index/retrieve finds entries of both trees, each under its own tree id', async (t) => {
  const r = await post('/api/v1/index/retrieve', { email: TEST_EMAIL });
  t.is(r.status, 200);
  const oldHex = BigInt(oldTree).toString(16).padStart(16, '0');
  t.is(r.json.length, 4);
  t.is(r.json.filter((u: string) => u.startsWith(oldHex)).length, 2);
});

test('a body already in the frozen tree is a 409 naming that entry, not a second copy', async (t) => {
  const e = tlogEntry(bundleA);
  const proposed = JSON.parse(Buffer.from(e.canonicalizedBody, 'base64').toString('utf8'));
  const res = await fetch(`${stack.url}/api/v1/log/entries`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(proposed) });
  await res.arrayBuffer();
  t.is(res.status, 409);
  t.regex(res.headers.get('location') ?? '', new RegExp(`/api/v1/log/entries/${BigInt(oldTree).toString(16).padStart(16, '0')}[0-9a-f]{64}$`));
  t.is((await get('/api/v1/log')).json.treeSize, 2);
});

test('proof and publicKey honour treeID; an unknown tree is a 400', async (t) => {
  const oldPem = signerFromPem(oldKeyPem).publicKey.export({ type: 'spki', format: 'pem' }).toString();
  t.is((await get(`/api/v1/log/publicKey?treeID=${oldTree}`)).text, oldPem);
  t.not((await get('/api/v1/log/publicKey')).text, oldPem);
  const info = (await get('/api/v1/log')).json;
  const p = (await get(`/api/v1/log/proof?firstSize=1&lastSize=2&treeID=${oldTree}`)).json;
  t.is(p.rootHash, info.inactiveShards[0].rootHash);
  // the tree of size 1 has entry 0's leaf hash as its root
  const body = Buffer.from(Object.values((await get('/api/v1/log/entries?logIndex=0')).json as Json)[0].body, 'base64');
  t.true(verifyConsistency(1, 2, p.hashes.map((h: string) => Buffer.from(h, 'hex')), leafHash(body), Buffer.from(p.rootHash, 'hex')));
  t.is((await get(`/api/v1/log/proof?firstSize=1&lastSize=3&treeID=${oldTree}`)).status, 400, 'beyond the frozen size');
  t.is((await get('/api/v1/log/proof?firstSize=1&lastSize=1&treeID=12345')).status, 400);
  t.is((await get('/api/v1/log/publicKey?treeID=12345')).status, 400);
});

test('backup holds every tree; restore checks each one against its checkpoint, the frozen one against its rotation checkpoint', async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'sigstack-rotation-backup-'));
  try {
    const archive = join(work, 'all.bak');
    const manifest = await backupDataDir(dataDir, archive);
    const meta = readMeta(dataDir).log!;
    t.is(manifest.checkpoints[`rekor-${oldTree}`], meta.inactiveShards![0]!.checkpoint, 'the frozen tree is not signed anew');
    t.true(manifest.files.some((f) => f.path === `log/rekor-${oldTree}.db`) && manifest.files.some((f) => f.path === `keys/rekor-${oldTree}.key.pem`));
    const sizes = await restoreDataDir(archive, join(work, 'restored'));
    t.is(sizes[`rekor-${oldTree}`], 2);
    t.is(sizes.rekor, 2);

    // the frozen tree's database replaced by the active one (re-hashed in the manifest): refused
    const { manifest: m, offset } = readManifest(archive);
    const bytes = readFileSync(archive);
    const files = new Map<string, Buffer>();
    let at = offset;
    for (const f of m.files) files.set(f.path, bytes.subarray(at, (at += f.size)));
    files.set(`log/rekor-${oldTree}.db`, files.get(meta.dbFile!)!);
    const swapped = { ...m, files: m.files.map((f) => ({ path: f.path, size: files.get(f.path)!.length, sha256: createHash('sha256').update(files.get(f.path)!).digest('hex') })) };
    writeFileSync(join(work, 'swapped.bak'), Buffer.concat([Buffer.from(`SIGSTACK-BACKUP 1\n${JSON.stringify(swapped)}\n`), ...swapped.files.map((f) => files.get(f.path)!)]));
    await t.throwsAsync(restoreDataDir(join(work, 'swapped.bak'), join(work, 'refused')), { message: new RegExp(`the rekor-${oldTree} log.s root does not match its last signed checkpoint`) });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

test('a frozen tree whose database grew after its rotation is refused at start, not served', async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'sigstack-rotation-tamper-'));
  try {
    const archive = join(work, 'all.bak');
    await backupDataDir(dataDir, archive);
    const copy = join(work, 'copy');
    await restoreDataDir(archive, copy);
    const frozen = openMerkleLog({ path: join(copy, `log/rekor-${oldTree}.db`) });
    await frozen.append(Buffer.from('appended to a frozen tree'));
    await frozen.close();
    const error = t.throws(() => createLogService({ dataDir: copy, publicUrl: stack.url, caRoots: [] }));
    t.regex(error?.message ?? '', new RegExp(`inactive Rekor tree ${oldTree}: .* holds 3 entries, the tree was frozen at 2`));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

test('log audit: a checkpoint saved before the rotation is checked against the frozen tree; --all-trees audits it', async (t) => {
  const root = join(dataDir, 'trusted_root.json');
  writeFileSync(root, JSON.stringify(stack.trustedRoot));
  const before = readFileSync(savedCheckpoint, 'utf8');
  t.true(before.startsWith(`${new URL((stack.trustedRoot.tlogs as Json[])[0]!.baseUrl).host} - ${oldTree}\n2\n`));
  const r = await audit({ url: stack.url, checkpoint: savedCheckpoint, trustedRoot: root });
  t.deepEqual(r.frozen, [{ treeId: oldTree, size: 2 }]);
  t.is(r.size, 2);
  t.true(readFileSync(savedCheckpoint, 'utf8').includes(` - ${readMeta(dataDir).log!.treeId}\n2\n`), 'the active tree\'s checkpoint is saved');
  const all = await audit({ url: stack.url, allTrees: true });
  t.deepEqual(all.frozen, [{ treeId: oldTree, size: 2 }]);
});
