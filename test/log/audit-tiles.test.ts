/**
 * `log audit` checks the hash tiles of level >= 1 (what mirrors and witnesses prove from) against the tree it
 * rebuilds from the entries: the pure bookkeeping (client/log-audit-tiles.ts) against an independent RFC 6962
 * computation, the real server, and a fake log that is honest everywhere but in one upper tile.
 */
import test from 'ava';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { generateSigner } from '../../core/signer.ts';
import { audit, AuditFailure } from '../../client/log-audit.ts';
import { createReader } from '../../client/log-audit-http.ts';
import { checkTile, UpperTiles, type TileCheck } from '../../client/log-audit-tiles.ts';
import { auditTree } from '../../client/log-audit-tree.ts';
import { fill } from '../../client/log-fill.ts';
import { Frontier } from '../../log/merkle/frontier.ts';
import { nodeHash } from '../../log/merkle/hash.ts';
import { tempDbPath } from '../log-engine/temp-dir.ts';
import { fakeLog, fakeNote, fakeTree, pemOf, serveTiles, type ServeOptions } from './fake-log.ts';
import { startIndexedRekor } from './rekor-server.ts';

const quiet = () => undefined;
const T = '/api/v1/tiles';
const MAX = 65536 * 3 + 700;

/** A cheap stand-in for leaf hashes: the index in 32 bytes (the bookkeeping never looks inside). */
const leaves = Array.from({ length: MAX }, (_, i) => {
  const b = Buffer.alloc(32);
  b.writeUInt32BE(i, 28);
  return b;
});

/** RFC 6962 MTH of `size` leaves from `start` (size a power of two), by plain recursion: no Frontier. */
function mth(start: number, size: number): Buffer {
  return size === 1 ? leaves[start]! : nodeHash(mth(start, size / 2), mth(start + size / 2, size / 2));
}

/** Every hash of tile levels 1 and 2 for the first MAX leaves, computed once. */
const reference = [1, 2].map((level) => Array.from({ length: Math.floor(MAX / 256 ** level) }, (_, i) => mth(i * 256 ** level, 256 ** level)));

/** The level >= 1 tiles a tree of `size` has (C2SP tlog-tiles), with the bytes each must hold. */
function tilesOf(size: number): Omit<TileCheck, 'path'>[] {
  const out: Omit<TileCheck, 'path'>[] = [];
  for (let level = 1; 256 ** level <= size; level++) {
    const count = Math.floor(size / 256 ** level);
    for (let index = 0; index * 256 < count; index++) {
      const width = Math.min(256, count - index * 256);
      out.push({ level, index, width, expected: Buffer.concat(reference[level - 1]!.slice(index * 256, index * 256 + width)) });
    }
  }
  return out;
}

/** What UpperTiles asks for when fed `size` leaves through a Frontier, full tiles as they fill and then the partial ones. */
function asked(size: number): { checks: TileCheck[]; maxPending: number } {
  const frontier = new Frontier(0, []);
  const upper = new UpperTiles();
  const checks: TileCheck[] = [];
  let maxPending = 0;
  for (let i = 0; i < size; i++) {
    checks.push(...upper.add(frontier.append(leaves[i]!)));
    maxPending = Math.max(maxPending, upper.pendingHashes);
  }
  return { checks: [...checks, ...upper.partial()], maxPending };
}

const byPosition = (a: { level: number; index: number }, b: { level: number; index: number }) => a.level - b.level || a.index - b.index;
const comparable = (cs: Omit<TileCheck, 'path'>[]) => [...cs].sort(byPosition).map((c) => ({ level: c.level, index: c.index, width: c.width, expected: c.expected.toString('hex') }));

