import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { DataFolderError } from './startup-errors.ts';

/**
 * One server per data folder. Two servers on the same folder each keep their own view of the log's tree (its
 * frontier, its pending batch) over the same database: each one's appends failed the other's with a UNIQUE
 * constraint 500. The lock is a small SQLite file held in exclusive locking mode for the server's life: the
 * operating system drops it when the process ends however it ends (kill -9 included), so a lock is never stale,
 * and it works across containers sharing the volume, as the log's own databases' locks do.
 */
export interface DataFolderLock {
  release(): void;
}

export function lockDataFolder(dataDir: string): DataFolderLock {
  const path = join(dataDir, 'serve.lock');
  let db: Database.Database;
  try {
    mkdirSync(dataDir, { recursive: true });
    db = new Database(path, { timeout: 0 });
  } catch (err) {
    // parseServeConfig checked the folder can be written; this is what it could not foresee (a read-only mount, a full disk)
    throw new DataFolderError(`cannot create the lock file ${path}: ${(err as Error).message}`);
  }
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE');
    // who holds it, for an operator who opens the file; the write is what takes the lock in exclusive mode
    db.exec('CREATE TABLE IF NOT EXISTS holder (pid INTEGER NOT NULL, since TEXT NOT NULL)');
    db.exec('DELETE FROM holder');
    db.prepare('INSERT INTO holder (pid, since) VALUES (?, ?)').run(process.pid, new Date().toISOString());
    db.exec('COMMIT');
  } catch (err) {
    db.close();
    if ((err as { code?: string }).code?.startsWith('SQLITE_BUSY')) {
      throw new DataFolderError(`the data folder ${dataDir} is in use by another sigstack server: stop it first, or give this one its own --data-dir`);
    }
    throw new DataFolderError(`cannot lock ${path}: ${(err as Error).message}`);
  }
  return { release: () => db.close() };
}
