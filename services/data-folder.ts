import { closeSync, existsSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DataFolderError, RESTORE_ADVICE } from './startup-errors.ts';
import { keyFileMessage } from './keys.ts';
import { activeRekorTree, LEGACY_REKOR_DB, LEGACY_REKOR_KEY, type DeploymentMeta } from './meta.ts';

/**
 * What a data folder must hold, judged by its own records. meta.json is written once a part of the stack (the log,
 * the CA) has been set up, after its keys and databases exist; from then on they must all be there. A missing or
 * emptied database or key is refused, never re-created: an empty Rekor database under the same key and tree id
 * would sign a rollback and reuse index 0 (a fork), and a new key would break every trusted root handed out.
 * The checks only read (stat, a 16-byte header): `trusted-root --data-dir` may use them on a live folder.
 */

export const CT_DB = 'log/ct.db';
export const CT_KEY = 'keys/ct.key.pem';
export const CA_CHAIN = 'ca/chain.pem';
export const CA_INTERMEDIATE_KEY = 'keys/ca-intermediate.key.pem';

const Restore = `${RESTORE_ADVICE[0]!.toUpperCase()}${RESTORE_ADVICE.slice(1)}`;
const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');

/** The databases and keys of a log recorded in meta.json, relative to the data folder, each with what it is. */
function logFiles(log: NonNullable<DeploymentMeta['log']>): { dbs: [string, string][]; keys: [string, string][] } {
  const active = activeRekorTree(log);
  const shards = log.inactiveShards ?? [];
  return {
    dbs: [[active.dbFile, `the Rekor log's active tree ${active.treeId}`], [CT_DB, 'the CT log'], ...shards.map((s): [string, string] => [s.dbFile, `the frozen Rekor tree ${s.treeId} (${s.treeSize} entries)`])],
    keys: [[active.keyFile, `the Rekor key of tree ${active.treeId}`], [CT_KEY, 'the CT log\'s key'], ...shards.map((s): [string, string] => [s.keyFile, `the key of the frozen Rekor tree ${s.treeId}`])],
  };
}

/** Why a recorded database cannot be used, or undefined when it looks like one of ours (exists, SQLite header). */
function databaseProblem(path: string): string | undefined {
  let size: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) return 'is not a file';
    size = st.size;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'is missing' : `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
  }
  if (size === 0) return 'is empty (0 bytes)';
  const header = Buffer.alloc(SQLITE_MAGIC.length);
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    readSync(fd, header, 0, header.length, 0);
  } catch (err) {
    return `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  return header.equals(SQLITE_MAGIC) ? undefined : 'is not a SQLite database';
}

/** A recorded database that is missing, emptied or not a database: named, with why starting afresh is refused. */
export function databaseMessage(path: string, what: string, problem: string): string {
  return `${path} (${what}) ${problem}, but this data folder's meta.json records it: starting would serve an empty or ` +
    `different log under the same key (a fork of what verifiers have seen). ${Restore}.`;
}

/** Every database and key of the recorded log is there (databases with a SQLite header); else one refusal naming each. */
export function checkLogFolder(dataDir: string, log: NonNullable<DeploymentMeta['log']>): void {
  const { dbs, keys } = logFiles(log);
  const problems: string[] = [];
  for (const [file, what] of dbs) {
    const problem = databaseProblem(join(dataDir, file));
    if (problem) problems.push(databaseMessage(join(dataDir, file), what, problem));
  }
  for (const [file, what] of keys) {
    if (!existsSync(join(dataDir, file))) problems.push(keyFileMessage(join(dataDir, file), what));
  }
  if (problems.length) throw new DataFolderError(problems.join('\n'));
}

/**
 * A log's first start: meta.json records no log, so no log file may exist yet. One that does was left by a start
 * killed before it recorded the log (nothing was served), or meta.json was lost (and the log was served): only the
 * operator can tell, so the start is refused rather than guessing.
 */
export function checkNoLogYet(dataDir: string): void {
  const found = [LEGACY_REKOR_DB, CT_DB, LEGACY_REKOR_KEY, CT_KEY].map((f) => join(dataDir, f)).filter((f) => existsSync(f));
  if (found.length === 0) return;
  throw new DataFolderError(`${join(dataDir, 'meta.json')} records no log, but ${found.join(', ')} ${found.length === 1 ? 'exists' : 'exist'}: ` +
    `if meta.json was lost, ${RESTORE_ADVICE}; if a first start was killed before it finished (nothing was ever served), delete ${found.length === 1 ? 'it' : 'them'} and start again.`);
}

/** Undoes a log's first start that failed before meta.json recorded it: the next start begins from nothing again. */
export function removeUnrecorded(files: string[]): void {
  for (const f of files) for (const suffix of ['', '-wal', '-shm']) rmSync(`${f}${suffix}`, { force: true });
}

/**
 * The CA's files: once meta.json records the CA (or `ca init` wrote its chain), the chain must be there and, unless
 * the key is in an HSM, the intermediate key it starts with.
 */
export function checkCaFolder(dataDir: string, meta: DeploymentMeta, hsm: boolean): void {
  const chain = join(dataDir, CA_CHAIN);
  if (!existsSync(chain)) {
    if (meta.ca) {
      throw new DataFolderError(`${chain} is missing, but this data folder's meta.json records the CA (created ${meta.ca.createdAt}): ` +
        `a new CA would not match the trusted roots already handed out, so none is made. ${Restore}.`);
    }
    return; // the CA's first start (its keys, if a killed start left them, were never certified: they are reused)
  }
  const key = join(dataDir, CA_INTERMEDIATE_KEY);
  if (!hsm && !existsSync(key)) throw new DataFolderError(keyFileMessage(key, 'the CA\'s issuing key', 'is missing', `${chain} certifies it`));
}
