import { createHash, type KeyObject } from 'node:crypto';
import { importPublicKey, importPublicKeyPem } from '../core/public-key.ts';
import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { writeFileAtomic } from '../core/atomic-file.ts';
import { dirname, resolve } from 'node:path';
import { parseCheckpointBody, parseSignedNote, verifyCheckpoint } from '../log/checkpoint.ts';
import { auditTree, type TreeHead } from './log-audit-tree.ts';
import { AuditFailure, AuditInputError } from './log-audit-errors.ts';
import { logBaseUrl } from './log-http.ts';
import { createReader, MAX_SMALL, readJson, type Read, type ReadOptions } from './log-audit-http.ts';

export { AuditFailure, AuditInputError, AuditUnavailable } from './log-audit-errors.ts';

/**
 * `sigstack log audit`: reads the whole log through the tlog-tiles API (/api/v1/tiles) and checks it against its
 * signed checkpoint and the checkpoint saved by the previous run (log-audit-tree.ts does the per-entry work).
 * Errors are of three kinds, so a script can tell them apart: AuditFailure (the log does not match what it signed,
 * or rewrote history), AuditInputError (the caller's flags or files are wrong, or the URL is no Sigstack log),
 * AuditUnavailable (the log could not be read). Everything the caller gave is checked before any entry is read.
 * The active tree only, unless --all-trees (trees frozen by `log rotate`), or the saved checkpoint is of a frozen tree.
 */
export interface AuditOptions {
  url: string; checkpoint?: string; trustedRoot?: string; publicKey?: string; allTrees?: boolean;
  /** Per request, headers and body (default 60 s; tests shorten it). */
  timeoutMs?: number;
}

const NOT_A_LOG = 'is the URL the base URL of a Sigstack log, as `sigstack serve` prints it?';

async function readText(read: Read, url: string, opts?: ReadOptions): Promise<string> {
  return (await read(url, MAX_SMALL, opts)).toString('utf8');
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
    return importPublicKeyPem(pem).key;
  } catch (e) {
    throw new AuditInputError(`${where} is not a PEM public key of an accepted kind (${(e as Error).message})`);
  }
}

/** A log key and the time it may sign in (a trusted root's validFor; open for --public-key and TOFU). */
interface LogKey { key: KeyObject; start?: number; end?: number }

function validAt(k: LogKey, t: number): boolean {
  return (k.start === undefined || k.start <= t) && (k.end === undefined || t <= k.end);
}

function isoTime(v: unknown, where: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  const t = typeof v === 'string' ? Date.parse(v) : NaN;
  if (!Number.isFinite(t)) throw new AuditInputError(`${where} is not a time`);
  return t;
}

/** The log keys of a trusted root: its tlogs whose baseUrl is this log, else (another name for it) every tlog key. */
function trustedRootKeys(file: string, base: string): { keys: LogKey[]; note: string } {
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
    const tlog = l as { baseUrl?: unknown; publicKey?: { rawBytes?: unknown; validFor?: { start?: unknown; end?: unknown } } } | null;
    if (typeof tlog !== 'object' || tlog === null || Array.isArray(tlog)) throw new AuditInputError(`--trusted-root ${file}: tlogs[${i}] is not an object`);
    const raw = tlog.publicKey?.rawBytes;
    if (raw === undefined) return undefined;
    let key: KeyObject;
    try {
      if (typeof raw !== 'string') throw new TypeError();
      key = importPublicKey(Buffer.from(raw, 'base64')).key;
    } catch {
      throw new AuditInputError(`--trusted-root ${file}: tlogs[${i}].publicKey.rawBytes is not a base64 DER public key`);
    }
    const validFor = tlog.publicKey?.validFor;
    return {
      baseUrl: typeof tlog.baseUrl === 'string' ? tlog.baseUrl.replace(/\/+$/, '') : undefined,
      key,
      start: isoTime(validFor?.start, `--trusted-root ${file}: tlogs[${i}].publicKey.validFor.start`),
      end: isoTime(validFor?.end, `--trusted-root ${file}: tlogs[${i}].publicKey.validFor.end`),
    };
  }).filter((k) => k !== undefined);
  if (withKeys.length === 0) throw new AuditInputError(`--trusted-root ${file} has no transparency log key for ${base} (no tlogs[].publicKey.rawBytes)`);
  const mine = withKeys.filter((k) => k.baseUrl === base);
  if (mine.length > 0) return { keys: mine, note: '' };
  return { keys: withKeys, note: ` (no tlog of ${file} has the baseUrl ${base}: every one of its ${withKeys.length} log keys was tried)` };
}

