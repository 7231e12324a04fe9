import { verify, type KeyObject } from 'node:crypto';
import { encodeDigitallySigned, HASH_SHA256, SIG_ECDSA } from '../../core/sct.ts';

/** RFC 6962 §3.5 / §4.3 Signed Tree Head. Pure encodings; the CT log signs, monitors verify. */
export interface SignedTreeHead {
  treeSize: number;
  /** Milliseconds since the epoch. */
  timestamp: number;
  rootHash: Buffer;
  /** DER ECDSA signature over treeHeadSignatureInput. */
  signature: Buffer;
}

/** get-sth response body. */
export interface SthJson {
  tree_size: number;
  timestamp: number;
  sha256_root_hash: string;
  /** Base64 TLS DigitallySigned. */
  tree_head_signature: string;
}

/** TLS TreeHeadSignature: version v1(0), signature_type tree_hash(1), timestamp u64, tree_size u64, root[32]. */
export function treeHeadSignatureInput(treeSize: number, timestamp: number, rootHash: Buffer): Buffer {
  if (rootHash.length !== 32) throw new RangeError('root hash must be 32 bytes');
  const b = Buffer.alloc(2 + 8 + 8 + 32);
  b[0] = 0;
  b[1] = 1;
  b.writeBigUInt64BE(BigInt(timestamp), 2);
  b.writeBigUInt64BE(BigInt(treeSize), 10);
  rootHash.copy(b, 18);
  return b;
}

export function sthToJson(sth: SignedTreeHead): SthJson {
  return {
    tree_size: sth.treeSize,
    timestamp: sth.timestamp,
    sha256_root_hash: sth.rootHash.toString('base64'),
    tree_head_signature: encodeDigitallySigned({ hashAlgorithm: HASH_SHA256, signatureAlgorithm: SIG_ECDSA, signature: sth.signature }).toString('base64'),
  };
}

/**
 * Checks a get-sth response against the log's public key; returns the parsed head or undefined when anything is
 * off (shape, algorithms, signature). Never throws: the input comes from the network.
 */
export function verifySthJson(json: unknown, publicKey: KeyObject): SignedTreeHead | undefined {
  if (typeof json !== 'object' || json === null) return undefined;
  const j = json as Partial<Record<keyof SthJson, unknown>>;
  if (!Number.isSafeInteger(j.tree_size) || (j.tree_size as number) < 0) return undefined;
  if (!Number.isSafeInteger(j.timestamp) || (j.timestamp as number) < 0) return undefined;
  if (typeof j.sha256_root_hash !== 'string' || typeof j.tree_head_signature !== 'string') return undefined;
  const rootHash = Buffer.from(j.sha256_root_hash, 'base64');
  const ds = Buffer.from(j.tree_head_signature, 'base64');
  if (rootHash.length !== 32 || ds.length < 4 || ds[0] !== HASH_SHA256 || ds[1] !== SIG_ECDSA) return undefined;
  const signature = ds.subarray(4);
  if (ds.readUInt16BE(2) !== signature.length) return undefined;
  const sth = { treeSize: j.tree_size as number, timestamp: j.timestamp as number, rootHash, signature: Buffer.from(signature) };
  try {
    return verify('sha256', treeHeadSignatureInput(sth.treeSize, sth.timestamp, rootHash), publicKey, signature) ? sth : undefined;
  } catch {
    return undefined;
  }
}
