/** A failed file operation in words ("it does not exist"), not an errno; unknown ones keep Node's message. */
export function fsReason(e: unknown): string {
  const reasons: Record<string, string> = {
    ENOENT: 'it does not exist', EACCES: 'permission denied', EPERM: 'permission denied', EISDIR: 'it is a folder',
    ENOTDIR: 'a part of its path is not a folder', ELOOP: 'too many symbolic links', ENAMETOOLONG: 'the name is too long',
    ENXIO: 'it cannot be opened by name (a socket?)', EPIPE: 'the reading end of the pipe is closed', ENOSPC: 'the disk is full', EROFS: 'the file system is read-only',
  };
  const err = e as { code?: string; message?: string };
  return (err.code && reasons[err.code]) || err.message || String(e);
}
