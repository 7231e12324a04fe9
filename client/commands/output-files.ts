/**
 * Output files of the client commands (--bundle, --out, --signing-config, the key pair) and their bounded inputs.
 * Outputs are checked before anything is signed or logged (checkOutputPath) and written whole or not at all
 * (writeOutputFile). `-` means stdout, as in cosign; /dev/stdout and /dev/stderr (also as /dev/fd/1, /proc/self/fd/2...)
 * are written through the descriptor itself: opening them by name fails for a socket (ENXIO, which is what Node's
 * child_process gives a child), and realpath of a pipe is no path at all (`pipe:[123]`). Other descriptors are
 * refused: Node holds its own from 3 up.
 */
import { randomBytes } from 'node:crypto';
import { accessSync, chmodSync, closeSync, constants, fstatSync, fsyncSync, openSync, readlinkSync, readSync, realpathSync, renameSync, rmSync, statSync, writeFileSync, writeSync, type Stats } from 'node:fs';
import { basename, dirname, join, normalize, resolve } from 'node:path';
import { fsReason } from '../../core/fs-reason.ts';

const DESCRIPTOR = /^\/(?:dev\/(stdin|stdout|stderr)|dev\/fd\/(\d+)|proc\/(?:self|thread-self|(\d+))\/fd\/(\d+))$/;
const NAMED: Record<string, number> = { stdin: 0, stdout: 1, stderr: 2 };

/**
 * The descriptor of this process that `path` names, if it names one: `-` (stdout), /dev/stdout... directly or
 * through symbolic links (a link to /dev/stdout is followed by hand, since realpath fails on a pipe).
 */
