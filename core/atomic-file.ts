import { chmodSync, closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Replaces `file` whole or not at all, durably: a temporary file beside it, written and fsynced, renamed over it,
 * then the folder fsynced (where the platform allows it), so neither a crash nor a power loss leaves a half-written
 * key, record or checkpoint where the previous one was. The temporary file is removed if any step fails. With
 * `mode` the file gets exactly that mode; without, what the umask leaves of 0666 (as writeFileSync).
 */
export function writeFileAtomic(file: string, data: string | Buffer, mode?: number): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    const fd = openSync(tmp, 'w', mode ?? 0o666);
    try {
      if (mode !== undefined) chmodSync(tmp, mode); // the umask narrowed openSync's mode
      writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  try {
    const dir = openSync(dirname(file), 'r');
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
  } catch {
    // a platform or file system without directory fsync: the rename is still atomic
  }
}
