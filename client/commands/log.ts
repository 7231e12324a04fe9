import { createHash, createPublicKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parseCheckpointBody, parseSignedNote, verifyCheckpoint } from '../../log/checkpoint.ts';
import { Frontier } from '../../log/merkle/frontier.ts';
import { leafHash } from '../../log/merkle/hash.ts';
import { verifyConsistency } from '../../log/merkle/verify.ts';
import { registerBackupCommands } from './log-backup.ts';
import { registerRotateCommand } from './log-rotate.ts';

/**
 * `sigstack log audit` and `sigstack log fill`.
 * audit reads the whole log through the tlog-tiles API (/api/v1/tiles): for every entry it hashes the body
 * from the entry bundle and compares it with the leaf hash the server's tree holds (hash tile), rebuilds
 * the root from every leaf with an RFC 6962 frontier, checks the checkpoint's signature and root, checks
 * that the checkpoint saved by the previous run is a prefix (its root recomputed from the entries AND the
 * server's consistency proof), then saves the new checkpoint. Any mismatch: exit 1 naming the index.
 * The active tree only, unless --all-trees (trees frozen by `log rotate`), or the saved checkpoint is of a frozen tree.
 */
const TILE = 256;

class AuditFailure extends Error {}

interface AuditOptions { url: string; checkpoint?: string; trustedRoot?: string; publicKey?: string }

async function get(url: string): Promise<Response> {
  const res = await fetch(url, { redirect: 'error', signal: AbortSignal.timeout(60_000) });
  if (!res.ok) throw new AuditFailure(`${url} said ${res.status}`);
  return res;
}

/** The log key: from the trusted root (the tlog whose baseUrl is this log), a PEM file, or else the log itself (trust on first use). */
async function logKeys(base: string, o: AuditOptions): Promise<{ keys: KeyObject[]; source: string }> {
  if (o.trustedRoot) {
    const root = JSON.parse(readFileSync(o.trustedRoot, 'utf8')) as { tlogs?: { baseUrl?: string; publicKey?: { rawBytes?: string } }[] };
    const tlogs = (root.tlogs ?? []).filter((l) => l.baseUrl?.replace(/\/+$/, '') === base && l.publicKey?.rawBytes);
    const all = tlogs.length > 0 ? tlogs : (root.tlogs ?? []).filter((l) => l.publicKey?.rawBytes);
    return { keys: all.map((l) => createPublicKey({ key: Buffer.from(l.publicKey!.rawBytes!, 'base64'), format: 'der', type: 'spki' })), source: o.trustedRoot };
  }
  if (o.publicKey) return { keys: [createPublicKey(readFileSync(o.publicKey))], source: o.publicKey };
  return { keys: [createPublicKey(await (await get(`${base}/api/v1/log/publicKey`)).text())], source: `${base}/api/v1/log/publicKey (trust on first use)` };
}

function verifyNote(note: string, keys: KeyObject[]): { size: number; rootHash: Buffer } {
  const names = parseSignedNote(note).signatures.map((s) => s.name);
  const candidates = keys.flatMap((publicKey) => {
    const keyId = createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest();
    return names.map((name) => ({ name, publicKey, keyId }));
  });
  try {
    return verifyCheckpoint(note, candidates);
  } catch (e) {
    throw new AuditFailure(`the checkpoint signature does not verify with the log key: ${(e as Error).message}`);
  }
}

function progress(done: number, total: number, started: number): void {
  const seconds = (performance.now() - started) / 1000;
  const rate = done / Math.max(seconds, 1e-3);
  const eta = rate > 0 ? (total - done) / rate : 0;
  process.stderr.write(`  ${done.toLocaleString('en-US')} / ${total.toLocaleString('en-US')} entries, ${Math.round(rate).toLocaleString('en-US')} entries/s, ETA ${eta.toFixed(0)} s\n`);
}

interface TreeHead { size: number; rootHash: Buffer }
interface InactiveShardInfo { treeID: string; treeSize: number; rootHash: string; signedTreeHead: string }

/**
 * After `log rotate` the log has frozen trees (GET /api/v1/log `inactiveShards`), each served at
 * /api/v1/tiles/shards/<tree id> with its final checkpoint. A saved checkpoint names its tree in its origin
 * ("<host> - <tree id>"): one saved before a rotation is checked against the frozen tree it belongs to.
 */
