/**
 * RFC 6962 §4.6 `extra_data` of get-entries, TLS encoded:
 *   x509_entry:    ASN.1Cert certificate_chain<0..2^24-1>;            (the chain after the leaf, up to the root)
 *   precert_entry: PrecertChainEntry { ASN.1Cert pre_certificate; ASN.1Cert precertificate_chain<0..2^24-1>; }
 * where ASN.1Cert is opaque<1..2^24-1>. The log stores these bytes beside each leaf, ready to serve.
 */

function u24(n: number): Buffer {
  if (n < 0 || n > 0xffffff) throw new RangeError('TLS opaque<2^24-1> too long');
  return Buffer.from([(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
}

function vec24(data: Buffer): Buffer {
  return Buffer.concat([u24(data.length), data]);
}

function certList(certs: readonly Buffer[]): Buffer {
  return vec24(Buffer.concat(certs.map(vec24)));
}

/** `certificate_chain` for an x509 entry: every certificate after the leaf. */
export function x509ExtraData(chain: readonly Buffer[]): Buffer {
  return certList(chain.slice(1));
}

/** `PrecertChainEntry` for a precert entry: the precertificate itself, then its chain. */
export function precertExtraData(chain: readonly Buffer[]): Buffer {
  if (chain.length === 0) throw new RangeError('empty chain');
  return Buffer.concat([vec24(chain[0]!), certList(chain.slice(1))]);
}

class Reader {
  private off = 0;
  constructor(private readonly buf: Buffer) {}
  vec24(): Buffer {
    if (this.off + 3 > this.buf.length) throw new RangeError('truncated extra_data');
    const n = this.buf.readUIntBE(this.off, 3);
    this.off += 3;
    if (this.off + n > this.buf.length) throw new RangeError('truncated extra_data');
    const out = this.buf.subarray(this.off, this.off + n);
    this.off += n;
    return out;
  }
  done(): boolean {
    return this.off === this.buf.length;
  }
}

function readCertList(r: Reader): Buffer[] {
  const list = new Reader(r.vec24());
  const certs: Buffer[] = [];
  while (!list.done()) {
    const c = list.vec24();
    if (c.length === 0) throw new RangeError('empty ASN.1Cert in extra_data');
    certs.push(Buffer.from(c));
  }
  return certs;
}

/** Inverse of x509ExtraData: the certificates after the leaf. Throws RangeError on malformed input. */
export function parseX509ExtraData(data: Buffer): Buffer[] {
  const r = new Reader(data);
  const certs = readCertList(r);
  if (!r.done()) throw new RangeError('trailing bytes after extra_data');
  return certs;
}

/** Inverse of precertExtraData. Throws RangeError on malformed input. */
export function parsePrecertExtraData(data: Buffer): { precertificate: Buffer; chain: Buffer[] } {
  const r = new Reader(data);
  const precertificate = Buffer.from(r.vec24());
  if (precertificate.length === 0) throw new RangeError('empty pre_certificate in extra_data');
  const chain = readCertList(r);
  if (!r.done()) throw new RangeError('trailing bytes after extra_data');
  return { precertificate, chain };
}
