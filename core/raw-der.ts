import * as asn1js from 'asn1js';

/**
 * Already-encoded DER placed in a tree that asn1js encodes, kept byte for byte: the CA assembles each
 * certificate from parts encoded once at start-up, and the CT log rebuilds a precertificate TBS from the
 * submitted bytes. asn1js still writes every header (tag and length) around these parts.
 * asn1js's own RawData returns its bytes but does not write them into the writer its parent passes
 * (asn1js 3.1), so a SEQUENCE of plain RawData would encode as empty: this subclass writes them.
 */
class RawDer extends asn1js.RawData {
  override toBER(sizeOnly?: boolean, writer?: asn1js.ViewWriter): ArrayBuffer {
    const bytes = super.toBER(sizeOnly);
    writer?.write(bytes);
    return bytes;
  }
}

/** `der` as an element of an asn1js tree (a SEQUENCE's child); the caller must not mutate `der` afterwards. */
export function rawDer(der: Uint8Array): asn1js.BaseBlock {
  return new RawDer({ data: der }) as unknown as asn1js.BaseBlock;
}

/** Encodes an asn1js tree as a Buffer (no copy of asn1js's output). */
export function encode(block: { toBER(sizeOnly?: boolean): ArrayBuffer }): Buffer {
  return Buffer.from(block.toBER(false));
}