test('the tiles asked for are exactly the level >= 1 tiles of the tree, full and partial, with the bytes an independent MTH gives', (t) => {
  for (const size of [0, 1, 255, 256, 257, 65535, 65536, 65537, MAX]) {
    const { checks, maxPending } = asked(size);
    t.deepEqual(comparable(checks), comparable(tilesOf(size)), `size ${size}`);
    t.true(maxPending <= 255 * 2, `size ${size}: at most 255 hashes held per level`);
  }
  t.deepEqual(asked(0).checks, []);
  t.deepEqual(asked(65535).checks.map((c) => c.path), ['tile/1/000.p/255']);
  t.deepEqual(asked(257).checks.map((c) => c.path), ['tile/1/000.p/1']);
  t.deepEqual(asked(65537).checks.map((c) => c.path), ['tile/1/000', 'tile/2/000.p/1']);
  t.deepEqual(asked(MAX).checks.map((c) => c.path), ['tile/1/000', 'tile/1/001', 'tile/1/002', 'tile/1/003.p/2', 'tile/2/000.p/3']);
});

test('property: for any size, the same tiles and bytes, and never more than 255 hashes held per level', (t) => {
  t.notThrows(() => fc.assert(fc.property(fc.integer({ min: 0, max: MAX }), (size) => {
    const { checks, maxPending } = asked(size);
    return JSON.stringify(comparable(checks)) === JSON.stringify(comparable(tilesOf(size))) && maxPending <= 255 * 2;
  }), { numRuns: 6 }));
});

test('checkTile: names the tile, its width and the first wrong hash with the entries it covers; a wrong length is a failure too', (t) => {
  const hashes = [0, 1, 2].map((i) => Buffer.alloc(32, i));
  const c: TileCheck = { level: 1, index: 0, width: 3, path: 'tile/1/000.p/3', expected: Buffer.concat(hashes) };
  t.notThrows(() => checkTile(c, Buffer.concat(hashes)));
  const wrong = Buffer.concat(hashes);
  wrong[2 * 32 + 5] ^= 1;
  t.throws(() => checkTile(c, wrong), { instanceOf: AuditFailure, message: 'hash tile 1/000 (level 1, width 3): hash 2 (the subtree of entries 512-767) is not the one the entries give' });
  t.throws(() => checkTile(c, wrong.subarray(0, 64)), { instanceOf: AuditFailure, message: 'hash tile 1/000 (level 1, width 3) has 64 bytes, expected 96' });
  const upper: TileCheck = { ...c, level: 2, index: 1001 };
  t.throws(() => checkTile(upper, Buffer.concat([hashes[0]!, Buffer.alloc(32, 9), hashes[2]!])), { instanceOf: AuditFailure, message: /^hash tile 2\/x001\/001 \(level 2, width 3\): hash 1 \(the subtree of entries 16794058752-16794124287\)/ });
});

