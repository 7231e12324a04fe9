/**
 * Where `log backup` and `log restore` may write, and their work folders: the checks made before any work (a wrong
 * target is a usage error), and work folders that a later run can tell apart from a live run's (see makeWorkFolder).
 */
import { createHash } from 'node:crypto';
import { fsReason } from '../core/fs-reason.ts';
import { accessSync, constants, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readlinkSync, realpathSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join, resolve, sep } from 'node:path';

export class BackupError extends Error {}

/** A target or archive the caller got wrong, found before any work: `log backup` and `log restore` exit 2 for these. */
export class BackupTargetError extends BackupError {}

/** Where a write to `path` lands: the archive is renamed into place, which replaces a link itself, so only the folder's links count. */
function landingPath(path: string): string {
  try {
    return join(realpathSync(dirname(path)), basename(path));
  } catch {
    return resolve(path);
  }
}

/** Does `dir` hold a file with this device and inode (a hard link to it)? The data folder has a few dozen files. */
function holdsInode(dir: string, dev: number, ino: number): boolean {
  for (const name of readdirSync(dir)) {
    const st = lstatSync(join(dir, name));
    if (st.isDirectory() ? holdsInode(join(dir, name), dev, ino) : st.dev === dev && st.ino === ino) return true;
  }
  return false;
}

/**
 * Checked before any copy: the archive's folder must exist, and `to` must not be a folder, nor an existing file
 * unless `overwrite` (a backup replacing another by mistake would lose the older one), nor anywhere in `dataDir`
 * (an archive over meta.json or a key would break the folder it backs up), also through links.
 */
export function checkBackupTarget(to: string, overwrite = false, dataDir?: string): void {
  const path = resolve(to);
  if (dataDir !== undefined && existsSync(dataDir)) {
    const data = realpathSync(dataDir);
    const target = landingPath(path);
    const st = statSync(path, { throwIfNoEntry: false });
    if (target === data || target.startsWith(data + sep)) throw new BackupTargetError(`${to} is in the data folder ${dataDir}: write the archive outside it`);
    if (st?.isFile() && st.nlink > 1 && holdsInode(data, st.dev, st.ino)) {
      throw new BackupTargetError(`${to} is a hard link to a file of the data folder ${dataDir}: write the archive elsewhere`);
    }
  }
  if (!existsSync(dirname(path))) throw new BackupTargetError(`cannot write ${to}: the folder ${dirname(path)} does not exist`);
  try {
    accessSync(dirname(path), constants.W_OK);
  } catch {
    throw new BackupTargetError(`cannot write ${to}: the folder ${dirname(path)} is not writable`);
  }
  if (!existsSync(path)) return;
  if (statSync(path).isDirectory()) throw new BackupTargetError(`${to} is a folder: give the archive's file name, e.g. ${join(to, 'sigstack.bak')}`);
  if (!overwrite) throw new BackupTargetError(`${to} exists: give a new file name, or --force to replace it`);
}

/**
 * Work folders are named `.sigstack-<kind>-<machine>-<pid>-XXXXXX`, so a later run can tell the folder of a run that
 * was killed (SIGKILL, power loss) from one still working: same machine (host name and pid namespace) and that pid
 * no longer running. The name is given at creation (mkdtemp), so there is no moment a live run's folder looks stale.
 */
function machineTag(): string {
  let pidNamespace = '';
  try {
    pidNamespace = readlinkSync('/proc/self/ns/pid');
  } catch {
    // no /proc: the host name alone
  }
  return createHash('sha256').update(`${hostname()}\0${pidNamespace}`).digest('hex').slice(0, 8);
}

export function workFolderPrefix(kind: 'backup' | 'restore', pid = process.pid): string {
  return `.sigstack-${kind}-${machineTag()}-${pid}-`;
}

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code === 'EPERM'; // alive, another user's
  }
}

