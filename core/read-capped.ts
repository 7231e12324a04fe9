/**
 * A response body read whole, but never more than `max` bytes: a declared Content-Length over the limit is refused
 * before anything is read, and a streamed body as soon as it passes the limit. The caller words both failures,
 * and a body that stops arriving, in its own error types.
 */
export interface CappedReadErrors {
  /** The body is over the limit; `declared` is its Content-Length when that is what said so. */
  tooLarge(declared?: number): Error;
  /** Reading the body failed (the connection was cut, or the request's signal ended it). */
  cut(cause: unknown): Error;
}

export async function readCapped(res: Response, max: number, errors: CappedReadErrors): Promise<Buffer> {
  const declared = res.headers.get('content-length');
  if (declared !== null && Number(declared) > max) {
    await res.body?.cancel().catch(() => {});
    throw errors.tooLarge(Number(declared));
  }
  if (!res.body) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let size = 0;
  const reader = res.body.getReader();
  for (;;) {
    let chunk: ReadableStreamReadResult<Uint8Array>;
    try {
      chunk = await reader.read();
    } catch (e) {
      throw errors.cut(e);
    }
    const { done, value } = chunk;
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => {});
      throw errors.tooLarge();
    }
    chunks.push(Buffer.from(value));
  }
  return Buffer.concat(chunks);
}
