/**
 * DER read through asn1js (the parser under @peculiar/asn1-schema), without the schema layer: for the leaf
 * certificate of every bundle, asn1-schema's schema matching (asn1js.compareSchema, per field) cost more than
 * the parse itself. The verifier parses once with asn1js and reads the tree it returns with the typed
 * accessors below, each of which checks the tag and form of what it reads and throws otherwise. Nothing here
 * decodes tags or lengths: asn1js does. asn1js reads BER, so the tree it returns is then held to DER (X.690 10,
 * 11) by checkDer: one encoding per value, as Go's parser (upstream's) requires; a certificate with two
 * encodings would have two fingerprints, and one that only lax parsers read is not one this verifier understands.
 */
import * as asn1js from 'asn1js';

export type Block = asn1js.BaseBlock;

/**
 * Bounded so that a hostile input cannot make the parser walk a huge tree. parseEmbedded off: asn1js would
 * otherwise try to parse the contents of every OCTET STRING and BIT STRING as BER (the SCT list, the key,
 * the signature), about a third of the work, and never needed: an extension value is parsed when it is read.
 */
const OPTIONS = { maxDepth: 32, maxNodes: 4000, parseEmbedded: false };
const SHARED = { ...OPTIONS, copyInput: false };

/**
 * Parses exactly one DER element filling `bytes`. asn1js copies the input unless `shared` (for bytes that are
 * already the verifier's own, immutable copy, such as an extension value of a parsed certificate), so the tree
 * never aliases a caller's buffer.
 */
export function parseDer(bytes: Uint8Array, shared = false): Block {
  const { offset, result } = asn1js.fromBER(bytes, shared ? SHARED : OPTIONS);
  if (offset === -1 || result.error) throw new Error(result.error || 'malformed DER');
  if (offset !== bytes.byteLength) throw new Error('trailing data after the DER element');
  checkDer(result as Block);
  return result as Block;
}

/** Length octets needed for `length` in the long form. */
function lengthOctets(length: number): number {
  let n = 1;
  while (length > 0xff) {
    length = Math.floor(length / 256);
    n++;
  }
  return n;
}

interface LengthBlock {
  isIndefiniteForm: boolean;
  longFormUsed: boolean;
  length: number;
  blockLength: number;
}

/**
 * The DER rules a BER tree can break, checked on every element asn1js returned: definite lengths in the fewest
 * octets (10.1), primitive encodings of the string types (10.2), BOOLEAN TRUE as FF (11.1), INTEGER and
 * ENUMERATED in the fewest octets (8.3.2), OBJECT IDENTIFIER arcs without padding (8.19.2). asn1js's own
 * warnings are not used: some fire on valid DER (a length of 256, an arc of 0).
 */
export function checkDer(root: Block): void {
  const stack: Block[] = [root];
  while (stack.length > 0) {
    const block = stack.pop()!;
    const problem = derProblem(block);
    if (problem) throw new Error(`${describe(block)}: ${problem} (BER, not DER)`);
    if (block.idBlock.isConstructed) {
      const children = (block.valueBlock as { value?: Block[] }).value;
      if (Array.isArray(children)) for (let i = 0; i < children.length; i++) stack.push(children[i]!);
    }
  }
}

/** What makes one element BER but not DER, if anything (its children are checked on their own). */
function derProblem(block: Block): string | undefined {
  const len = block.lenBlock as unknown as LengthBlock;
  if (len.isIndefiniteForm) return 'indefinite length';
  if (len.longFormUsed && (len.length < 128 || len.blockLength - 1 !== lengthOctets(len.length))) return 'length not in its shortest form';
  const { tagClass, tagNumber, isConstructed } = block.idBlock;
  if (tagClass !== 1) return undefined;
  if (isConstructed) return tagNumber === 16 || tagNumber === 17 ? undefined : 'constructed encoding of a primitive type';
  switch (tagNumber) {
    case 1: {
      const v = (block.valueBlock as unknown as { valueHexView: Uint8Array }).valueHexView;
      return v.length === 1 && (v[0] === 0 || v[0] === 0xff) ? undefined : 'TRUE must be FF';
    }
    case 2:
    case 10: {
      const v = (block.valueBlock as unknown as { valueHexView: Uint8Array }).valueHexView;
      if (v.length === 0) return 'an empty integer';
      return v.length > 1 && ((v[0] === 0 && v[1]! < 0x80) || (v[0] === 0xff && v[1]! >= 0x80)) ? 'not in its shortest form' : undefined;
    }
    case 6:
    case 13: {
      // An arc of several octets must not start with 80 (asn1js's own warning also fires for a lone 0 arc).
      const arcs = (block.valueBlock as unknown as { value: { blockLength: number; valueHexView: Uint8Array }[] }).value;
      for (let i = 0; i < arcs.length; i++) if (arcs[i]!.blockLength > 1 && arcs[i]!.valueHexView[0] === 0) return 'an arc padded with 80';
      return undefined;
    }
    default:
      return undefined;
  }
}

