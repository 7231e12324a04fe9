import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { accessSync, constants, existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseCheckpointBody, parseSignedNote, verifyCheckpoint } from '../log/checkpoint.ts';
import { auditTree, type TreeHead } from './log-audit-tree.ts';
import { AuditFailure, AuditInputError, AuditUnavailable } from './log-audit-errors.ts';
import { fetchCause, logBaseUrl } from './log-http.ts';

export { AuditFailure, AuditInputError, AuditUnavailable } from './log-audit-errors.ts';

/**
 * `sigstack log audit`: reads the whole log through the tlog-tiles API (/api/v1/tiles) and checks it against its
 * signed checkpoint and the checkpoint saved by the previous run (log-audit-tree.ts does the per-entry work).
 * Errors are of three kinds, so a script can tell them apart: AuditFailure (the log does not match what it signed,
 * or rewrote history), AuditInputError (the caller's flags or files are wrong, or the URL is no Sigstack log),
 * AuditUnavailable (the log could not be read). Everything the caller gave is checked before any entry is read.
 * The active tree only, unless --all-trees (trees frozen by `log rotate`), or the saved checkpoint is of a frozen tree.
 */
export interface AuditOptions { url: string; checkpoint?: string; trustedRoot?: string; publicKey?: string; allTrees?: boolean }

const TIMEOUT_MS = 60_000;
const NOT_A_LOG = 'is the URL the base URL of a Sigstack log, as `sigstack serve` prints it?';

/** `discovery` requests are the first ones made: a 404 there means the URL is not a Sigstack log at all. */
export async function get(url: string, discovery = false): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, { redirect: 'error', signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (e) {
    throw new AuditUnavailable(`cannot reach ${url} (${fetchCause(e, TIMEOUT_MS)})`);
  }
  if (res.ok) return res;
  await res.arrayBuffer().catch(() => undefined);
  if (discovery && (res.status === 404 || res.status === 405)) throw new AuditInputError(`${url} said ${res.status}: ${NOT_A_LOG}`);
  throw new AuditUnavailable(`${url} said ${res.status}`);
}

async function text(url: string, discovery = false): Promise<string> {
  const res = await get(url, discovery);
  try {
    return await res.text();
  } catch (e) {
    throw new AuditUnavailable(`${url}: the answer was cut (${fetchCause(e, TIMEOUT_MS)})`);
  }
}

function readInput(path: string, flag: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new AuditInputError(`cannot read ${flag} ${path}: ${(e as Error).message}`);
  }
}

function pemKey(pem: string, where: string): KeyObject {
  try {
    return createPublicKey(pem);
  } catch {
    throw new AuditInputError(`${where} is not a PEM public key`);
  }
}

/** The log keys of a trusted root: its tlogs whose baseUrl is this log, else (another name for it) every tlog key. */
function trustedRootKeys(file: string, base: string): { keys: KeyObject[]; note: string } {
  let root: unknown;
  try {
    root = JSON.parse(readInput(file, '--trusted-root'));
  } catch (e) {
    if (e instanceof AuditInputError) throw e;
    throw new AuditInputError(`--trusted-root ${file} is not JSON (${(e as Error).message})`);
  }
  const tlogs = (root as { tlogs?: unknown } | null)?.tlogs ?? [];
  if (typeof root !== 'object' || root === null || Array.isArray(root) || !Array.isArray(tlogs)) {
    throw new AuditInputError(`--trusted-root ${file} is not a trusted_root.json (an object with a tlogs array)`);
  }
  const withKeys = tlogs.map((l: unknown, i) => {
    const tlog = l as { baseUrl?: unknown; publicKey?: { rawBytes?: unknown } } | null;
    if (typeof tlog !== 'object' || tlog === null || Array.isArray(tlog)) throw new AuditInputError(`--trusted-root ${file}: tlogs[${i}] is not an object`);
    const raw = tlog.publicKey?.rawBytes;
    if (raw === undefined) return undefined;
    try {
      if (typeof raw !== 'string') throw new TypeError();
      const key = createPublicKey({ key: Buffer.from(raw, 'base64'), format: 'der', type: 'spki' });
      return { baseUrl: typeof tlog.baseUrl === 'string' ? tlog.baseUrl.replace(/\/+$/, '') : undefined, key };
    } catch {
      throw new AuditInputError(`--trusted-root ${file}: tlogs[${i}].publicKey.rawBytes is not a base64 DER public key`);
    }
  }).filter((k) => k !== undefined);
  if (withKeys.length === 0) throw new AuditInputError(`--trusted-root ${file} has no transparency log key for ${base} (no tlogs[].publicKey.rawBytes)`);
  const mine = withKeys.filter((k) => k.baseUrl === base);
  if (mine.length > 0) return { keys: mine.map((k) => k.key), note: '' };
  return { keys: withKeys.map((k) => k.key), note: ` (no tlog of ${file} has the baseUrl ${base}: every one of its ${withKeys.length} log keys was tried)` };
}

