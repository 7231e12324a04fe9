import { createHash, createPublicKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parseCheckpointBody, parseSignedNote, verifyCheckpoint } from '../../log/checkpoint.ts';
import { Frontier } from '../../log/merkle/frontier.ts';
import { leafHash } from '../../log/merkle/hash.ts';
import { verifyConsistency } from '../../log/merkle/verify.ts';
import { registerBackupCommands } from './log-backup.ts';

/**
 * `sigstack log audit` and `sigstack log fill`.
 * audit reads the whole log through the tlog-tiles API (/api/v1/tiles): for every entry it hashes the body
 * from the entry bundle and compares it with the leaf hash the server's tree holds (hash tile), rebuilds
 * the root from every leaf with an RFC 6962 frontier, checks the checkpoint's signature and root, checks
 * that the checkpoint saved by the previous run is a prefix (its root recomputed from the entries AND the
 * server's consistency proof), then saves the new checkpoint. Any mismatch: exit 1 naming the index.
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

export async function audit(o: AuditOptions): Promise<{ size: number; root: string }> {
  const base = o.url.replace(/\/+$/, '');
  const tiles = `${base}/api/v1/tiles`;
  const { keys, source } = await logKeys(base, o);
  const note = await (await get(`${tiles}/checkpoint`)).text();
  const head = verifyNote(note, keys);
  process.stderr.write(`Checkpoint of ${head.size} entries signed by the log key from ${source}\n`);

  let saved: { size: number; rootHash: Buffer } | undefined;
  if (o.checkpoint && existsSync(o.checkpoint)) {
    const text = readFileSync(o.checkpoint, 'utf8');
    saved = parseCheckpointBody(parseSignedNote(text).body);
    verifyNote(text, keys);
    if (saved.size > head.size) throw new AuditFailure(`the log shrank: saved checkpoint has ${saved.size} entries, the log now ${head.size}`);
  }

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
    const proof = await (await get(`${base}/api/v1/log/proof?firstSize=${saved.size}&lastSize=${head.size}`)).json() as { hashes?: string[] };
    const hashes = (proof.hashes ?? []).map((h) => Buffer.from(h, 'hex'));
    if (!verifyConsistency(saved.size, head.size, hashes, saved.rootHash, head.rootHash)) {
      throw new AuditFailure(`the log's consistency proof from ${saved.size} to ${head.size} does not verify`);
    }
  }
  progress(frontier.size, head.size, started);
  if (o.checkpoint) writeFileSync(o.checkpoint, note);
  return { size: head.size, root: head.rootHash.toString('hex') };
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
  const logCommand = program.command('log').description('audit a transparency log, or fill one for tests and benchmarks');
  logCommand.command('audit')
    .description('recompute the log from every entry, check it against its signed checkpoint and the one saved last time')
    .requiredOption('--url <url>', 'the log (the stack) base URL')
    .option('--checkpoint <file>', 'checkpoint saved by the previous audit: checked for consistency, then replaced')
    .option('--trusted-root <file>', 'trusted_root.json holding the log key (else --public-key, else the log\'s own key)')
    .option('--public-key <file>', 'the log key, PEM')
    .action(async (o: AuditOptions) => {
      try {
        const r = await audit(o);
        process.stdout.write(`Audit OK: ${r.size} entries, root ${r.root}${o.checkpoint ? `, checkpoint saved to ${o.checkpoint}` : ''}\n`);
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
}

