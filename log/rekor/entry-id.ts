import { BadRequestError, NotFoundError } from '../../core/errors.ts';

/**
 * Rekor entry IDs. With sharding, Rekor names an entry by `treeID || leafHash`: 16 hex digits of the
 * int64 Trillian tree id, then the 64-hex RFC 6962 leaf hash of the canonical body ("UUID"). Clients
 * may send either form; a client that checks `leafHash(body) == uuid` (rekor#469) strips the prefix.
 */

const INT64_MAX = (1n << 63n) - 1n;

/** A tree id is a positive decimal int64 (Trillian's); returns its 16-hex form. Throws on bad configuration. */
export function treeIdHex(treeId: string): string {
  if (!/^[1-9][0-9]{0,18}$/.test(treeId) || BigInt(treeId) > INT64_MAX) {
    throw new RangeError(`tree id must be a positive decimal int64, got "${treeId}"`);
  }
  return BigInt(treeId).toString(16).padStart(16, '0');
}

/** The 80-hex entry ID returned by the API (response key, Location, ETag). */
export function entryIdFor(treeHex: string, leafHash: Buffer): string {
  return `${treeHex}${leafHash.toString('hex')}`;
}

/**
 * Parses a client-supplied entry ID (64 or 80 hex digits, either case): the leaf hash it names, and the 16-hex
 * tree id of an 80-hex id. 400 for anything malformed, including a tree-id prefix that is not an int64
 * (rekor#2895: that was a 500).
 */
export function parseEntryId(text: string): { treeHex?: string; leafHash: Buffer } {
  if (!/^(?:[0-9a-fA-F]{64}|[0-9a-fA-F]{80})$/.test(text)) {
    throw new BadRequestError('entryUUID must be 64 or 80 hexadecimal characters');
  }
  const id = text.toLowerCase();
  const leafHash = Buffer.from(id.slice(-64), 'hex');
  if (id.length === 64) return { leafHash };
  const treeHex = id.slice(0, 16);
  if (BigInt(`0x${treeHex}`) > INT64_MAX) throw new BadRequestError(`entryUUID has an invalid tree id "${treeHex}"`);
  return { treeHex, leafHash };
}

/** The leaf hash an entry ID names; 404 for a well-formed id of a tree other than `ourTreeHex`. */
export function leafHashFromEntryId(text: string, ourTreeHex: string): Buffer {
  const { treeHex, leafHash } = parseEntryId(text);
  if (treeHex !== undefined && treeHex !== ourTreeHex) {
    throw new NotFoundError(`no entry with UUID ${text.toLowerCase()}: tree ${treeHex} is not served by this log`);
  }
  return leafHash;
}
