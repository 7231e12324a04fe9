import { verify, type KeyObject } from 'node:crypto';
import type { Signer } from '../core/signer.ts';

/**
 * C2SP signed notes (https://c2sp.org/signed-note) carrying a C2SP checkpoint body
 * (https://c2sp.org/tlog-checkpoint), signed the way Rekor signs with ECDSA keys:
 * `— <name> base64(keyId[0:4] || DER ECDSA-SHA256 signature over the body bytes)`.
 * Pure (no I/O): the offline verifier uses it. Parsers are strict and throw only RangeError.
 * Names are compared as literal strings, never turned into a RegExp (sigstore-js#1722).
 */
export interface Checkpoint {
  origin: string;
  size: number;
  rootHash: Buffer;
  otherContent?: string[];
}

export interface ParsedCheckpoint {
  origin: string;
  size: number;
  rootHash: Buffer;
  otherContent: string[];
}

export interface NoteSignature {
  name: string;
  keyHint: Buffer;
  signature: Buffer;
}

export interface CheckpointKey {
  name: string;
  publicKey: KeyObject;
  /** SHA-256 of the DER SPKI (Rekor's log ID); its first 4 bytes are the key hint. */
  keyId: Buffer;
}

const SIG_PREFIX = '\u2014 '; // em dash + space
const KEY_HINT_SIZE = 4;
const MAX_SIGNATURES = 100; // C2SP lets verifiers cap the work an attacker-supplied note causes
const MAX_NOTE_LENGTH = 1 << 20;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const DECIMAL = /^(?:0|[1-9][0-9]*)$/;
// Note text is UTF-8 without control characters other than newline (C2SP signed-note).
const FORBIDDEN_CHARS = /[\u0000-\u0009\u000b-\u001f\u007f]/;

/** Strict standard base64 (padding required, canonical trailing bits) or RangeError. */
function decodeBase64(s: string, what: string): Buffer {
  if (!BASE64.test(s)) throw new RangeError(`${what} is not valid base64`);
  const bytes = Buffer.from(s, 'base64');
  if (bytes.toString('base64') !== s) throw new RangeError(`${what} is not canonical base64`);
  return bytes;
}

/** A key name: non-empty, no whitespace, no '+' (C2SP signed-note). */
function isValidName(name: string): boolean {
  return name.length > 0 && !/[\s+]/u.test(name) && !FORBIDDEN_CHARS.test(name);
}

/** A body line: non-empty (an empty line would end the body) and free of control characters. */
function checkLine(line: string, what: string): void {
  if (line.length === 0) throw new RangeError(`checkpoint ${what} is empty`);
  if (line.includes('\n') || FORBIDDEN_CHARS.test(line)) throw new RangeError(`checkpoint ${what} contains a control character`);
}

/** `origin\nsize\nbase64(root)\n[other lines\n]`: the exact bytes that get signed. */
export function formatCheckpointBody(c: Checkpoint): string {
  checkLine(c.origin, 'origin');
  if (!Number.isSafeInteger(c.size) || c.size < 0) throw new RangeError(`invalid checkpoint size ${c.size}`);
  if (!(c.rootHash instanceof Uint8Array) || c.rootHash.length !== 32) throw new RangeError('checkpoint root hash must be 32 bytes');
  const other = c.otherContent ?? [];
  for (const line of other) checkLine(line, 'extension line');
  const lines = [c.origin, String(c.size), Buffer.from(c.rootHash).toString('base64'), ...other];
  return lines.map((l) => `${l}\n`).join('');
}

/** The complete signed note: body, blank line, one signature line. */
export function signCheckpoint(c: Checkpoint, signerName: string, signer: Signer): string {
  if (!isValidName(signerName)) throw new RangeError('invalid signer name');
  const body = formatCheckpointBody(c);
  const signature = signer.sign(Buffer.from(body, 'utf8'));
  const blob = Buffer.concat([signer.keyId.subarray(0, KEY_HINT_SIZE), signature]).toString('base64');
  return `${body}\n${SIG_PREFIX}${signerName} ${blob}\n`;
}

