import { createHash } from 'node:crypto';
import { chmodSync, closeSync, createReadStream, createWriteStream, existsSync, mkdirSync, openSync, readdirSync, readSync, renameSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import Database from 'better-sqlite3';
import { openMerkleLog } from '../log/merkle-log.ts';
import { signCheckpoint, verifyCheckpoint } from '../log/checkpoint.ts';
import type { Signer } from '../core/signer.ts';
import { loadKeyFile } from './keys.ts';
import { activeRekorTree, readMeta, type DeploymentMeta } from './meta.ts';
import { BackupError, BackupTargetError, checkBackupTarget, checkRestoreTarget, makeWorkFolder, removeMadeFolders, type RunOptions } from './backup-files.ts';

/**
 * Backups of a data folder into one archive file, taken online (while a server appends), and restores that prove
 * themselves. Each log database is copied with SQLite's online backup API from a read-only connection, so the copy
 * is one consistent snapshot whatever the server writes meanwhile; the backup then signs a checkpoint of each copied
 * tree with that tree's own key. A restore refuses an archive whose trees do not have the signed roots.
 *
 * Archive: `SIGSTACK-BACKUP 1\n`, one JSON manifest line, then the files' bytes in manifest order. It holds the
 * private keys: it is written 0600 and must be kept like the data folder itself.
 */
const MAGIC = 'SIGSTACK-BACKUP 1\n';

/** One tree of the data folder: `rekor` (the active Rekor tree), `ct`, and `rekor-<tree id>` per frozen Rekor tree. */
interface TreeFiles {
  name: string;
  dbFile: string;
  keyFile: string;
  origin: string;
  /** A frozen tree's checkpoint, signed at rotation: a backup never signs anything new with a retired key. */
  frozen?: { note: string; treeSize: number };
}

function treesOf(log: NonNullable<DeploymentMeta['log']>): TreeFiles[] {
  const active = activeRekorTree(log);
  return [
    { name: 'rekor', dbFile: active.dbFile, keyFile: active.keyFile, origin: `${log.signerName} - ${active.treeId}` },
    { name: 'ct', dbFile: 'log/ct.db', keyFile: 'keys/ct.key.pem', origin: `${log.signerName} - ct` },
    ...(log.inactiveShards ?? []).map((s) => ({
      name: `rekor-${s.treeId}`, dbFile: s.dbFile, keyFile: s.keyFile, origin: `${log.signerName} - ${s.treeId}`, frozen: { note: s.checkpoint, treeSize: s.treeSize },
    })),
  ];
}

export interface BackupManifest {
  version: 1;
  createdAt: string;
  files: { path: string; size: number; sha256: string }[];
  /** Per tree (`rekor`, `ct`, `rekor-<tree id>`): a checkpoint note of the copied tree, signed with the tree's key in the backup. */
  checkpoints: Record<string, string>;
}

export interface BackupProgress {
  /** What is being copied: a database (`log/ct.db`), or `archive`. */
  step: string;
  done: number;
  total: number;
}

export { BackupError, BackupTargetError, checkBackupTarget, workFolderPrefix, type RunOptions } from './backup-files.ts';

/**
 * Copies `dataDir` into the archive `to`. Safe while a server uses the folder. Returns the manifest written. On any
 * failure nothing is left behind: neither the work folder nor the half-written archive (it holds private keys).
 */
export async function backupDataDir(dataDir: string, to: string, onProgress: (p: BackupProgress) => void = () => undefined, opts: RunOptions = {}): Promise<BackupManifest> {
  dataDir = resolve(dataDir);
  checkBackupTarget(to, opts.overwrite, dataDir);
  if (!existsSync(join(dataDir, 'meta.json'))) throw new BackupError(`${dataDir} is not a sigstack data folder (no meta.json)`);
  const meta = readMeta(dataDir);
  if (!meta.log) throw new BackupError(`${dataDir} holds no log (no log in meta.json): nothing to back up`);
  const signal = opts.signal;
  signal?.throwIfAborted();
  const work = makeWorkFolder(dirname(resolve(to)), 'backup');
  const tmp = `${resolve(to)}.partial`;
  let ownsTmp = false;
  try {
    const files: { path: string; source: string }[] = [];
    const checkpoints: Record<string, string> = {};
    for (const tree of treesOf(meta.log)) {
      const rel = tree.dbFile;
      const copy = join(work, `${tree.name}.db`);
      await snapshotDatabase(join(dataDir, rel), copy, (done, total) => {
        signal?.throwIfAborted(); // thrown into SQLite's backup, which stops it
        onProgress({ step: rel, done, total });
      });
      const signer = loadKeyFile(join(dataDir, tree.keyFile));
      const log = openMerkleLog({ path: copy });
      try {
        const size = log.size();
        if (tree.frozen) {
          // the frozen tree must still be the one its rotation checkpoint signs
          checkTree(tree, tree.frozen.note, signer, meta.log.signerName, size, log.rootHash(size), `${dataDir}: `);
          checkpoints[tree.name] = tree.frozen.note;
        } else {
          checkpoints[tree.name] = signCheckpoint({ origin: tree.origin, size, rootHash: log.rootHash(size) }, meta.log.signerName, signer);
        }
      } finally {
        await log.close();
      }
      // the copy in its own journal mode, closed: one self-contained file
      files.push({ path: rel, source: copy });
    }
    for (const dir of ['keys', 'ca']) {
      if (!existsSync(join(dataDir, dir))) continue;
      for (const f of readdirSync(join(dataDir, dir))) {
        if (f.endsWith('.tmp') || !statSync(join(dataDir, dir, f)).isFile()) continue;
        files.push({ path: `${dir}/${f}`, source: join(dataDir, dir, f) });
      }
    }
    files.push({ path: 'meta.json', source: join(dataDir, 'meta.json') });

    const entries = [];
    for (const f of files) entries.push({ path: f.path, size: statSync(f.source).size, sha256: await sha256File(f.source, signal) });
    const manifest: BackupManifest = { version: 1, createdAt: new Date().toISOString(), files: entries, checkpoints };
    // a stale .partial of a crashed run may have any mode: 'wx' creates it anew, so 0600 holds from the first byte
    rmSync(tmp, { force: true });
    ownsTmp = true;
    const total = entries.reduce((n, e) => n + e.size, 0);
    // pipeline: backpressure, and a write error (disk full) rejects here instead of going unheard
    await pipeline(async function* () {
      yield Buffer.from(MAGIC);
      yield Buffer.from(`${JSON.stringify(manifest)}\n`);
      let done = 0;
      for (const f of files) {
        for await (const chunk of createReadStream(f.source)) {
          done += (chunk as Buffer).length;
          onProgress({ step: 'archive', done, total });
          yield chunk as Buffer;
        }
      }
    }, createWriteStream(tmp, { mode: 0o600, flags: 'wx' }), { signal });
    chmodSync(tmp, 0o600);
    renameSync(tmp, resolve(to));
    return manifest;
  } catch (err) {
    if (ownsTmp) rmSync(tmp, { force: true });
    throw err;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * SQLite online backup from a read-only connection. Each step copies a slice and lets the event loop run (the
 * progress display); a write by the server restarts the copy, so after a few restarts the rest is copied in one
 * step, which in WAL mode holds only a read snapshot and never blocks the writer.
 */
async function snapshotDatabase(source: string, dest: string, progress: (done: number, total: number) => void): Promise<void> {
  if (!existsSync(source)) throw new BackupError(`no database at ${source}`);
  const db = new Database(source, { readonly: true, fileMustExist: true });
  try {
    let lastRemaining = Infinity;
    let restarts = 0;
    await db.backup(dest, {
      progress({ totalPages, remainingPages }) {
        if (remainingPages > lastRemaining) restarts++;
        lastRemaining = remainingPages;
        progress(totalPages - remainingPages, totalPages);
        return restarts >= 3 ? totalPages : 4096;
      },
    });
  } finally {
    db.close();
  }
  // a self-contained file: no WAL beside it
  const copy = new Database(dest);
  copy.pragma('journal_mode = DELETE');
  copy.close();
}

/** `note` must be signed by the tree's key for exactly this tree (origin), size and root (and a frozen tree's size). */
function checkTree(tree: TreeFiles, note: string, signer: Signer, signerName: string, size: number, rootHash: Buffer, where: string): void {
  let signed: { origin: string; size: number; rootHash: Buffer };
  try {
    signed = verifyCheckpoint(note, [{ name: signerName, publicKey: signer.publicKey, keyId: signer.keyId }]);
  } catch (err) {
    throw new BackupError(`${where}the ${tree.name} checkpoint is not signed by the backed-up ${tree.name} key: ${(err as Error).message}`);
  }
  if (signed.origin !== tree.origin) throw new BackupError(`${where}the ${tree.name} checkpoint is for another log (${signed.origin})`);
  if (size !== signed.size) throw new BackupError(`${where}the ${tree.name} log has ${size} entries, its signed checkpoint ${signed.size}`);
  if (tree.frozen && size !== tree.frozen.treeSize) throw new BackupError(`${where}the ${tree.name} log has ${size} entries, it was frozen at ${tree.frozen.treeSize}`);
  if (!rootHash.equals(signed.rootHash)) throw new BackupError(`${where}the ${tree.name} log's root does not match its last signed checkpoint`);
}

async function sha256File(path: string, signal?: AbortSignal): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path, { signal })) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Reads the manifest of an archive (magic line, JSON line) and where the file bytes start. */
export function readManifest(archive: string): { manifest: BackupManifest; offset: number } {
  const fd = openSync(archive, 'r');
  try {
    const head = Buffer.alloc(1 << 20);
    const n = readSync(fd, head, 0, head.length, 0);
    const text = head.subarray(0, n).toString('latin1');
    // not an archive at all: the wrong file was given (usage); a damaged one is a failure
    if (!text.startsWith(MAGIC)) throw new BackupTargetError(`${archive} is not a sigstack backup`);
    const end = text.indexOf('\n', MAGIC.length);
    if (end < 0) throw new BackupError(`${archive}: truncated manifest`);
    let manifest: BackupManifest;
    try {
      manifest = JSON.parse(head.subarray(MAGIC.length, end).toString('utf8')) as BackupManifest;
    } catch {
      throw new BackupError(`${archive}: the manifest is damaged (not JSON)`);
    }
    if (manifest?.version !== 1 || !Array.isArray(manifest.files)) throw new BackupError(`${archive}: unsupported backup version`);
    return { manifest, offset: end + 1 };
  } finally {
    closeSync(fd);
  }
}

/** Copies the archive's files into `staging`, each checked against its SHA-256 in the manifest. */
async function unpack(archive: string, staging: string, manifest: BackupManifest, offset: number, onProgress: (p: BackupProgress) => void, signal?: AbortSignal): Promise<void> {
  const total = manifest.files.reduce((n, e) => n + e.size, 0);
  let done = 0;
  let position = offset;
  const buf = Buffer.alloc(1 << 20);
  // asynchronous reads and writes: the event loop runs between chunks, so Ctrl-C is heard mid-file
  const src = await open(archive, 'r');
  try {
    for (const f of manifest.files) {
      const target = resolve(staging, f.path);
      if (!target.startsWith(staging + sep) || f.path.includes('\\')) throw new BackupError(`${archive}: unsafe path ${f.path} in the manifest`);
      mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
      const h = createHash('sha256');
      const out = await open(target, 'w', f.path.startsWith('keys/') ? 0o600 : 0o644);
      try {
        for (let left = f.size; left > 0;) {
          signal?.throwIfAborted();
          const { bytesRead: n } = await src.read(buf, 0, Math.min(buf.length, left), position);
          if (n === 0) throw new BackupError(`${archive}: truncated in ${f.path}`);
          h.update(buf.subarray(0, n));
          await out.writeFile(buf.subarray(0, n)); // all of it, as writeFileSync did
          position += n;
          left -= n;
          done += n;
          onProgress({ step: 'restore', done, total });
        }
      } finally {
        await out.close();
      }
      if (h.digest('hex') !== f.sha256) throw new BackupError(`${archive}: ${f.path} is corrupt (SHA-256 differs from the manifest)`);
    }
  } finally {
    await src.close();
  }
}

/**
 * Restores an archive into `dataDir`, which must not exist or be empty. Every file's hash is checked, then each
 * restored tree must have exactly the size and root of the checkpoint signed in the backup with that tree's key;
 * otherwise nothing is left behind (nor the parent folders this made). Returns the restored tree sizes.
 */
export async function restoreDataDir(archive: string, dataDir: string, onProgress: (p: BackupProgress) => void = () => undefined, opts: RunOptions = {}): Promise<Record<string, number>> {
  const { made } = checkRestoreTarget(archive, dataDir); // named as given
  dataDir = resolve(dataDir);
  let staging: string | undefined;
  let renamed = false;
  let existed = false;
  try {
    const { manifest, offset } = readManifest(archive);
    opts.signal?.throwIfAborted();
    staging = makeWorkFolder(dirname(dataDir), 'restore');
    await unpack(archive, staging, manifest, offset, onProgress, opts.signal);
    const meta = readMeta(staging);
    if (!meta.log) throw new BackupError(`${archive}: meta.json has no log`);
    const sizes: Record<string, number> = {};
    for (const tree of treesOf(meta.log)) {
      opts.signal?.throwIfAborted();
      const signer = loadKeyFile(join(staging, tree.keyFile));
      const note = manifest.checkpoints?.[tree.name];
      if (typeof note !== 'string') throw new BackupError(`${archive}: no signed checkpoint for the ${tree.name} log`);
      if (tree.frozen && note !== tree.frozen.note) throw new BackupError(`${archive}: the ${tree.name} checkpoint is not the one signed when that tree was frozen`);
      const log = openMerkleLog({ path: join(staging, tree.dbFile) });
      try {
        const size = log.size();
        checkTree(tree, note, signer, meta.log.signerName, size, log.rootHash(size), `${archive}: `);
        sizes[tree.name] = size;
      } finally {
        await log.close();
      }
    }
    opts.signal?.throwIfAborted();
    // rmdir, not rm -r: the folder was empty when checked, and whatever appeared in it since is not ours to delete
    if (existsSync(dataDir)) {
      rmdirSync(dataDir);
      existed = true;
    }
    renameSync(staging, dataDir);
    renamed = true;
    chmodSync(join(dataDir, 'keys'), 0o700);
    return sizes;
  } catch (err) {
    // only what this run made: its staging folder (or the target it became), then the parents it made while empty;
    // never a parent recursively, which may hold another restore's finished data folder by now
    if (staging) rmSync(renamed ? dataDir : staging, { recursive: true, force: true });
    if (existed && !existsSync(dataDir)) mkdirSync(dataDir); // the empty folder it was given, as it was
    removeMadeFolders(made);
    throw err;
  }
}