/** A fake log of `size` entries, honest but for what `opts` tampers; records every upper tile path asked for. */
async function fakeTiledLog(size: number, opts: ServeOptions) {
  const k = generateSigner();
  const tree = fakeTree(size);
  const note = fakeNote(k, '127.0.0.1 - 42', tree);
  const upperAsked: string[] = [];
  const log = await fakeLog((_req, res, url) => {
    if (url === '/api/v1/log/publicKey') return void res.end(pemOf(k));
    if (url === '/api/v1/log') return void res.end('{}');
    if (/^\/api\/v1\/tiles\/tile\/[1-9]\//.test(url)) upperAsked.push(url.slice(T.length + 1));
    if (!serveTiles(T, tree, note, url, res, opts)) res.writeHead(404).end();
  });
  return { log, upperAsked };
}

/** Flips one bit of hash `hash` of the tile at `path`; other tiles are served honestly. */
function flip(path: string, hash: number): ServeOptions['tamper'] {
  return (tile, honest) => {
    if (`${tile.level}/${tile.index}/${tile.width}` !== path) return honest;
    const out = Buffer.from(honest);
    out[hash * 32] ^= 0x80;
    return out;
  };
}

test('fake log of 65,836 entries, honest everywhere but one upper tile: each wrong tile (full, partial, level 2) fails the audit, named', async (t) => {
  const opts: ServeOptions = {};
  const { log, upperAsked } = await fakeTiledLog(65536 + 300, opts);
  try {
    t.is((await audit({ url: log.url }, quiet)).size, 65836);
    t.deepEqual(upperAsked, ['tile/1/000', 'tile/1/001.p/1', 'tile/2/000.p/1'], 'the honest audit read each upper tile once');
    const cases: [ServeOptions['tamper'], string][] = [
      [flip('1/0/256', 200), 'hash tile 1/000 (level 1, width 256): hash 200 (the subtree of entries 51200-51455) is not the one the entries give'],
      [flip('1/1/1', 0), 'hash tile 1/001 (level 1, width 1): hash 0 (the subtree of entries 65536-65791) is not the one the entries give'],
      [flip('2/0/1', 0), 'hash tile 2/000 (level 2, width 1): hash 0 (the subtree of entries 0-65535) is not the one the entries give'],
    ];
    for (const [tamper, message] of cases) {
      opts.tamper = tamper;
      await t.throwsAsync(audit({ url: log.url }, quiet), { instanceOf: AuditFailure, message }, message);
    }
  } finally {
    await log.close();
  }
});

test('fake log of 600 entries: a wrong hash in the partial level-1 tile, or a tile too short or too long, fails the audit', async (t) => {
  const opts: ServeOptions = { tamper: flip('1/0/2', 1) };
  const { log, upperAsked } = await fakeTiledLog(600, opts);
  try {
    await t.throwsAsync(audit({ url: log.url }, quiet), {
      instanceOf: AuditFailure,
      message: 'hash tile 1/000 (level 1, width 2): hash 1 (the subtree of entries 256-511) is not the one the entries give',
    });
    t.deepEqual(upperAsked, ['tile/1/000.p/2']);
    opts.tamper = (_tile, honest) => honest.subarray(32);
    await t.throwsAsync(audit({ url: log.url }, quiet), { instanceOf: AuditFailure, message: 'hash tile 1/000 (level 1, width 2) has 32 bytes, expected 64' });
    opts.tamper = (_tile, honest) => Buffer.concat([honest, honest]);
    await t.throwsAsync(audit({ url: log.url }, quiet), { instanceOf: AuditFailure, message: /tile\/1\/000\.p\/2 answered 128 bytes, more than the 64/ });
  } finally {
    await log.close();
  }
});

test('real server: 600 entries from `log fill` pass, the audit reads tile 1/000.p/2; a level-8 node edited in the database fails it, named', async (t) => {
  const path = tempDbPath(t);
  let rekor = await startIndexedRekor(path);
  try {
    await fill({ url: rekor.url, count: 600, concurrency: 8, progress: quiet });
    t.is(rekor.log.size(), 600);
    const passed = await audit({ url: rekor.url }, quiet);
    t.is(passed.size, 600);

    // The same tree audited through a reader that notes every URL: the level-1 tile is really fetched.
    const reader = createReader();
    const urls: string[] = [];
    const tiles = `${rekor.url}/api/v1/tiles`;
    try {
      await auditTree(`${rekor.url}/api/v1/log/proof?`, tiles, { size: 600, rootHash: Buffer.from(passed.root, 'hex') }, undefined, (url, max, o) => {
        urls.push(url);
        return reader.read(url, max, o);
      }, quiet);
    } finally {
      await reader.close();
    }
    t.deepEqual(urls.filter((u) => /\/tile\/[1-9]\//.test(u)), [`${tiles}/tile/1/000.p/2`]);
    t.is(urls.filter((u) => u.includes('/tile/0/')).length, 3);

    // Node (level 8, index 1) (entries 256-511) is a row of `tree` at in-order position 1 * 2^9 + 2^8 - 1; the server
    // is restarted so no cache holds the honest hash. Entries, leaves and the checkpoint's root are untouched.
    await rekor.close();
    const db = new Database(path);
    try {
      t.is(db.prepare('UPDATE tree SET hash = ? WHERE pos = ?').run(Buffer.alloc(32, 0xee), 767).changes, 1);
    } finally {
      db.close();
    }
    rekor = await startIndexedRekor(path);
    await t.throwsAsync(audit({ url: rekor.url }, quiet), {
      instanceOf: AuditFailure,
      message: 'hash tile 1/000 (level 1, width 2): hash 1 (the subtree of entries 256-511) is not the one the entries give',
    });
  } finally {
    await rekor.close();
  }
});