export async function audit(o: AuditOptions & { allTrees?: boolean }): Promise<{ size: number; root: string; frozen: { treeId: string; size: number }[] }> {
  const base = o.url.replace(/\/+$/, '');
  const tiles = `${base}/api/v1/tiles`;
  const { keys, source } = await logKeys(base, o);
  const note = await (await get(`${tiles}/checkpoint`)).text();
  const head = verifyNote(note, keys);
  const activeOrigin = parseCheckpointBody(parseSignedNote(note).body).origin;
  process.stderr.write(`Checkpoint of ${head.size} entries signed by the log key from ${source}\n`);
  const info = (await (await get(`${base}/api/v1/log`)).json()) as { inactiveShards?: InactiveShardInfo[] };
  const shards = info.inactiveShards ?? [];

  let saved: (TreeHead & { origin: string }) | undefined;
  if (o.checkpoint && existsSync(o.checkpoint)) {
    const text = readFileSync(o.checkpoint, 'utf8');
    saved = parseCheckpointBody(parseSignedNote(text).body);
    verifyNote(text, keys);
  }
  const savedShard = saved && saved.origin !== activeOrigin ? shards.find((s) => saved!.origin.endsWith(` - ${s.treeID}`)) : undefined;
  if (saved && saved.origin !== activeOrigin && !savedShard) throw new AuditFailure(`the saved checkpoint is for "${saved.origin}", a tree this log does not serve`);

  const frozen: { treeId: string; size: number }[] = [];
  for (const shard of shards) {
    if (!o.allTrees && shard !== savedShard) continue;
    process.stderr.write(`Frozen tree ${shard.treeID}:\n`);
    const shardTiles = `${tiles}/shards/${shard.treeID}`;
    const frozenNote = await (await get(`${shardTiles}/checkpoint`)).text();
    if (frozenNote !== shard.signedTreeHead) throw new AuditFailure(`frozen tree ${shard.treeID}: its tiles checkpoint is not the one GET /api/v1/log lists`);
    const shardKeys = o.trustedRoot || o.publicKey ? keys : [createPublicKey(await (await get(`${base}/api/v1/log/publicKey?treeID=${shard.treeID}`)).text())];
    const frozenHead = verifyNote(frozenNote, shardKeys);
    await auditTree(`${base}/api/v1/log/proof?treeID=${shard.treeID}&`, shardTiles, frozenHead, shard === savedShard ? saved : undefined);
    frozen.push({ treeId: shard.treeID, size: frozenHead.size });
  }
  if (shards.length > 0) process.stderr.write(`Active tree:\n`);
  await auditTree(`${base}/api/v1/log/proof?`, tiles, head, savedShard ? undefined : saved);
  if (o.checkpoint) writeFileSync(o.checkpoint, note);
  return { size: head.size, root: head.rootHash.toString('hex'), frozen };
}

/** Every entry of one tree against its checkpoint `head`, and `saved` (an earlier checkpoint of that tree) as its prefix. */
async function auditTree(proofUrl: string, tiles: string, head: TreeHead, saved: TreeHead | undefined): Promise<void> {
  if (saved && saved.size > head.size) throw new AuditFailure(`the log shrank: saved checkpoint has ${saved.size} entries, the log now ${head.size}`);
  const frontier = new Frontier(0, []);
  const started = performance.now();
  let lastReport = started;
  for (let tile = 0; tile * TILE < head.size; tile++) {
    const width = Math.min(TILE, head.size - tile * TILE);
    const suffix = `${encodeIndex(tile)}${width < TILE ? `.p/${width}` : ''}`;
    const [hashes, bundle] = await Promise.all([get(`${tiles}/tile/0/${suffix}`), get(`${tiles}/tile/entries/${suffix}`)]);
    const leafHashes = Buffer.from(await hashes.arrayBuffer());
    const entries = Buffer.from(await bundle.arrayBuffer());
    if (leafHashes.length !== width * 32) throw new AuditFailure(`hash tile ${tile} has ${leafHashes.length} bytes, expected ${width * 32}`);
    let offset = 0;
    for (let i = 0; i < width; i++) {
      const index = tile * TILE + i;
      if (offset + 2 > entries.length) throw new AuditFailure(`entry bundle ${tile} ends before entry ${index}`);
      const length = entries.readUInt16BE(offset);
      const body = entries.subarray(offset + 2, offset + 2 + length);
      offset += 2 + length;
      const hash = leafHash(body);
      if (!hash.equals(leafHashes.subarray(i * 32, i * 32 + 32))) {
        throw new AuditFailure(`entry ${index}: its body does not hash to the leaf the log's tree holds at index ${index}`);
      }
      frontier.append(hash);
      if (saved && frontier.size === saved.size && !frontier.root().equals(saved.rootHash)) {
        throw new AuditFailure(`the first ${saved.size} entries (up to index ${saved.size - 1}) no longer hash to the root of the saved checkpoint: history was rewritten`);
      }
    }
    if (offset !== entries.length) throw new AuditFailure(`entry bundle ${tile} has bytes after its ${width} entries`);
    if (performance.now() - lastReport > 1000) {
      lastReport = performance.now();
      progress(frontier.size, head.size, started);
    }
  }
  if (!frontier.root().equals(head.rootHash)) throw new AuditFailure(`the root of all ${head.size} entries is not the checkpoint's root`);
  if (saved && saved.size < head.size) {
    const proof = await (await get(`${proofUrl}firstSize=${saved.size}&lastSize=${head.size}`)).json() as { hashes?: string[] };
    const hashes = (proof.hashes ?? []).map((h) => Buffer.from(h, 'hex'));
    if (!verifyConsistency(saved.size, head.size, hashes, saved.rootHash, head.rootHash)) {
      throw new AuditFailure(`the log's consistency proof from ${saved.size} to ${head.size} does not verify`);
    }
  }
  progress(frontier.size, head.size, started);
}

