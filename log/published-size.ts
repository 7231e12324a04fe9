import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import Database from 'better-sqlite3';
import { writeFileAtomic } from '../core/atomic-file.ts';

/**
 * The high-water mark of a log database: the largest tree size whose checkpoint was published (recorded as shown to
 * clients), kept in a small file beside the database, `<db>.published`. The database cannot vouch for itself: an
 * older copy put in place, or its -wal file lost after a crash (kill -9, then -wal and -shm deleted), opens as a
 * smaller or empty tree, which the same key would then sign under the same tree id: a fork of what clients were
 * shown. The file outlives both, so opening such a database is refused.
 *
 * The file is written only after the published-checkpoint rows of that size have committed (a committed row implies
 * the entries of its size are committed too), so after a crash it never claims more than the database holds; at
 * most about once a second under load (a publish in between only moves the target), and on close. Written through a
 * temporary file, fsynced, renamed over, then the folder fsynced. A missing file is fine (a fresh folder, one from
 * before this file, a restored one); a malformed one is refused.
 */
export const PUBLISHED_SUFFIX = '.published';

/** The high-water-mark file of a database file (undefined for ':memory:' and SQLite's anonymous temporary database). */
export function publishedSizePath(dbPath: string): string | undefined {
  return dbPath === '' || dbPath === ':memory:' || dbPath.startsWith('file:') ? undefined : `${dbPath}${PUBLISHED_SUFFIX}`;
}

/** How a damaged data folder is mended: from a backup, never by starting afresh (services/ words its refusals with it too). */
export const RESTORE_ADVICE = 'restore the data folder from its last backup (sigstack log restore --from ARCHIVE --data-dir NEW-FOLDER) and serve the restored folder';
const RESTORE = RESTORE_ADVICE;

/**
 * A database that cannot be served under its high-water mark: it holds fewer entries than were published
 * (`held` < `published`), or the mark file is unreadable or malformed (`published` undefined).
 */
export class PublishedSizeError extends Error {
  constructor(
    message: string,
    /** The database file. */
    readonly databasePath: string,
    /** The high-water-mark file. */
    readonly markPath: string,
    readonly held?: number,
    readonly published?: number,
  ) {
    super(message);
    this.name = 'PublishedSizeError';
  }
}

function rolledBack(dbPath: string, markPath: string, held: number, published: number): PublishedSizeError {
  return new PublishedSizeError(
    `${dbPath} holds ${held} entries, but ${markPath} records that checkpoints of ${published} entries were shown to clients: ` +
      `the database was rolled back (an older copy put in place, or its -wal file lost after a crash). Serving it would sign a ` +
      `different tree under the same key and tree id (a fork of what clients have seen), so it is not opened: ${RESTORE}`,
    dbPath, markPath, held, published);
}

interface MarkFile {
  /** Largest published tree size. */
  publishedTreeSize: number;
  /** The database it is about (its base name): a file put beside another database by mistake is still named. */
  database?: string;
}

/** The size the file records; undefined when there is no file; PublishedSizeError when it cannot be read or parsed. */
export function readPublishedSize(dbPath: string, markPath = `${dbPath}${PUBLISHED_SUFFIX}`): number | undefined {
  let text: string;
  try {
    text = readFileSync(markPath, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw new PublishedSizeError(`${markPath} (the published size of ${dbPath}) cannot be read (${code ?? (err as Error).message}): ` +
      `it records how large a tree clients were shown, so ${dbPath} is not opened without it; fix its permissions, or ${RESTORE}`, dbPath, markPath);
  }
  let size: unknown;
  try {
    size = (JSON.parse(text) as MarkFile | null)?.publishedTreeSize;
  } catch {
    size = undefined;
  }
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw new PublishedSizeError(`${markPath} (the published size of ${dbPath}) is malformed: expected {"publishedTreeSize": N}, found ` +
      `${JSON.stringify(text.slice(0, 80))}. It records how large a tree clients were shown, so ${dbPath} is not opened without it: ${RESTORE}`, dbPath, markPath);
  }
  return size;
}

/** Replaces the file crash-safely (core/atomic-file.ts). */
export function writePublishedSize(dbPath: string, size: number, markPath = `${dbPath}${PUBLISHED_SUFFIX}`): void {
  const body: MarkFile = { publishedTreeSize: size, database: basename(dbPath) };
  writeFileAtomic(markPath, `${JSON.stringify(body)}\n`, 0o644);
}

