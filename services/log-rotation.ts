import { copyFileSync, existsSync, linkSync, rmSync } from 'node:fs';
import { PUBLISHED_SUFFIX } from '../log/published-size.ts';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { signCheckpoint } from '../log/checkpoint.ts';
import { openMerkleLog } from '../log/merkle-log.ts';
import { loadKeyFile, loadOrCreateKeyFile } from './keys.ts';
import { activeRekorTree, newTreeId, readMeta, rekorTreeFiles, writeMeta, type InactiveShardMeta } from './meta.ts';
import { checkLogFolder } from './data-folder.ts';
import { DataFolderError } from './startup-errors.ts';

/**
 * `sigstack log rotate`: Rekor's sharding, done offline on a stopped data folder. The active tree is frozen (its
 * final size, root and a checkpoint of them signed with its own key, its end time), kept with its key under
 * tree-id names, and a new tree with a new tree id, a new key and an empty database becomes the active one.
 * Entries keep their global index: the new tree's entry 0 is global index (sum of the frozen trees' sizes).
 *
 * Crash safety: meta.json (written atomically) is the one commit point. Before it, only new files appear (the new
 * key and database, hard links to the old tree's files under their tree-id names); a crash leaves the folder as it
 * was, plus unused files. After it, only the old names of the frozen files are removed.
 */
export class RotationError extends Error {}

export interface RotationResult {
  old: { treeId: string; treeSize: number; rootHash: string; keyId: string; start: string; end: string };
  new: { treeId: string; keyId: string; start: string; firstIndex: number };
}

/**
 * A running server keeps every log database open in WAL mode, which holds a shared lock on the file for as long as
 * the connection lives (whatever the process: a container with the same volume too; released if it is killed).
 * An exclusive-locking-mode connection can take its exclusive lock only when no such connection exists. Returns that
 * connection, still holding the lock: a server starting meanwhile cannot open the database.
 */
export function lockUnserved(path: string): Database.Database {
  if (!existsSync(path)) throw new RotationError(`no database at ${path}`);
  const db = new Database(path, { fileMustExist: true, timeout: 0 });
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE');
    db.exec('COMMIT');
    return db;
  } catch (err) {
    db.close();
    if ((err as { code?: string }).code?.startsWith('SQLITE_BUSY')) {
      throw new RotationError(`${path} is open in another process: stop the server using this data folder first`);
    }
    throw err;
  }
}

/** A second name for a file (same inode: instant, no copy); a copy where the file system has no hard links. */
function addName(from: string, to: string): void {
  if (existsSync(to)) rmSync(to); // left by an earlier rotation that crashed before its commit
  try {
    linkSync(from, to);
  } catch {
    copyFileSync(from, to);
  }
}

export interface RotationOptions {
  /** The clock (tests). */
  now?: Date;
  /** Rotate even an empty active tree: to replace a key that must not sign again before any entry was logged. */
  allowEmpty?: boolean;
}

