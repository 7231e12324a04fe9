import * as asn1js from 'asn1js';

/**
 * Already-encoded DER placed in a tree that asn1js encodes, kept byte for byte: the CA assembles each
 * certificate from parts encoded once at start-up, and the CT log rebuilds a precertificate TBS from the
 * submitted bytes. asn1js still writes every header (tag and length) around these parts.
 * A constructed block encodes its children by calling only their `toBER(sizeOnly, writer)`, so this is a plain
 * object with that one method. (It was a subclass of asn1js's RawData, whose own toBER does not write into the
 * parent's writer; V8 could never settle on optimized code for that subclass and recompiled it on background
 * threads without end, about half a millisecond of CPU per certificate issued.)
 */
class RawDer {
  /** Exactly the DER, as the ArrayBuffer asn1js's writer takes (copied once: `der` may view a larger buffer). */
  readonly #bytes: ArrayBuffer;

  constructor(der: Uint8Array) {
    // Uint8Array's slice copies; a Buffer's own slice would only view the same (pooled) memory
    this.#bytes = Uint8Array.prototype.slice.call(der).buffer;
  }

  toBER(_sizeOnly?: boolean, writer?: asn1js.ViewWriter): ArrayBuffer {
    writer?.write(this.#bytes);
    return this.#bytes;
  }
}

/** `der` as an element of an asn1js tree (a SEQUENCE's child); the caller must not mutate `der` afterwards. */
export function rawDer(der: Uint8Array): asn1js.BaseBlock {
  return new RawDer(der) as unknown as asn1js.BaseBlock;
}

/** Encodes an asn1js tree as a Buffer (no copy of asn1js's output). */
export function encode(block: { toBER(sizeOnly?: boolean): ArrayBuffer }): Buffer {
  return Buffer.from(block.toBER(false));
}

/**
 * A SEQUENCE whose contents are `elements` (each already DER), in order. The elements go in as one raw part:
 * asn1js writes the header (tag and length) around their concatenation, which is what a SEQUENCE's contents
 * are (X.690 8.9.2). One part instead of one per element: asn1js allocates several ArrayBuffers per child it
 * writes (~1-2 µs each), and the CA assembles every certificate from a dozen and more parts.
 */
export function sequenceDer(elements: readonly Uint8Array[]): Buffer {
  return encode(new asn1js.Sequence({ value: [rawDer(Buffer.concat(elements))] }));
}

/**
 * A context-specific constructed block `[tagNumber]` whose contents are `elements` (each already DER): an
 * EXPLICIT tag around one element, or an IMPLICIT tag on a SEQUENCE type (its elements without their SEQUENCE).
 */
export function contextConstructedDer(tagNumber: number, elements: readonly Uint8Array[]): Buffer {
  return encode(new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber }, value: [rawDer(Buffer.concat(elements))] }));
}
