import test from 'ava';
import fc from 'fast-check';
import { leafHash, nodeHash } from '../../log/merkle/hash.ts';
import { encodeTileIndex, parseTilePath, tilePath } from '../../log/rekor/tile-path.ts';
import { tempDbPath } from '../log-engine/temp-dir.ts';
import { startIndexedRekor } from './rekor-server.ts';

/** RFC 6962 MTH, independent of the engine. */
function mth(hashes: Buffer[]): Buffer {
  if (hashes.length === 1) return hashes[0]!;
  let k = 1;
  while (k * 2 < hashes.length) k *= 2;
  return nodeHash(mth(hashes.slice(0, k)), mth(hashes.slice(k)));
}

test('tile paths: canonical spelling round-trips, every other spelling is refused', (t) => {
  t.is(encodeTileIndex(1234067), 'x001/x234/067');
  t.is(encodeTileIndex(0), '000');
  t.is(tilePath({ level: 'entries', index: 5, width: 7 }), 'tile/entries/005.p/7');
  fc.assert(fc.property(fc.oneof(fc.constant<'entries'>('entries'), fc.integer({ min: 0, max: 6 })), fc.maxSafeNat(), fc.integer({ min: 1, max: 256 }), (level, index, width) => {
    t.deepEqual(parseTilePath(tilePath({ level, index, width }).slice(5)), { level, index, width });
  }));
  for (const bad of ['0/1', '0/x000/001', '0/001.p/0', '0/001.p/256', '0/001.p/07', '00/001', '7/001', '0/001/', 'entries/x1/001', '../000', '0/000.p/']) {
    t.is(parseTilePath(bad), undefined, bad);
  }
});

test('tlog-tiles: tiles and entry bundles rebuild the root the checkpoint signs; history keeps each published checkpoint', async (t) => {
  const rekor = await startIndexedRekor(tempDbPath(t));
  t.teardown(rekor.close);
  const leaves = Array.from({ length: 600 }, (_, i) => Buffer.from(`tile test entry ${i}`));
  await Promise.all(leaves.map((l) => rekor.log.append(l)));
  const get = (p: string) => fetch(`${rekor.url}/api/v1/tiles/${p}`);
  const bytes = async (p: string) => {
    const res = await get(p);
    t.is(res.status, 200, p);
    return Buffer.from(await res.arrayBuffer());
  };

  const checkpoint = await (await get('checkpoint')).text();
  const [, size, root] = checkpoint.split('\n');
  t.is(size, '600');

  // level 0: two full tiles and a partial one of 88 leaf hashes
  const hashes: Buffer[] = [];
  for (const p of ['tile/0/000', 'tile/0/001', 'tile/0/002.p/88']) {
    const tile = await bytes(p);
    for (let i = 0; i < tile.length; i += 32) hashes.push(tile.subarray(i, i + 32));
  }
  t.deepEqual(hashes, leaves.map((l) => leafHash(l)));
  t.is(mth(hashes).toString('base64'), root);
  // level 1: the hashes of the two complete 256-leaf subtrees
  const level1 = await bytes('tile/1/000.p/2');
  t.deepEqual(level1, Buffer.concat([mth(hashes.slice(0, 256)), mth(hashes.slice(256, 512))]));
  // entry bundle: uint16 length-prefixed canonical bodies
  const bundle = await bytes('tile/entries/002.p/88');
  const entries: Buffer[] = [];
  for (let o = 0; o < bundle.length;) {
    const n = bundle.readUInt16BE(o);
    entries.push(bundle.subarray(o + 2, o + 2 + n));
    o += 2 + n;
  }
  t.deepEqual(entries, leaves.slice(512));
  t.regex((await get('tile/0/000')).headers.get('cache-control') ?? '', /immutable/);

  for (const p of ['tile/0/002', 'tile/0/002.p/89', 'tile/1/000', 'tile/entries/003.p/1', 'tile/0/x000/002', 'tile/zz']) {
    t.is((await get(p)).status, 404, p);
  }

  await rekor.log.append(Buffer.from('one more'));
  const later = await (await get('checkpoint')).text();
  const history = await (await get('checkpoints')).json() as { size: number; checkpoint: string }[];
  t.deepEqual(history.map((h) => [h.size, h.checkpoint]), [[600, checkpoint], [601, later]]);
  const proof = await (await fetch(`${rekor.url}/api/v1/log/proof?firstSize=600&lastSize=601`)).json() as { hashes: string[] };
  t.true(proof.hashes.length > 0, 'a consistency proof between the two published sizes');

  // the Rekor API's signed tree head is a published checkpoint too
  await rekor.log.append(Buffer.from('and another'));
  const info = await (await fetch(`${rekor.url}/api/v1/log`)).json() as { treeSize: number; signedTreeHead: string };
  t.is(info.treeSize, 602);
  const after = await (await get('checkpoints?from=602')).json() as { size: number; checkpoint: string }[];
  t.deepEqual(after.map((h) => [h.size, h.checkpoint]), [[602, info.signedTreeHead]]);
  t.is((await get('checkpoints?from=-1')).status, 400);
});

test('history: the checkpoint of every entry response is recorded, with the next batch of appends (no commit of its own) or by itself within a second, and on close', async (t) => {
  const path = tempDbPath(t);
  const { generateSigner } = await import('../../core/signer.ts');
  const { post, proposal } = await import('./rekor-server.ts');
  let rekor = await startIndexedRekor(path);
  t.teardown(() => rekor.close());
  const history = async () => new Map(((await (await fetch(`${rekor.url}/api/v1/tiles/checkpoints`)).json()) as { size: number; checkpoint: string }[]).map((h) => [h.size, h.checkpoint]));
  const append = async () => {
    const res = await post(rekor.url, '/api/v1/log/entries', proposal(generateSigner()).body);
    t.is(res.status, 201);
    const entry = Object.values(await res.json() as Record<string, { verification: { inclusionProof: { treeSize: number; checkpoint: string } } }>)[0]!;
    return entry.verification.inclusionProof;
  };
  const first = await append();
  const second = await append();
  // the first response's checkpoint went in with the second append's commit, before any timer
  t.is((await history()).get(first.treeSize), first.checkpoint);
  // the second's, with no append after it, within a second
  await new Promise((r) => setTimeout(r, 1300));
  t.is((await history()).get(second.treeSize), second.checkpoint);
  // a third, and the server closed at once: close writes what waits
  const third = await append();
  await rekor.close();
  rekor = await startIndexedRekor(path, rekor.signer);
  t.is((await history()).get(third.treeSize), third.checkpoint);
});