/**
 * Entries in the database, counted before the engine opens it, so a refused database is left as found: the engine
 * would create its tables in a file whose WAL was lost. The connection changes nothing (no schema, no pragma); as the
 * last one it closes the way SQLite closes any (-wal folded in, -wal and -shm removed), where a read-only connection
 * would leave empty -wal and -shm files behind. Undefined when it cannot be read (busy, not a database...): the
 * engine's own open then reports it, and the engine's count is checked once open.
 */
function entriesOnDisk(dbPath: string): number | undefined {
  if (!existsSync(dbPath)) return 0;
  let db: Database.Database;
  try {
    db = new Database(dbPath, { fileMustExist: true, timeout: 5000 });
  } catch {
    return undefined;
  }
  try {
    const hasEntries = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'entries'").pluck().get() !== undefined;
    if (!hasEntries) return 0;
    const max = db.prepare('SELECT max(idx) FROM entries').pluck().get() as number | null;
    return max === null ? 0 : max + 1;
  } catch {
    return undefined;
  } finally {
    db.close();
  }
}

/**
 * Before the engine opens `dbPath`: reads the mark (undefined: no file, or no file for this kind of path) and refuses
 * a database that visibly holds fewer entries. The engine checks again with its own count once open.
 */
export function checkBeforeOpen(dbPath: string): number | undefined {
  const markPath = publishedSizePath(dbPath);
  if (!markPath) return undefined;
  const published = readPublishedSize(dbPath, markPath);
  if (published === undefined || published === 0) return published;
  const held = entriesOnDisk(dbPath);
  if (held !== undefined && held < published) throw rolledBack(dbPath, markPath, held, published);
  return published;
}

/** Once the engine has opened the database: its committed size against the mark read before. */
export function checkAfterOpen(dbPath: string, published: number | undefined, held: number): void {
  const markPath = publishedSizePath(dbPath);
  if (markPath && published !== undefined && held < published) throw rolledBack(dbPath, markPath, held, published);
}

/**
 * Keeps the file up to date for one open engine. `committed(size)` is called after a transaction that recorded a
 * published checkpoint of `size` has committed; the file follows at most once per `minIntervalMs` (a timer writes
 * what a throttled call left behind), and `close()` writes what is left. A failed write loses nothing in the
 * database: it is retried with the next publish, the timer or close, and reported once as a process warning.
 */
export class PublishedSizeMark {
  readonly #dbPath: string;
  readonly #markPath: string;
  readonly #minIntervalMs: number;
  /** Largest size the database has committed as published (this engine's view). */
  #target: number;
  /** What the file says as far as this engine knows. */
  #written: number;
  #lastWriteMs = -Infinity;
  #timer: NodeJS.Timeout | undefined;
  #warned = false;
  /** Writes done (tests and benchmarks). */
  writes = 0;

  constructor(dbPath: string, initial: number | undefined, minIntervalMs = 1000) {
    this.#dbPath = dbPath;
    this.#markPath = publishedSizePath(dbPath)!;
    this.#minIntervalMs = minIntervalMs;
    // no file yet: the first publish (even of size 0) writes one, so the mark exists from then on; nothing, no file
    this.#target = initial ?? -1;
    this.#written = initial ?? -1;
  }

  /** A published checkpoint of `size` is durably in the database. */
  committed(size: number): void {
    if (size > this.#target) this.#target = size;
    if (this.#target <= this.#written) return;
    const wait = this.#lastWriteMs + this.#minIntervalMs - Date.now();
    if (wait <= 0) this.#write();
    else if (!this.#timer) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#write();
      }, wait);
      this.#timer.unref(); // close() writes what is left
    }
  }

  /** Writes what the database has published and the file does not say yet; the mark then stops. */
  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#target > this.#written) this.#write();
  }

  #write(): void {
    const size = this.#target;
    if (size <= this.#written) return;
    this.#lastWriteMs = Date.now();
    try {
      // never lower a mark another engine on the same file (another process) has raised
      let onDisk: number | undefined;
      try {
        onDisk = readPublishedSize(this.#dbPath, this.#markPath);
      } catch {
        onDisk = undefined; // unreadable now: replaced by a good one
      }
      if (onDisk === undefined || onDisk < size) {
        writePublishedSize(this.#dbPath, size, this.#markPath);
        this.writes++;
      }
      this.#written = Math.max(size, onDisk ?? 0);
      this.#warned = false;
    } catch (err) {
      if (!this.#warned) {
        this.#warned = true;
        process.emitWarning(`cannot record the published size ${size} of ${this.#dbPath} in ${this.#markPath} ` +
          `(${(err as Error).message}): a rollback of the database would not be detected until it is written (retried with the next publish)`);
      }
    }
  }
}