/** The log key: from the trusted root, a PEM file, or else the log itself (trust on first use). */
async function logKeys(base: string, o: AuditOptions): Promise<{ keys: KeyObject[]; source: string; note: string }> {
  if (o.trustedRoot) return { ...trustedRootKeys(o.trustedRoot, base), source: o.trustedRoot };
  if (o.publicKey) return { keys: [pemKey(readInput(o.publicKey, '--public-key'), `--public-key ${o.publicKey}`)], source: o.publicKey, note: '' };
  const url = `${base}/api/v1/log/publicKey`;
  const pem = await text(url, true);
  try {
    return { keys: [createPublicKey(pem)], source: `${url} (trust on first use)`, note: '' };
  } catch {
    throw new AuditInputError(`${url} did not answer a PEM public key: ${NOT_A_LOG}`);
  }
}

/** Parses a signed checkpoint; `where` names it when it is not one (an input mistake, not a log failure). */
function parseNote(note: string, where: string): TreeHead & { origin: string } {
  try {
    return parseCheckpointBody(parseSignedNote(note).body);
  } catch (e) {
    throw new AuditInputError(`${where} is not a signed checkpoint (${note.trim() === '' ? 'it is empty' : (e as Error).message})`);
  }
}

function verifyNote(note: string, keys: KeyObject[], what: string, keyNote: string): TreeHead {
  const names = parseSignedNote(note).signatures.map((s) => s.name);
  const candidates = keys.flatMap((publicKey) => {
    const keyId = createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest();
    return names.map((name) => ({ name, publicKey, keyId }));
  });
  try {
    return verifyCheckpoint(note, candidates);
  } catch (e) {
    throw new AuditFailure(`${what} signature does not verify with the log key${keyNote}: ${(e as Error).message}`);
  }
}

/** --checkpoint must be replaceable at the end: found out now, not after reading the whole log. */
function checkWritable(file: string): void {
  const path = resolve(file);
  if (existsSync(path)) {
    if (!statSync(path).isFile()) throw new AuditInputError(`--checkpoint ${file} is not a file`);
  } else if (!existsSync(dirname(path))) {
    throw new AuditInputError(`--checkpoint ${file}: the folder ${dirname(path)} does not exist`);
  }
  try {
    accessSync(dirname(path), constants.W_OK);
  } catch {
    throw new AuditInputError(`--checkpoint ${file}: cannot write in ${dirname(path)}`);
  }
}

interface InactiveShardInfo { treeID: string; treeSize: number; rootHash: string; signedTreeHead: string }

/**
 * After `log rotate` the log has frozen trees (GET /api/v1/log `inactiveShards`), each served at
 * /api/v1/tiles/shards/<tree id> with its final checkpoint. A saved checkpoint names its tree in its origin
 * ("<host> - <tree id>"): one saved before a rotation is checked against the frozen tree it belongs to.
 */