/** A new work folder in `parent`, after removing those of earlier runs of this machine that are no longer running. */
export function makeWorkFolder(parent: string, kind: 'backup' | 'restore'): string {
  const ours = new RegExp(`^\\.sigstack-${kind}-${machineTag()}-(\\d+)-[A-Za-z0-9]{6}$`);
  // the unnamed folders of earlier versions: only when a day old, since their owner cannot be told
  const legacy = new RegExp(`^\\.sigstack-${kind}-[A-Za-z0-9]{6}$`);
  for (const name of readdirSync(parent)) {
    const pid = ours.exec(name)?.[1];
    if (pid === undefined && !legacy.test(name)) continue;
    const st = lstatSync(join(parent, name), { throwIfNoEntry: false });
    if (!st?.isDirectory()) continue;
    if (pid !== undefined ? running(Number(pid)) : Date.now() - st.mtimeMs <= 86_400_000) continue;
    // best effort: a folder this user cannot remove (another user's or root's, 0700) must not stop every later run
    try {
      rmSync(join(parent, name), { recursive: true, force: true });
    } catch (e) {
      process.stderr.write(`Warning: cannot remove the stale work folder ${join(parent, name)} (${fsReason(e)}): remove it as its owner\n`);
    }
  }
  return mkdtempSync(join(parent, workFolderPrefix(kind)));
}

/** Options of a backup or restore: `signal` stops it (Ctrl-C), leaving nothing behind. */
export interface RunOptions {
  overwrite?: boolean;
  signal?: AbortSignal;
}

/**
 * Checked before a restore reads anything: the archive is a readable file, and `dataDir` is a new or empty folder
 * whose parent can be made (it is made here, so the work folder can go beside it; `made` lists the folders made,
 * innermost first, to remove on failure only while empty: another run may have restored into one of them meanwhile).
 */
export function checkRestoreTarget(archive: string, dataDir: string): { made: string[] } {
  let st;
  try {
    st = statSync(archive);
    accessSync(archive, constants.R_OK);
  } catch (e) {
    throw new BackupTargetError(`cannot read the archive ${archive}: ${fsReason(e)}`);
  }
  if (st.isDirectory()) throw new BackupTargetError(`the archive ${archive} is a folder: give the file \`log backup\` wrote`);
  let target;
  try {
    target = statSync(dataDir, { throwIfNoEntry: false });
  } catch (e) {
    throw new BackupTargetError(`cannot make ${dataDir}: ${fsReason(e)}`);
  }
  if (target && !target.isDirectory()) throw new BackupTargetError(`--data-dir ${dataDir} is a file: give a new folder`);
  if (target && readdirSync(dataDir).length > 0) throw new BackupTargetError(`${dataDir} is not empty: restore into a new folder`);
  const made: string[] = [];
  try {
    const first = target ? undefined : mkdirSync(dirname(dataDir), { recursive: true });
    if (first !== undefined) {
      // mkdir -p gives the outermost folder it made: every folder from the parent up to that one is new
      const outermost = resolve(first);
      for (let dir = resolve(dirname(dataDir)); ; dir = dirname(dir)) {
        made.push(dir);
        if (dir === outermost || dirname(dir) === dir) break;
      }
    }
    accessSync(dirname(dataDir), constants.W_OK);
  } catch (e) {
    removeMadeFolders(made);
    throw new BackupTargetError(`cannot make ${dataDir} in ${dirname(dataDir)}: ${fsReason(e)}`);
  }
  return { made };
}

/**
 * Removes the folders a failed restore made, innermost first, each only while empty (rmdir, never recursive): a
 * folder made by this run may since hold another run's restored data folder, which is not ours to delete.
 */
export function removeMadeFolders(made: string[]): void {
  for (const dir of made) {
    try {
      rmdirSync(dir);
    } catch (e) {
      if ((e as { code?: string }).code !== 'ENOENT') return; // not empty (or not ours): nor are the ones around it
    }
  }
}
