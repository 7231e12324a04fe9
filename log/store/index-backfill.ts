import type Database from 'better-sqlite3';

/**
 * The search index (`search_index`, Rekor's /api/v1/index/retrieve) of a database made before it existed: its
 * entries were never indexed. Opening such a file records a backfill marker in the same transaction that creates
 * the table; the first open with an indexer then indexes every older entry in chunks, each chunk one transaction
 * that also moves the marker, so a kill resumes where it stopped; the marker goes when the backfill is done.
 */
const CHUNK = 4096;

function hasTable(db: Database.Database, name: string): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined;
}

/** Before the schema is created: an existing log without a search index needs a backfill. */
export function lacksSearchIndex(db: Database.Database): boolean {
  return hasTable(db, 'entries') && !hasTable(db, 'search_index');
}

/** Inside the transaction that creates the search index: remember that older entries are not in it yet. */
export function markBackfill(db: Database.Database): void {
  db.exec('CREATE TABLE IF NOT EXISTS search_index_backfill (next_idx INTEGER NOT NULL); INSERT INTO search_index_backfill (next_idx) VALUES (0);');
}

/** Indexes the entries the marker says are missing; returns how many were read. Nothing to do: 0, no writes. */
export function backfillSearchIndex(db: Database.Database, indexKeys: (leaf: Buffer) => string[], progress?: (done: number, total: number) => void): number {
  // A log first opened with an indexer after entries were written without one (the CT log's deduplication keys
  // came after its entries): nothing is indexed at all, so everything is, once. (A log whose entries all give no
  // key would be read again at each open; no kind here gives none.)
  if (!hasTable(db, 'search_index_backfill') && db.prepare('SELECT 1 FROM search_index LIMIT 1').get() === undefined
    && db.prepare('SELECT 1 FROM entries LIMIT 1').get() !== undefined) {
    markBackfill(db);
  }
  if (!hasTable(db, 'search_index_backfill')) return 0;
  const next = db.prepare('SELECT next_idx FROM search_index_backfill').pluck();
  const total = (db.prepare('SELECT count(*) FROM entries').pluck().get() as number) ?? 0;
  const read = db.prepare('SELECT idx, leaf FROM entries WHERE idx >= ? ORDER BY idx LIMIT ?').raw();
  const insert = db.prepare('INSERT OR IGNORE INTO search_index (key, idx) VALUES (?, ?)');
  const move = db.prepare('UPDATE search_index_backfill SET next_idx = ?');
  let done = 0;
  for (;;) {
    const from = (next.get() as number | undefined) ?? 0;
    const rows = read.all(from, CHUNK) as [number, Buffer][];
    if (rows.length === 0) {
      db.exec('DROP TABLE search_index_backfill');
      return done;
    }
    db.transaction(() => {
      for (const [idx, leaf] of rows) {
        let keys: string[];
        try {
          keys = indexKeys(leaf);
        } catch {
          keys = []; // as on append: an entry the indexer cannot read is still found by hash and index
        }
        for (const key of keys) insert.run(key, idx);
      }
      move.run(rows.at(-1)![0] + 1);
    }).immediate();
    done += rows.length;
    progress?.(Math.min(from + rows.length, total), total);
  }
}
