import { BadRequestError } from '../../core/errors.ts';
import { dsseV001 } from './dsse.ts';
import { hashedrekordV001 } from './hashedrekord.ts';
import { intotoV002 } from './intoto.ts';
import { readObject, readString } from './strict-json.ts';

/**
 * Registry of Rekor entry kinds. A kind turns a proposed entry's `spec` into the canonical body the log
 * stores as the Merkle leaf, or refuses it with a BadRequestError naming the field. Adding a kind (dsse,
 * intoto) is adding one file and one line here; unknown kinds and versions are refused, never guessed.
 */
export interface EntryKind {
  readonly kind: string;
  readonly apiVersion: string;
  /** Validates `spec` (including the signature) and returns the RFC 8785 canonical body bytes. */
  canonicalize(spec: unknown): Buffer;
}

const KINDS: readonly EntryKind[] = [hashedrekordV001, dsseV001, intotoV002];

export function findKind(kind: string, apiVersion: string): EntryKind | undefined {
  return KINDS.find((k) => k.kind === kind && k.apiVersion === apiVersion);
}

/** `kind/apiVersion` pairs this log accepts, e.g. for error messages and docs. */
export function supportedKinds(): string[] {
  return KINDS.map((k) => `${k.kind}/${k.apiVersion}`);
}

/**
 * A proposed entry still as the request's JSON text. The HTTP face hands the bytes over unparsed, so the parse
 * happens once, where the entry is checked (a pool worker): parsing on the main thread and then structured-cloning
 * the object to a worker cost the main thread more than the whole parse. services/body.ts has already refused
 * bodies nested too deeply to walk.
 */
export class ProposedEntryJson {
  constructor(readonly bytes: Uint8Array) {}
}

/** JSON.parse of a request body, with the error services/body.ts gives for the same bytes. */
export function parseJsonBody(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch {
    throw new BadRequestError('request body is not valid JSON');
  }
}

/**
 * Validates a Rekor ProposedEntry `{kind, apiVersion, spec}` (parsed, or as ProposedEntryJson) and returns its
 * canonical body (the leaf).
 */
export function canonicalizeProposedEntry(proposed: unknown): Buffer {
  if (proposed instanceof ProposedEntryJson) proposed = parseJsonBody(proposed.bytes);
  const entry = readObject(proposed, 'entry', ['kind', 'apiVersion', 'spec'], ['kind', 'apiVersion', 'spec']);
  const kind = readString(entry.kind, 'entry.kind');
  const apiVersion = readString(entry.apiVersion, 'entry.apiVersion');
  const impl = findKind(kind, apiVersion);
  if (!impl) {
    const known = KINDS.some((k) => k.kind === kind);
    throw new BadRequestError(known
      ? `entry.apiVersion "${clip(apiVersion)}" is not supported for kind "${clip(kind)}" (supported: ${supportedKinds().join(', ')})`
      : `entry.kind "${clip(kind)}" is not supported (supported: ${supportedKinds().join(', ')})`);
  }
  return impl.canonicalize(entry.spec);
}

/** Client text echoed in an error message is cut short: the message is for humans, not a reflection service. */
function clip(text: string): string {
  return text.length > 64 ? `${text.slice(0, 64)}…` : text;
}