/** Splits a signed note into its body (with its final newline) and its signature lines. */
export function parseSignedNote(text: string): { body: string; signatures: NoteSignature[] } {
  if (typeof text !== 'string') throw new RangeError('signed note is not a string');
  if (text.length > MAX_NOTE_LENGTH) throw new RangeError('signed note is too long');
  const split = text.indexOf('\n\n');
  if (split < 0) throw new RangeError('signed note has no blank line before its signatures');
  const body = text.slice(0, split + 1);
  const sigText = text.slice(split + 2);
  if (FORBIDDEN_CHARS.test(body)) throw new RangeError('signed note body contains a control character');
  if (!sigText.endsWith('\n')) throw new RangeError('signed note does not end with a newline');
  const lines = sigText.slice(0, -1).split('\n');
  if (lines.length > MAX_SIGNATURES) throw new RangeError('signed note has too many signatures');
  const signatures = lines.map((line): NoteSignature => {
    if (!line.startsWith(SIG_PREFIX)) throw new RangeError('signed note signature line does not start with an em dash');
    const parts = line.slice(SIG_PREFIX.length).split(' ');
    if (parts.length !== 2) throw new RangeError('signed note signature line is not "— name signature"');
    const [name, b64] = parts;
    if (!isValidName(name)) throw new RangeError('signed note signature has an invalid key name');
    const blob = decodeBase64(b64, 'signed note signature');
    if (blob.length <= KEY_HINT_SIZE) throw new RangeError('signed note signature is too short');
    return { name, keyHint: blob.subarray(0, KEY_HINT_SIZE), signature: blob.subarray(KEY_HINT_SIZE) };
  });
  if (signatures.length === 0) throw new RangeError('signed note has no signatures');
  return { body, signatures };
}

/** Parses `origin\nsize\nroot\n[other\n]` strictly. */
export function parseCheckpointBody(body: string): ParsedCheckpoint {
  if (typeof body !== 'string') throw new RangeError('checkpoint body is not a string');
  if (!body.endsWith('\n')) throw new RangeError('checkpoint body does not end with a newline');
  const lines = body.slice(0, -1).split('\n');
  if (lines.length < 3) throw new RangeError('checkpoint body has fewer than 3 lines');
  const [origin, sizeText, rootText, ...otherContent] = lines;
  checkLine(origin, 'origin');
  for (const line of otherContent) checkLine(line, 'extension line');
  if (!DECIMAL.test(sizeText)) throw new RangeError('checkpoint size is not a canonical decimal');
  const size = Number(sizeText);
  if (!Number.isSafeInteger(size)) throw new RangeError('checkpoint size is too large');
  const rootHash = decodeBase64(rootText, 'checkpoint root hash');
  if (rootHash.length !== 32) throw new RangeError('checkpoint root hash is not 32 bytes');
  return { origin, size, rootHash, otherContent };
}

function signatureVerifies(body: Buffer, sig: NoteSignature, key: CheckpointKey): boolean {
  try {
    return verify('sha256', body, key.publicKey, sig.signature);
  } catch {
    return false; // malformed DER or an unsupported key type: not a valid signature
  }
}

/**
 * Verifies a checkpoint note against trusted keys. A signature counts only when its name equals a
 * key's name exactly AND its key hint equals that key's keyId[0:4] (rekor#2214) AND it verifies.
 */
export function verifyCheckpoint(text: string, keys: readonly CheckpointKey[]): { origin: string; size: number; rootHash: Buffer } {
  const note = parseSignedNote(text);
  const checkpoint = parseCheckpointBody(note.body);
  const bodyBytes = Buffer.from(note.body, 'utf8');
  const ok = note.signatures.some((sig) =>
    keys.some((key) =>
      sig.name === key.name &&
      key.keyId.length >= KEY_HINT_SIZE &&
      sig.keyHint.equals(key.keyId.subarray(0, KEY_HINT_SIZE)) &&
      signatureVerifies(bodyBytes, sig, key)));
  if (!ok) throw new RangeError('checkpoint signature does not verify with any trusted key');
  return { origin: checkpoint.origin, size: checkpoint.size, rootHash: checkpoint.rootHash };
}
