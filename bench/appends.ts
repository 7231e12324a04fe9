import Database from 'better-sqlite3';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { openMerkleLog } from '../log/merkle-log.ts';
import type { Row } from './table.ts';

/**
 * Durable appends/s through the engine at 1/16/128 concurrent appenders, each against raw SQLite on the
 * same disk with the same pragmas (WAL, synchronous=FULL) and the same row shape, committing as many rows
 * per transaction as there are clients. That is the honest ceiling for N clients: a commit acknowledged
 * only after fsync can carry at most the N requests that are waiting, so raw SQLite with N rows per fsync
 * and no Merkle hashing, no subtree rows and no promises is what the engine could reach if its own work were free.
 */
const LEAF_BYTES = 400; // about a hashedrekord body with a public key

function leaf(i: number): Buffer {
  return Buffer.concat([Buffer.from(`leaf ${i} `), randomBytes(LEAF_BYTES)]);
}

/** Raw SQLite: `perTx` rows of the entries-table shape per durable transaction. */
export function rawSqliteRate(path: string, perTx: number, total: number): number {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE entries (idx INTEGER PRIMARY KEY, leaf_hash BLOB NOT NULL UNIQUE, leaf BLOB NOT NULL, integrated_ms INTEGER NOT NULL, extra BLOB)');
  const insert = db.prepare('INSERT INTO entries VALUES (?, ?, ?, ?, NULL)');
  const rows = Array.from({ length: total }, (_, i) => leaf(i));
  const tx = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) insert.run(i, createHash('sha256').update(rows[i]!).digest(), rows[i], Date.now());
  });
  const start = performance.now();
  for (let i = 0; i < total; i += perTx) tx.immediate(i, Math.min(total, i + perTx));
  const seconds = (performance.now() - start) / 1000;
  db.close();
  return total / seconds;
}

/** The engine: `clients` concurrent appenders, each awaiting its acknowledgement before the next append. */
export async function engineRate(path: string, clients: number, total: number): Promise<number> {
  const log = openMerkleLog({ path });
  const rows = Array.from({ length: total }, (_, i) => leaf(i));
  let next = 0;
  const start = performance.now();
  await Promise.all(Array.from({ length: clients }, async () => {
    while (next < total) await log.append(rows[next++]!);
  }));
  const seconds = (performance.now() - start) / 1000;
  await log.close();
  return total / seconds;
}

export async function appendRows(dir: string, quick: boolean): Promise<Row[]> {
  const rows: Row[] = [];
  for (const clients of [1, 16, 128]) {
    const total = clients === 1 ? (quick ? 200 : 1000) : quick ? 3000 : clients * 150;
    const raw = rawSqliteRate(join(dir, `raw-${clients}.db`), clients, total);
    const engine = await engineRate(join(dir, `engine-${clients}.db`), clients, total);
    rows.push({
      name: `durable appends, engine in process, ${clients} client${clients > 1 ? 's' : ''}`,
      value: engine, unit: 'appends/s', baseline: raw, baselineName: `raw SQLite, ${clients} row${clients > 1 ? 's' : ''}/fsync`,
    });
  }
  return rows;
}