export function descriptorOf(path: string): number | undefined {
  if (path === '-') return 1;
  let abs = normalize(resolve(path));
  for (let hops = 0; hops < 40; hops++) {
    const m = DESCRIPTOR.exec(abs);
    if (m && (m[3] === undefined || Number(m[3]) === process.pid)) return m[1] ? NAMED[m[1]] : Number(m[2] ?? m[4]);
    try {
      abs = normalize(resolve(dirname(abs), readlinkSync(abs)));
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** True when `out` goes to stdout: status lines then belong on stderr, so that stdout carries only the document. */
export function isStdout(out: string | undefined): boolean {
  return out !== undefined && descriptorOf(out) === 1;
}

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

/**
 * Where `path` really is: symlinks of the file and of its folder resolved. The file need not exist, and a link to
 * a file that does not exist yet is followed by hand: writing through it creates that file, so that is the path.
 */
export function canonicalPath(path: string): string {
  let abs = resolve(path);
  for (let hops = 0; hops < 40; hops++) {
    try {
      return realpathSync(abs);
    } catch {
      // absent, or a dangling link: follow the link, if it is one
    }
    try {
      abs = resolve(dirname(abs), readlinkSync(abs));
    } catch {
      break;
    }
  }
  try {
    return join(realpathSync(dirname(abs)), basename(abs));
  } catch {
    return abs;
  }
}

/**
 * Checks, before anything is signed or logged (a log entry is permanent), that `out` can take the output: its
 * folder exists and is writable, it is not a folder, and it is none of `inputs` (the artifact, the key...), by
 * resolved path or by inode, so no hard or symbolic link can make the output overwrite an input.
 * A descriptor (`-`, /dev/stdout, /dev/stderr) must be open; no other descriptor is taken. Returns the message saying what is wrong, or undefined.
 */
export function checkOutputPath(out: string, flag: string, inputs: { path: string | undefined; what: string }[] = []): string | undefined {
  const fd = descriptorOf(out);
  if (fd !== undefined) {
    if (fd === 0) return `${flag} ${out} is the standard input: give a file, or - for stdout`;
    // Node itself holds descriptors from 3 up (its pipes, eventfd, epoll); one the shell did not hand over may be
    // open all the same, and writing a document into it crashed the process (a reviewer saw exit 139 after the
    // entry was logged). Only stdout and stderr are known to be the caller's.
    if (fd > 2) return `${flag} ${out} is descriptor ${fd}: only - (or /dev/stdout) and /dev/stderr are written through a descriptor; give a file path`;
    try {
      fstatSync(fd);
    } catch {
      return `${flag} ${out}: descriptor ${fd} is not open`;
    }
    return undefined;
  }
  const target = canonicalPath(out);
  const st = statOrUndefined(target);
  for (const input of inputs) {
    if (input.path === undefined || input.path === '-') continue;
    const other = statOrUndefined(input.path);
    const sameInode = st && other && st.dev === other.dev && st.ino === other.ino;
    if (sameInode || canonicalPath(input.path) === target) return `${flag} ${out} is the ${input.what} itself: give another path`;
  }
  if (st?.isDirectory()) return `${flag} ${out} is a folder: give a file path`;
  if (st?.isSocket()) return `${flag} ${out} is a socket: give a file path`;
  // A device or a named pipe (/dev/null, /dev/tty, a FIFO) is written in place; only a regular file is replaced
  // through its folder.
  if (st && !st.isFile()) return undefined;
  const dir = dirname(target);
  const dirStat = statOrUndefined(dir);
  if (!dirStat) return `${flag} ${out}: the folder ${dirname(out)} does not exist`;
  if (!dirStat.isDirectory()) return `${flag} ${out}: ${dirname(out)} is not a folder`;
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    return `${flag} ${out}: the folder ${dirname(out)} is not writable`;
  }
  return undefined;
}

/** All of `data` to the descriptor; a non-blocking one (a pipe Node has opened) that is full is waited for. */
function writeAll(fd: number, data: Buffer): void {
  for (let off = 0; off < data.length;) {
    try {
      off += writeSync(fd, data, off);
    } catch (e) {
      if ((e as { code?: string }).code !== 'EAGAIN') throw e;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    }
  }
}

/**
 * Writes `text` to `out` whole or not at all: into a temporary file beside it, flushed, then renamed over it, so a
 * full disk or a crash never leaves a half-written bundle (or trusted root) where the old one was. A descriptor
 * (`-`, /dev/stdout) is written through it; a device or named pipe in place.
 */
export function writeOutputFile(out: string, text: string): void {
  const fd = descriptorOf(out);
  if (fd !== undefined) {
    if (fd !== 1 && fd !== 2) throw new Error(`cannot write to descriptor ${fd}: only stdout and stderr are written through a descriptor`);
    try {
      return writeAll(fd, Buffer.from(text));
    } catch (e) {
      throw new Error(`cannot write to ${fd === 1 ? 'stdout' : fd === 2 ? 'stderr' : `descriptor ${fd}`}: ${fsReason(e)}`);
    }
  }
  const target = canonicalPath(out);
  const st = statOrUndefined(target);
  if (st && !st.isFile()) {
    writeFileSync(target, text);
    return;
  }
  const tmp = join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let tmpFd: number | undefined;
  try {
    tmpFd = openSync(tmp, 'wx');
    if (st) chmodSync(tmp, st.mode & 0o777); // replacing a file keeps its permissions
    writeFileSync(tmpFd, text);
    fsyncSync(tmpFd);
    closeSync(tmpFd);
    tmpFd = undefined;
    renameSync(tmp, target);
  } catch (e) {
    if (tmpFd !== undefined) closeSync(tmpFd);
    rmSync(tmp, { force: true });
    throw e;
  }
}

function mib(bytes: number): string {
  return bytes >= 1 << 20 ? `${(bytes / (1 << 20)).toFixed(bytes % (1 << 20) ? 1 : 0)} MiB` : `${bytes} bytes`;
}

/**
 * The bytes of a small input file (a bundle, a trusted root, a key) or a message saying why not: its size is
 * checked before it is read (fstat; a pipe is read up to the limit), so a 600 MB file given by mistake is refused
 * at once, naming it and the limit, instead of being read whole.
 */
export function readInputFile(path: string, what: string, maxBytes: number): { bytes: Buffer } | { problem: string } {
  if (path === '-') return { problem: `the ${what} cannot be read from stdin (-): give its file` };
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    return { problem: `cannot read the ${what} ${path}: ${fsReason(e)}` };
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) return { problem: `the ${what} ${path} is a folder: give its file` };
    const tooLarge = { problem: `the ${what} ${path} is larger than ${mib(maxBytes)}, more than any ${what} has: is it the right file?` };
    if (st.isFile() && st.size > maxBytes) return tooLarge;
    // read to the end, never past the limit: a pipe has no size, and a file may grow meanwhile
    const chunks: Buffer[] = [];
    let total = 0;
    for (let got = -1; got !== 0;) {
      const chunk = Buffer.allocUnsafe(Math.min(1 << 20, maxBytes + 1 - total));
      got = readSync(fd, chunk, 0, chunk.length, null);
      chunks.push(chunk.subarray(0, got));
      total += got;
      if (total > maxBytes) return tooLarge;
    }
    return { bytes: Buffer.concat(chunks, total) };
  } catch (e) {
    return { problem: `cannot read the ${what} ${path}: ${fsReason(e)}` };
  } finally {
    closeSync(fd);
  }
}