function encodeIndex(n: number): string {
  const digits = String(n).padStart(Math.ceil(String(n).length / 3) * 3, '0').match(/\d{3}/g)!;
  return digits.map((g, i) => (i < digits.length - 1 ? `x${g}` : g)).join('/');
}

/** Valid hashedrekord entries (one fresh P-256 key per 1,000 entries), `concurrency` POSTs at a time. */
export async function fill(o: { url: string; count: number; concurrency: number }): Promise<{ created: number; seconds: number }> {
  const base = o.url.replace(/\/+$/, '');
  let next = 0;
  let created = 0;
  let key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  let pem = '';
  const started = performance.now();
  let lastReport = started;
  await Promise.all(Array.from({ length: o.concurrency }, async () => {
    while (next < o.count) {
      const i = next++;
      if (i % 1000 === 0 || !pem) {
        if (i % 1000 === 0 && i > 0) key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
        pem = Buffer.from(key.publicKey.export({ type: 'spki', format: 'pem' }) as string).toString('base64');
      }
      const data = randomBytes(32);
      const body = JSON.stringify({
        apiVersion: '0.0.1', kind: 'hashedrekord',
        spec: { signature: { content: sign('sha256', data, key.privateKey).toString('base64'), publicKey: { content: pem } }, data: { hash: { algorithm: 'sha256', value: createHash('sha256').update(data).digest('hex') } } },
      });
      const res = await fetch(`${base}/api/v1/log/entries`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      await res.arrayBuffer();
      if (res.status !== 201) throw new Error(`entry ${i}: the log said ${res.status}`);
      created++;
      if (performance.now() - lastReport > 1000) {
        lastReport = performance.now();
        progress(created, o.count, started);
      }
    }
  }));
  return { created, seconds: (performance.now() - started) / 1000 };
}

function positiveInt(name: string) {
  return (v: string) => {
    const n = Number(v);
    if (!/^[0-9]+$/.test(v) || !Number.isSafeInteger(n) || n < 1) throw new Error(`${name} must be a positive integer`);
    return n;
  };
}

export function register(program: Command): void {
  const logCommand = program.command('log').description('audit a transparency log, fill one for tests, back it up and restore it, rotate its key');
  logCommand.command('audit')
    .description('recompute the log from every entry, check it against its signed checkpoint and the one saved last time')
    .requiredOption('--url <url>', 'the log (the stack) base URL')
    .option('--checkpoint <file>', 'checkpoint saved by the previous audit: checked for consistency, then replaced')
    .option('--trusted-root <file>', 'trusted_root.json holding the log key (else --public-key, else the log\'s own key)')
    .option('--public-key <file>', 'the log key, PEM')
    .option('--all-trees', 'also audit every tree frozen by `log rotate` against its final checkpoint')
    .action(async (o: AuditOptions & { allTrees?: boolean }) => {
      try {
        const r = await audit(o);
        const frozen = r.frozen.map((f) => `, frozen tree ${f.treeId}: ${f.size} entries`).join('');
        process.stdout.write(`Audit OK: ${r.size} entries, root ${r.root}${frozen}${o.checkpoint ? `, checkpoint saved to ${o.checkpoint}` : ''}\n`);
      } catch (e) {
        if (!(e instanceof AuditFailure)) throw e;
        process.stderr.write(`Audit FAILED: ${e.message}\n`);
        process.exitCode = 1;
      }
    });
  logCommand.command('fill')
    .description('append N valid hashedrekord entries (tests and benchmarks)')
    .requiredOption('--url <url>', 'the log (the stack) base URL')
    .requiredOption('--count <n>', 'entries to append', positiveInt('--count'))
    .option('--concurrency <n>', 'requests in flight', positiveInt('--concurrency'), 16)
    .action(async (o: { url: string; count: number; concurrency: number }) => {
      const r = await fill(o);
      process.stdout.write(`Appended ${r.created} entries in ${r.seconds.toFixed(1)} s (${Math.round(r.created / r.seconds)} entries/s)\n`);
    });
  registerBackupCommands(logCommand);
  registerRotateCommand(logCommand);
}