export async function rotateRekorLog(dataDir: string, opts: RotationOptions = {}): Promise<RotationResult> {
  const now = opts.now ?? new Date();
  dataDir = resolve(dataDir);
  const meta = readMeta(dataDir);
  const log = meta.log;
  if (!log) throw new RotationError(`${dataDir} holds no log (no log in meta.json): start the stack once first`);
  // A damaged folder is not rotated: an emptied database would be frozen as an empty tree under a checkpoint its
  // key signs, a rollback made official (and opening it would re-create it).
  try {
    checkLogFolder(dataDir, log);
  } catch (err) {
    if (err instanceof DataFolderError) throw new RotationError(err.message);
    throw err;
  }
  const current = activeRekorTree(log);
  const dbPath = join(dataDir, current.dbFile);
  // The CT database is held locked for the whole rotation: a log server cannot start until it is done.
  const guard = lockUnserved(join(dataDir, 'log', 'ct.db'));
  try {
    lockUnserved(dbPath).close();
    const oldKey = loadKeyFile(join(dataDir, current.keyFile), `the Rekor key of tree ${current.treeId}`);
    const tree = openMerkleLog({ path: dbPath });
    let treeSize: number;
    let rootHash: Buffer;
    let lastIntegrated = 0;
    try {
      treeSize = tree.size();
      rootHash = tree.rootHash(treeSize);
      if (treeSize > 0) lastIntegrated = tree.getEntry(treeSize - 1)!.integratedTimeMs;
    } finally {
      await tree.close(); // the last connection: SQLite folds the WAL into the file and removes it
    }
    // An empty tree has nothing to freeze: its shard would add a key and a window to the trusted root for no entry
    // (say, the command run twice by mistake). Refused before any file is written, unless the key must go anyway.
    if (treeSize === 0 && !opts.allowEmpty) {
      throw new RotationError(`the active tree ${current.treeId} has no entries: nothing to rotate (use --allow-empty to replace its key anyway)`);
    }
    if (existsSync(`${dbPath}-wal`)) throw new RotationError(`${dbPath}-wal is still there after closing the database: is a server using it?`);
    const start = log.activeSince ?? log.createdAt;
    // the old key's window must hold every entry it logged, or their bundles would stop verifying
    if (now.getTime() < Math.max(Date.parse(start), lastIntegrated)) {
      throw new RotationError(`the clock (${now.toISOString()}) is before the active tree's start ${start} or its last entry (${new Date(lastIntegrated).toISOString()}): fix the clock first`);
    }
    const end = now.toISOString();
    const checkpoint = signCheckpoint({ origin: `${log.signerName} - ${current.treeId}`, size: treeSize, rootHash }, log.signerName, oldKey);

    const taken = new Set([current.treeId, ...(log.inactiveShards ?? []).map((s) => s.treeId)]);
    let newId = newTreeId();
    while (taken.has(newId)) newId = newTreeId();
    const frozenFiles = rekorTreeFiles(current.treeId);
    const next = rekorTreeFiles(newId);
    // the published-size mark (log/published-size.ts) goes with its database: the frozen tree keeps its guard
    const mark = `${dbPath}${PUBLISHED_SUFFIX}`;
    const movesMark = frozenFiles.dbFile !== current.dbFile && existsSync(mark);
    if (frozenFiles.dbFile !== current.dbFile) addName(dbPath, join(dataDir, frozenFiles.dbFile));
    if (movesMark) addName(mark, join(dataDir, `${frozenFiles.dbFile}${PUBLISHED_SUFFIX}`));
    if (frozenFiles.keyFile !== current.keyFile) addName(join(dataDir, current.keyFile), join(dataDir, frozenFiles.keyFile));
    const newKey = loadOrCreateKeyFile(join(dataDir, next.keyFile)).signer;
    await openMerkleLog({ path: join(dataDir, next.dbFile) }).close();

    const shard: InactiveShardMeta = { ...frozenFiles, treeSize, rootHash: rootHash.toString('hex'), checkpoint, start, end };
    meta.log = { ...log, treeId: newId, activeSince: end, dbFile: next.dbFile, keyFile: next.keyFile, inactiveShards: [...(log.inactiveShards ?? []), shard] };
    writeMeta(dataDir, meta); // the commit

    if (frozenFiles.dbFile !== current.dbFile) rmSync(dbPath, { force: true });
    if (movesMark) rmSync(mark, { force: true });
    if (frozenFiles.keyFile !== current.keyFile) rmSync(join(dataDir, current.keyFile), { force: true });
    return {
      old: { treeId: current.treeId, treeSize, rootHash: rootHash.toString('hex'), keyId: oldKey.keyId.toString('hex'), start, end },
      new: { treeId: newId, keyId: newKey.keyId.toString('hex'), start: end, firstIndex: meta.log.inactiveShards!.reduce((n, s) => n + s.treeSize, 0) },
    };
  } finally {
    guard.close();
  }
}
