/**
 * RFC 6962 Signed Certificate Timestamps: the TLS encodings shared by the CT log (which makes them),
 * the CA (which embeds them) and the verifier (which checks them). Pure functions, no I/O.
 */
export const SCT_VERSION_V1 = 0;
export const ENTRY_TYPE_X509 = 0;
export const ENTRY_TYPE_PRECERT = 1;
/** TLS HashAlgorithm.sha256 and SignatureAlgorithm.ecdsa. */
export const HASH_SHA256 = 4;
export const SIG_ECDSA = 3;

export interface SignedCertificateTimestamp {
  version: number;
  /** SHA-256 of the CT log's public key (DER SPKI). */
  logId: Buffer;
  /** Milliseconds since the epoch. */
  timestamp: bigint;
  extensions: Buffer;
  hashAlgorithm: number;
  signatureAlgorithm: number;
  /** DER ECDSA signature. */
  signature: Buffer;
}

/** The entry an SCT commits to: a precertificate's TBS (poison removed) or a final certificate. */
export type CtSignedEntry =
  | { type: typeof ENTRY_TYPE_PRECERT; issuerKeyHash: Buffer; tbsCertificate: Buffer }
  | { type: typeof ENTRY_TYPE_X509; certificate: Buffer };

function u8(n: number): Buffer {
  return Buffer.from([n]);
}
function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}
function u24(n: number): Buffer {
  if (n >= 1 << 24) throw new RangeError('TLS opaque<2^24-1> too long');
  return Buffer.from([(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
}
function u64(n: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(n);
  return b;
}
function vec16(data: Buffer): Buffer {
  if (data.length > 0xffff) throw new RangeError('TLS opaque<2^16-1> too long');
  return Buffer.concat([u16(data.length), data]);
}

function signedEntryBytes(entry: CtSignedEntry): Buffer {
  if (entry.type === ENTRY_TYPE_PRECERT) {
    if (entry.issuerKeyHash.length !== 32) throw new RangeError('issuer key hash must be 32 bytes');
    return Buffer.concat([u16(ENTRY_TYPE_PRECERT), entry.issuerKeyHash, u24(entry.tbsCertificate.length), entry.tbsCertificate]);
  }
  return Buffer.concat([u16(ENTRY_TYPE_X509), u24(entry.certificate.length), entry.certificate]);
}

/** The bytes the log signs for an SCT (RFC 6962 section 3.2, `digitally-signed struct`). */
export function sctSignedData(timestamp: bigint, entry: CtSignedEntry, extensions: Buffer = Buffer.alloc(0)): Buffer {
  return Buffer.concat([u8(SCT_VERSION_V1), u8(0 /* certificate_timestamp */), u64(timestamp), signedEntryBytes(entry), vec16(extensions)]);
}

/** The MerkleTreeLeaf the CT log appends (RFC 6962 section 3.4): version, timestamped_entry. */
export function merkleTreeLeaf(timestamp: bigint, entry: CtSignedEntry, extensions: Buffer = Buffer.alloc(0)): Buffer {
  return Buffer.concat([u8(0 /* v1 */), u8(0 /* timestamped_entry */), u64(timestamp), signedEntryBytes(entry), vec16(extensions)]);
}

/** TLS `DigitallySigned`: hash alg, signature alg, opaque signature<0..2^16-1>. */
export function encodeDigitallySigned(sct: Pick<SignedCertificateTimestamp, 'hashAlgorithm' | 'signatureAlgorithm' | 'signature'>): Buffer {
  return Buffer.concat([u8(sct.hashAlgorithm), u8(sct.signatureAlgorithm), vec16(sct.signature)]);
}

/** One serialized SCT, as it appears inside a SignedCertificateTimestampList. */
export function serializeSct(sct: SignedCertificateTimestamp): Buffer {
  if (sct.logId.length !== 32) throw new RangeError('SCT log id must be 32 bytes');
  return Buffer.concat([u8(sct.version), sct.logId, u64(sct.timestamp), vec16(sct.extensions), encodeDigitallySigned(sct)]);
}

/** The TLS SignedCertificateTimestampList carried (inside an OCTET STRING) by extension 1.3.6.1.4.1.11129.2.4.2. */
export function serializeSctList(scts: SignedCertificateTimestamp[]): Buffer {
  const items = Buffer.concat(scts.map((s) => vec16(serializeSct(s))));
  return vec16(items);
}

class Reader {
  private off = 0;
  constructor(private readonly buf: Buffer) {}
  take(n: number): Buffer {
    if (n < 0 || this.off + n > this.buf.length) throw new RangeError('truncated SCT data');
    const out = this.buf.subarray(this.off, this.off + n);
    this.off += n;
    return out;
  }
  u8(): number {
    return this.take(1)[0]!;
  }
  u16(): number {
    return this.take(2).readUInt16BE();
  }
  u64(): bigint {
    return this.take(8).readBigUInt64BE();
  }
  vec16(): Buffer {
    return this.take(this.u16());
  }
  done(): boolean {
    return this.off === this.buf.length;
  }
}

/** Parses one serialized SCT; throws RangeError on any malformation or trailing bytes. */
export function parseSct(data: Buffer): SignedCertificateTimestamp {
  const r = new Reader(data);
  const version = r.u8();
  if (version !== SCT_VERSION_V1) throw new RangeError(`unsupported SCT version ${version}`);
  const sct: SignedCertificateTimestamp = {
    version,
    logId: Buffer.from(r.take(32)),
    timestamp: r.u64(),
    extensions: Buffer.from(r.vec16()),
    hashAlgorithm: r.u8(),
    signatureAlgorithm: r.u8(),
    signature: Buffer.from(r.vec16()),
  };
  if (!r.done()) throw new RangeError('trailing bytes after SCT');
  return sct;
}

/** Parses a SignedCertificateTimestampList; throws RangeError on any malformation. */
export function parseSctList(data: Buffer): SignedCertificateTimestamp[] {
  const outer = new Reader(data);
  const list = new Reader(outer.vec16());
  if (!outer.done()) throw new RangeError('trailing bytes after SCT list');
  const scts: SignedCertificateTimestamp[] = [];
  while (!list.done()) scts.push(parseSct(Buffer.from(list.vec16())));
  return scts;
}

/** RFC 6962 JSON form returned by add-chain / add-pre-chain. */
export interface SctJson {
  sct_version: number;
  id: string;
  timestamp: number;
  extensions: string;
  signature: string;
}

export function sctToJson(sct: SignedCertificateTimestamp): SctJson {
  return {
    sct_version: sct.version,
    id: sct.logId.toString('base64'),
    timestamp: Number(sct.timestamp),
    extensions: sct.extensions.toString('base64'),
    signature: encodeDigitallySigned(sct).toString('base64'),
  };
}

/** Inverse of sctToJson; throws RangeError on malformed input (e.g. from a remote CT log). */
export function sctFromJson(json: SctJson): SignedCertificateTimestamp {
  if (typeof json !== 'object' || json === null) throw new RangeError('SCT must be an object');
  if (json.sct_version !== SCT_VERSION_V1) throw new RangeError('unsupported SCT version');
  if (!Number.isSafeInteger(json.timestamp) || json.timestamp < 0) throw new RangeError('bad SCT timestamp');
  const sig = new Reader(Buffer.from(String(json.signature), 'base64'));
  const hashAlgorithm = sig.u8();
  const signatureAlgorithm = sig.u8();
  const signature = Buffer.from(sig.vec16());
  if (!sig.done()) throw new RangeError('trailing bytes after SCT signature');
  const logId = Buffer.from(String(json.id), 'base64');
  if (logId.length !== 32) throw new RangeError('SCT log id must be 32 bytes');
  return {
    version: json.sct_version,
    logId,
    timestamp: BigInt(json.timestamp),
    extensions: Buffer.from(String(json.extensions ?? ''), 'base64'),
    hashAlgorithm,
    signatureAlgorithm,
    signature,
  };
}