export async function audit(o: AuditOptions, progress: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<{ size: number; root: string; frozen: { treeId: string; size: number }[] }> {
  const parsed = logBaseUrl(o.url);
  if ('problem' in parsed) throw new AuditInputError(parsed.problem);
  const base = parsed.base;
  const tiles = `${base}/api/v1/tiles`;
  if (o.checkpoint) checkWritable(o.checkpoint);
  const savedText = o.checkpoint && existsSync(o.checkpoint) ? readInput(o.checkpoint, '--checkpoint') : undefined;
  const saved = savedText !== undefined ? parseNote(savedText, `--checkpoint ${o.checkpoint}`) : undefined;
  const { keys, source, note: keyNote } = await logKeys(base, o);

  const note = await text(`${tiles}/checkpoint`, true);
  const activeOrigin = parseNote(note, `${tiles}/checkpoint`).origin;
  const head = verifyNote(note, keys, 'the log\'s checkpoint', keyNote);
  progress(`Checkpoint of ${head.size} entries signed by the log key from ${source}`);
  let info: { inactiveShards?: unknown };
  try {
    info = (await (await get(`${base}/api/v1/log`, true)).json()) as { inactiveShards?: unknown };
  } catch (e) {
    if (e instanceof AuditInputError || e instanceof AuditUnavailable) throw e;
    throw new AuditInputError(`${base}/api/v1/log did not answer JSON: ${NOT_A_LOG}`);
  }
  const shards = Array.isArray(info?.inactiveShards) ? info.inactiveShards as InactiveShardInfo[] : [];
  if (savedText !== undefined) verifyNote(savedText, keys, `the saved checkpoint ${o.checkpoint}:`, keyNote);

  const savedShard = saved && saved.origin !== activeOrigin ? shards.find((s) => saved.origin.endsWith(` - ${s.treeID}`)) : undefined;
  if (saved && saved.origin !== activeOrigin && !savedShard) throw new AuditFailure(`the saved checkpoint is for "${saved.origin}", a tree this log does not serve`);

  const frozen: { treeId: string; size: number }[] = [];
  for (const shard of shards) {
    if (!o.allTrees && shard !== savedShard) continue;
    progress(`Frozen tree ${shard.treeID}:`);
    const shardTiles = `${tiles}/shards/${shard.treeID}`;
    const frozenNote = await text(`${shardTiles}/checkpoint`);
    if (frozenNote !== shard.signedTreeHead) throw new AuditFailure(`frozen tree ${shard.treeID}: its tiles checkpoint is not the one GET /api/v1/log lists`);
    const shardKeys = o.trustedRoot || o.publicKey ? keys : [pemKey(await text(`${base}/api/v1/log/publicKey?treeID=${shard.treeID}`), `${base}/api/v1/log/publicKey?treeID=${shard.treeID}`)];
    const frozenHead = verifyNote(frozenNote, shardKeys, `frozen tree ${shard.treeID}: its checkpoint`, keyNote);
    await auditTree(`${base}/api/v1/log/proof?treeID=${shard.treeID}&`, shardTiles, frozenHead, shard === savedShard ? saved : undefined, get, progress);
    frozen.push({ treeId: shard.treeID, size: frozenHead.size });
  }
  if (shards.length > 0) progress('Active tree:');
  await auditTree(`${base}/api/v1/log/proof?`, tiles, head, savedShard ? undefined : saved, get, progress);
  if (o.checkpoint) {
    // replaced whole or not at all: a crash mid-write must not lose the last verified checkpoint
    const tmp = `${o.checkpoint}.${process.pid}.tmp`;
    writeFileSync(tmp, note);
    renameSync(tmp, o.checkpoint);
  }
  return { size: head.size, root: head.rootHash.toString('hex'), frozen };
}
