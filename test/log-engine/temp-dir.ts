import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';

/** A fresh directory for one test's database files, removed when the test ends. */
export function tempDbPath(t: ExecutionContext, name = 'log.db'): string {
  const dir = mkdtempSync(join(tmpdir(), 'sigstack-log-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, name);
}
