/**
 * Go's `(*url.URL).JoinPath(...).String()` for a base without a path, as Fulcio uses it to turn GitHub claims
 * into URLs (`https://github.com/` + job_workflow_ref, ...). Reproduced so that certificates carry byte-for-byte
 * the URIs upstream would write: path.Join semantics (dot segments resolved, slashes collapsed), then Go's
 * path escaping, keeping already-valid escapes as they were given.
 */

function isUnreserved(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x2d || c === 0x5f || c === 0x2e || c === 0x7e;
}

/** Go's shouldEscape(c, encodePath). */
function shouldEscapeInPath(c: number): boolean {
  if (isUnreserved(c)) return false;
  return !'$&+,/:;=@'.includes(String.fromCharCode(c));
}

/** Go's validEncoded(s, encodePath): may the string be used as the escaped path verbatim? */
function validEncoded(bytes: Buffer): boolean {
  for (const c of bytes) {
    if ("!$&'()*+,;=:@[]%".includes(String.fromCharCode(c))) continue;
    if (shouldEscapeInPath(c)) return false;
  }
  return true;
}

function isHex(c: number | undefined): boolean {
  return c !== undefined && /[0-9a-fA-F]/.test(String.fromCharCode(c));
}

/** Percent-decoding; undefined where Go's unescape would fail (a `%` not followed by two hex digits). */
function unescape(bytes: Buffer): Buffer | undefined {
  const out: number[] = [];
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 0x25) {
      if (!isHex(bytes[i + 1]) || !isHex(bytes[i + 2])) return undefined;
      out.push(parseInt(bytes.subarray(i + 1, i + 3).toString('latin1'), 16));
      i += 2;
    } else {
      out.push(bytes[i]!);
    }
  }
  return Buffer.from(out);
}

function escapePath(bytes: Buffer): string {
  let out = '';
  for (const c of bytes) out += shouldEscapeInPath(c) ? `%${c.toString(16).toUpperCase().padStart(2, '0')}` : String.fromCharCode(c);
  return out;
}

/** Go's path.Clean for a rooted path. */
function cleanRooted(path: string): string {
  const stack: string[] = [];
  for (const seg of path.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') stack.pop();
    else stack.push(seg);
  }
  return `/${stack.join('/')}`;
}

/** `origin` is scheme://host with no path, e.g. `https://github.com`. */
export function goJoinPath(origin: string, ...elems: string[]): string {
  let path = cleanRooted(['/', ...elems].filter((e) => e !== '').join('/'));
  if (elems.length > 0 && elems[elems.length - 1]!.endsWith('/') && !path.endsWith('/')) path += '/';
  const raw = Buffer.from(path, 'utf8');
  const decoded = unescape(raw);
  if (!decoded) return `${origin}/`; // Go's JoinPath ignores the error and keeps the base path
  return origin + (validEncoded(raw) ? path : escapePath(decoded));
}

/** Go's `url.Parse(p).EscapedPath()` for a path without query or fragment: kept if validly escaped, else escaped. */
export function goEscapedPath(path: string): string {
  const raw = Buffer.from(path, 'utf8');
  if (validEncoded(raw) && unescape(raw)) return path;
  const decoded = unescape(raw);
  if (!decoded) throw new Error('invalid URL escape in path');
  return escapePath(decoded);
}