/** The element's own encoding (tag, length, contents) as a Buffer view, no copy. */
export function derOf(block: Block): Buffer {
  const v = block.valueBeforeDecodeView;
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

function describe(block: Block | undefined): string {
  if (!block) return 'nothing';
  const { tagClass, tagNumber } = block.idBlock;
  return tagClass === 1 ? (block.constructor as { NAME?: string }).NAME ?? `universal ${tagNumber}` : `[${tagNumber}] (class ${tagClass})`;
}

/** The block as an instance of a universal asn1js type; throws naming what was expected. */
export function as<T extends Block>(block: Block | undefined, type: abstract new (...args: never[]) => T, what: string): T {
  if (!(block instanceof type) || block.idBlock.tagClass !== 1) throw new Error(`${what}: expected ${(type as unknown as { NAME: string }).NAME}, found ${describe(block)}`);
  return block;
}

/** The elements of a SEQUENCE. */
export function sequence(block: Block | undefined, what: string): Block[] {
  return as(block, asn1js.Sequence, what).valueBlock.value as Block[];
}

/** True when `block` carries the context-specific tag [n]. */
export function isContext(block: Block | undefined, n: number): block is Block {
  return block !== undefined && block.idBlock.tagClass === 3 && block.idBlock.tagNumber === n;
}

/** The one element inside an EXPLICIT [n] tag. */
export function explicit(block: Block | undefined, n: number, what: string): Block {
  if (!isContext(block, n) || !block.idBlock.isConstructed) throw new Error(`${what}: expected an explicit [${n}], found ${describe(block)}`);
  const inner = (block as asn1js.Constructed).valueBlock.value;
  if (inner.length !== 1) throw new Error(`${what}: [${n}] must hold exactly one element`);
  return inner[0] as Block;
}

/** The contents of a primitive (DER) element, whatever its tag: an IMPLICIT [n] primitive or an OCTET STRING. */
export function primitiveContents(block: Block, what: string): Buffer {
  if (block.idBlock.isConstructed) throw new Error(`${what}: constructed encoding where DER requires primitive`);
  const v = (block.valueBlock as unknown as { valueHexView: Uint8Array }).valueHexView;
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

export function octetString(block: Block | undefined, what: string): Buffer {
  return primitiveContents(as(block, asn1js.OctetString, what), what);
}

export function oid(block: Block | undefined, what: string): string {
  return as(block, asn1js.ObjectIdentifier, what).getValue();
}

export function utf8String(block: Block | undefined, what: string): string {
  return as(block, asn1js.Utf8String, what).valueBlock.value;
}

/** A BIT STRING with no unused bits (keys, signatures): its bytes. */
export function bitStringBytes(block: Block | undefined, what: string): Buffer {
  const bits = as(block, asn1js.BitString, what);
  if (bits.idBlock.isConstructed) throw new Error(`${what}: constructed BIT STRING`);
  if (bits.valueBlock.unusedBits !== 0) throw new Error(`${what}: unused bits`);
  return primitiveContents(bits, what);
}

/**
 * UTCTime or GeneralizedTime in the one form RFC 5280 4.1.2.5 allows (YYMMDDHHMMSSZ / YYYYMMDDHHMMSSZ: UTC,
 * seconds, no fraction), as ms since the epoch. asn1js reads looser forms (no Z, fractions, trailing text) and
 * rolls impossible dates over, so the text is checked here and must name the instant asn1js computed.
 */
export function time(block: Block | undefined, what: string): number {
  const isGeneralized = block instanceof asn1js.GeneralizedTime;
  const t = isGeneralized ? (block as asn1js.GeneralizedTime) : as(block, asn1js.UTCTime, what);
  const text = primitiveContents(t, what).toString('latin1');
  if (!(isGeneralized ? /^\d{14}Z$/ : /^\d{12}Z$/).test(text)) throw new Error(`${what}: not an RFC 5280 time`);
  // RFC 5280 4.1.2.5: through 2049 as UTCTime, from 2050 as GeneralizedTime; one encoding per instant.
  if (isGeneralized && Number(text.slice(0, 4)) < 2050) throw new Error(`${what}: a date before 2050 must be a UTCTime`);
  const ms = t.toDate().getTime();
  const digits = Number.isFinite(ms) ? new Date(ms).toISOString().replace(/\D/g, '').slice(0, 14) : '';
  if (digits.slice(isGeneralized ? 0 : 2) !== text.slice(0, -1)) throw new Error(`${what}: not a valid date`);
  return ms;
}

/** Already-encoded DER inside a tree asn1js encodes (one implementation for the CA, the CT log and the verifier). */
export { contextConstructedDer, sequenceDer } from '../../core/raw-der.ts';