/** The log key: from the trusted root, a PEM file, or else the log itself (trust on first use). */
async function logKeys(read: Read, base: string, o: AuditOptions): Promise<{ keys: LogKey[]; source: string; note: string }> {
  if (o.trustedRoot) return { ...trustedRootKeys(o.trustedRoot, base), source: o.trustedRoot };
  if (o.publicKey) return { keys: [{ key: pemKey(readInput(o.publicKey, '--public-key'), `--public-key ${o.publicKey}`) }], source: o.publicKey, note: '' };
  const url = `${base}/api/v1/log/publicKey`;
  const pem = await readText(read, url, { discovery: true });
  try {
    return { keys: [{ key: importPublicKeyPem(pem).key }], source: `${url} (trust on first use)`, note: '' };
  } catch {
    throw new AuditInputError(`${url} did not answer a PEM public key: ${NOT_A_LOG}`);
  }
}

/**
 * Parses a signed checkpoint. One the caller gave (or the log served before any was saved) that is not one is an
 * input mistake; once a checkpoint of this log was saved, a malformed one from the log is the log's failure.
 */
function parseNote(note: string, where: string, logsFault = false): TreeHead & { origin: string } {
  try {
    return parseCheckpointBody(parseSignedNote(note).body);
  } catch (e) {
    const message = `${where} is not a signed checkpoint (${note.trim() === '' ? 'it is empty' : (e as Error).message})`;
    throw logsFault ? new AuditFailure(message) : new AuditInputError(message);
  }
}

/** `<host> - <tree id>`: the log's name and the tree (Rekor's checkpoint origin). */
function splitOrigin(origin: string): { host: string; treeId?: string } {
  const m = /^(.*) - (\d{1,20})$/.exec(origin);
  return m ? { host: m[1]!, treeId: m[2]! } : { host: origin };
}

/**
 * Verifies a checkpoint with one of `keys`, under the signer name Rekor uses: the host part of its origin (the
 * name is never taken from the note's own signature lines). Returns the head and the key that verified it.
 */
function verifyNote(note: string, keys: LogKey[], what: string, keyNote: string): TreeHead & { origin: string; key: KeyObject } {
  const name = splitOrigin(parseSignedNote(note).body.split('\n')[0]!).host;
  for (const { key } of keys) {
    const keyId = createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest();
    try {
      return { ...verifyCheckpoint(note, [{ name, publicKey: key, keyId }]), key };
    } catch {
      // the next key
    }
  }
  throw new AuditFailure(`${what} signature does not verify with the log key${keyNote} under the name ${JSON.stringify(name)}`);
}

function sameKey(a: KeyObject, b: KeyObject): boolean {
  return a.export({ type: 'spki', format: 'der' }).equals(b.export({ type: 'spki', format: 'der' }));
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

interface InactiveShard { treeID: string; signedTreeHead: string }

/** GET /api/v1/log's `inactiveShards`, each checked: a tree id of digits (it goes into URLs) and its final checkpoint. */
function inactiveShards(info: unknown, url: string): InactiveShard[] {
  const list = (info as { inactiveShards?: unknown } | null)?.inactiveShards;
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list) || list.length > 1000) throw new AuditFailure(`${url}: inactiveShards is not a list of frozen trees`);
  return list.map((s: unknown, i) => {
    const shard = s as { treeID?: unknown; signedTreeHead?: unknown } | null;
    if (typeof shard?.treeID !== 'string' || !/^\d{1,20}$/.test(shard.treeID) || typeof shard.signedTreeHead !== 'string') {
      throw new AuditFailure(`${url}: inactiveShards[${i}] is not a frozen tree (a treeID of digits and a signedTreeHead)`);
    }
    return { treeID: shard.treeID, signedTreeHead: shard.signedTreeHead };
  });
}

/**
 * After `log rotate` the log has frozen trees (GET /api/v1/log `inactiveShards`), each served at
 * /api/v1/tiles/shards/<tree id> with its final checkpoint. A saved checkpoint names its tree in its origin
 * ("<host> - <tree id>"): one saved before a rotation is checked against the frozen tree it belongs to. A rotation
 * is the log's own claim, so it must look like one: the same log name, the saved tree's final checkpoint for
 * exactly that tree, a new tree that was not frozen, and a new key (`log rotate` always makes one): otherwise a
 * log could drop the saved checkpoint on any run just by saying it rotated.
 */
