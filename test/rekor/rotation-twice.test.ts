/**
 * Two rotations of the log service alone (no CA): three trees, global indexes across all of them, each entry served
 * by its own tree with its own key, and a crash-free second rotation of a tree that already has tree-id names.
 */
import test from 'ava';
import { createPublicKey, verify } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canonicalJson } from '../../log/kinds/canonical-json.ts';
import { createLogService } from '../../services/log-service.ts';
import { loadOrCreateCa } from '../../services/ca-files.ts';
import { RotationError, rotateRekorLog } from '../../services/log-rotation.ts';
import { readMeta } from '../../services/meta.ts';
import { loadTrustDocuments } from '../../services/trust.ts';
import { serveRouters } from '../helpers/http.ts';
import { hashedRekordProposal } from '../helpers/rekord.ts';
import { runCli } from '../helpers/cli.ts';

type Json = Record<string, any>;

async function withLog<T>(dataDir: string, fn: (url: string) => Promise<T>): Promise<T> {
  const service = createLogService({ dataDir, publicUrl: 'http://127.0.0.1:9', caRoots: [loadOrCreateCa(dataDir).chainDer.at(-1)!] });
  const server = await serveRouters(...service.routers);
  try {
    return await fn(server.url);
  } finally {
    await server.close();
    await service.close();
  }
}

async function append(url: string, n: number): Promise<Json[]> {
  const out: Json[] = [];
  for (let i = 0; i < n; i++) {
    const res = await fetch(`${url}/api/v1/log/entries`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(hashedRekordProposal().proposal) });
    if (res.status !== 201) throw new Error(`append: ${res.status}`);
    out.push(Object.values((await res.json()) as Json)[0]);
  }
  return out;
}

test('three trees after two rotations: one global index, every entry with its own tree, key and proof', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sigstack-rotate-twice-'));
  try {
    const first = await withLog(dataDir, (url) => append(url, 1));
    const r1 = await rotateRekorLog(dataDir);
    t.is(r1.new.firstIndex, 1);
    const second = await withLog(dataDir, (url) => append(url, 2));
    const r2 = await rotateRekorLog(dataDir);
    t.is(r2.old.treeId, r1.new.treeId);
    t.is(r2.new.firstIndex, 3);
    t.false(existsSync(join(dataDir, 'log/rekor.db')), 'no tree keeps the legacy name');
    t.deepEqual(readMeta(dataDir).log!.inactiveShards!.map((s) => [s.treeId, s.treeSize]), [[r1.old.treeId, 1], [r2.old.treeId, 2]]);
    t.deepEqual([first[0].logIndex, ...second.map((e) => e.logIndex)], [0, 1, 2]);
    t.deepEqual(second.map((e) => e.verification.inclusionProof.logIndex), [0, 1]);

    const { trustedRoot } = await loadTrustDocuments(dataDir);
    const tlogs = (trustedRoot as Json).tlogs as Json[];
    t.is(tlogs.length, 3);
    const keyOf = (logID: string) => {
      const l = tlogs.find((x) => Buffer.from(x.logId.keyId, 'base64').toString('hex') === logID)!;
      return { key: createPublicKey({ key: Buffer.from(l.publicKey.rawBytes, 'base64'), format: 'der', type: 'spki' }), validFor: l.publicKey.validFor };
    };
    t.is(keyOf(first[0].logID).validFor.end, keyOf(second[0].logID).validFor.start);

    await withLog(dataDir, async (url) => {
      const third = await append(url, 1);
      t.is(third[0].logIndex, 3);
      const info = (await (await fetch(`${url}/api/v1/log`)).json()) as Json;
      t.deepEqual(info.inactiveShards.map((s: Json) => [s.treeID, s.treeSize]), [[r1.old.treeId, 1], [r2.old.treeId, 2]]);
      const logIds = new Set<string>();
      for (let i = 0; i < 4; i++) {
        const [id, e] = Object.entries((await (await fetch(`${url}/api/v1/log/entries?logIndex=${i}`)).json()) as Json)[0] as [string, Json];
        t.is(e.logIndex, i);
        const tree = i === 0 ? r1.old.treeId : i < 3 ? r2.old.treeId : r2.new.treeId;
        t.is(id.slice(0, 16), BigInt(tree).toString(16).padStart(16, '0'));
        t.is(e.verification.inclusionProof.logIndex, i === 0 ? 0 : i < 3 ? i - 1 : 0);
        const payload = canonicalJson({ body: e.body, integratedTime: e.integratedTime, logID: e.logID, logIndex: e.logIndex });
        t.true(verify('sha256', payload, keyOf(e.logID).key, Buffer.from(e.verification.signedEntryTimestamp, 'base64')), `SET of entry ${i}`);
        logIds.add(e.logID);
      }
      t.is(logIds.size, 3);
      t.is((await fetch(`${url}/api/v1/log/entries?logIndex=4`)).status, 404);
    });
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('an empty active tree is not rotated unless --allow-empty: the refusal names it and changes nothing', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sigstack-rotate-empty-'));
  try {
    await withLog(dataDir, (url) => append(url, 1));
    const r1 = await rotateRekorLog(dataDir);
    const before = { meta: readMeta(dataDir), files: readdirSync(join(dataDir, 'log')).sort() };
    const err = await t.throwsAsync(rotateRekorLog(dataDir), { instanceOf: RotationError });
    t.regex(err!.message, new RegExp(`active tree ${r1.new.treeId} has no entries: nothing to rotate`));
    const cli = await runCli(['log', 'rotate', '--data-dir', dataDir]);
    t.is(cli.code, 1);
    t.regex(cli.stderr, /Rotation refused: the active tree \d+ has no entries.*--allow-empty/);
    t.deepEqual({ meta: readMeta(dataDir), files: readdirSync(join(dataDir, 'log')).sort() }, before);

    // replacing the key of a tree that never logged anything is still possible, on purpose
    const forced = await runCli(['log', 'rotate', '--data-dir', dataDir, '--allow-empty']);
    t.is(forced.code, 0, forced.stderr);
    t.deepEqual(readMeta(dataDir).log!.inactiveShards!.map((s) => s.treeSize), [1, 0]);
    const next = await withLog(dataDir, (url) => append(url, 1));
    t.is(next[0].logIndex, 1);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