export async function audit(o: AuditOptions, progress: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<{ size: number; root: string; frozen: { treeId: string; size: number }[] }> {
  const reader = createReader(o.timeoutMs);
  try {
    return await auditWith(reader.read, o, progress);
  } finally {
    await reader.close();
  }
}

async function auditWith(read: Read, o: AuditOptions, progress: (line: string) => void): Promise<{ size: number; root: string; frozen: { treeId: string; size: number }[] }> {
  const parsed = logBaseUrl(o.url);
  if ('problem' in parsed) throw new AuditInputError(parsed.problem);
  const base = parsed.base;
  const tiles = `${base}/api/v1/tiles`;
  if (o.checkpoint) checkWritable(o.checkpoint);
  const savedText = o.checkpoint && existsSync(o.checkpoint) ? readInput(o.checkpoint, '--checkpoint') : undefined;
  const saved = savedText !== undefined ? parseNote(savedText, `--checkpoint ${o.checkpoint}`) : undefined;
  const known = saved !== undefined;
  const { keys, source, note: keyNote } = await logKeys(read, base, o);
  const now = Date.now();

  const note = await readText(read, `${tiles}/checkpoint`, { discovery: true, known });
  const active = splitOrigin(parseNote(note, `${tiles}/checkpoint`, known).origin);
  const savedOrigin = saved ? splitOrigin(saved.origin) : undefined;
  if (savedOrigin && savedOrigin.host !== active.host) {
    throw new AuditFailure(`the log now calls itself "${active.host}", the saved checkpoint "${savedOrigin.host}": not the same log`);
  }
  const activeKeys = keys.filter((k) => validAt(k, now));
  if (activeKeys.length === 0) throw new AuditInputError(`no log key of ${source} is valid now${keyNote}`);
  const head = verifyNote(note, activeKeys, 'the log\'s checkpoint', keyNote);
  progress(`Checkpoint of ${head.size} entries signed by the log key from ${source}${keyNote}`);
  const infoUrl = `${base}/api/v1/log`;
  const info = await readJson(read, infoUrl, (m) => (known ? new AuditFailure(m) : new AuditInputError(`${m}: ${NOT_A_LOG}`)), { discovery: true, known });
  const shards = inactiveShards(info, infoUrl);
  if (active.treeId !== undefined && shards.some((s) => s.treeID === active.treeId)) throw new AuditFailure(`tree ${active.treeId} is both the active tree and a frozen one`);

  const savedShard = saved && saved.origin !== head.origin ? shards.find((s) => saved.origin === `${active.host} - ${s.treeID}`) : undefined;
  if (saved && saved.origin !== head.origin && !savedShard) throw new AuditFailure(`the saved checkpoint is for "${saved.origin}", a tree this log does not serve`);
  const shardKeys = async (treeId: string): Promise<LogKey[]> => {
    if (o.trustedRoot || o.publicKey) return keys;
    const url = `${base}/api/v1/log/publicKey?treeID=${treeId}`;
    return [{ key: pemKey(await readText(read, url), url) }];
  };
  // The saved checkpoint is checked with the keys of its own tree (after a rotation, not the active key).
  if (savedText !== undefined) verifyNote(savedText, savedShard ? await shardKeys(savedShard.treeID) : activeKeys, `the saved checkpoint ${o.checkpoint}:`, keyNote);

  const frozen: { treeId: string; size: number }[] = [];
  for (const shard of shards) {
    if (!o.allTrees && shard !== savedShard) continue;
    progress(`Frozen tree ${shard.treeID}:`);
    const shardTiles = `${tiles}/shards/${shard.treeID}`;
    const frozenNote = await readText(read, `${shardTiles}/checkpoint`);
    if (frozenNote !== shard.signedTreeHead) throw new AuditFailure(`frozen tree ${shard.treeID}: its tiles checkpoint is not the one GET /api/v1/log lists`);
    const frozenHead = verifyNote(frozenNote, await shardKeys(shard.treeID), `frozen tree ${shard.treeID}: its checkpoint`, keyNote);
    if (frozenHead.origin !== `${active.host} - ${shard.treeID}`) throw new AuditFailure(`frozen tree ${shard.treeID}: its checkpoint is for "${frozenHead.origin}"`);
    if (shard === savedShard && sameKey(frozenHead.key, head.key)) {
      throw new AuditFailure(`the log says tree ${shard.treeID} (the saved checkpoint's) was rotated, but its new tree is signed with the same key: \`log rotate\` always makes a new key`);
    }
    await auditTree(`${base}/api/v1/log/proof?treeID=${shard.treeID}&`, shardTiles, frozenHead, shard === savedShard ? saved : undefined, read, progress);
    frozen.push({ treeId: shard.treeID, size: frozenHead.size });
  }
  if (shards.length > 0) progress('Active tree:');
  await auditTree(`${base}/api/v1/log/proof?`, tiles, head, savedShard ? undefined : saved, read, progress);
  if (o.checkpoint) {
    // replaced whole or not at all: a crash mid-write must not lose the last verified checkpoint
    writeFileAtomic(o.checkpoint, note);
  }
  return { size: head.size, root: head.rootHash.toString('hex'), frozen };
}
