/**
 * The tlog entry must be about THIS bundle: a hashedrekord 0.0.1 whose digest is the artifact's SHA-256,
 * whose signature is the bundle's signature and whose certificate is the bundle's leaf. Without this a valid
 * log entry for something else could vouch for any bundle (GHSA-whqx-f9j3-ch6m, GHSA-ccxc-vr6p-4858,
 * GHSA-q4xm-6fjc-5f6w, sigstore-go#611); it is checked whatever else is checked (sigstore-rust 0f53375).
 * The body must be canonical JSON (RFC 8785): a body with duplicate keys or another spelling of the same
 * values could be read one way by the log and another way here.
 */
import canonicalizeModule from 'canonicalize';
import { VerificationError } from '../../core/errors.ts';
import { decodeUtf8, jsonProblem } from '../../core/json-text.ts';
import type { ParsedBundle } from '../bundle.ts';
import { base64, hex, literal, object, ShapeError } from './strict-json.ts';

type Serialize = (input: unknown) => string | undefined;
// canonicalize is CommonJS with an ES-default typing: under NodeNext the import is the function itself.
const canonicalizeMod = canonicalizeModule as unknown as Serialize | { default: Serialize };
export const canonicalize: Serialize = typeof canonicalizeMod === 'function' ? canonicalizeMod : canonicalizeMod.default;

export interface HashedRekordBody {
  digest: Buffer;
  signature: Buffer;
  certificateDer: Buffer;
}

function fail(message: string): never {
  throw new VerificationError('TLOG_BODY', `tlog entry body: ${message}`);
}

const PEM_BLOCK = (label: string) => `-----BEGIN ${label}-----\n((?:[A-Za-z0-9+/=]{1,64}\n)+)-----END ${label}-----\n`;
const ONE_CERTIFICATE = new RegExp(`^${PEM_BLOCK('CERTIFICATE')}?$`);
const ONE_PUBLIC_KEY = new RegExp(`^${PEM_BLOCK('PUBLIC KEY')}?$`);
const CERTIFICATE_LIST = new RegExp(`^(?:${PEM_BLOCK('CERTIFICATE')})*$`);
const CERTIFICATE_BLOCK = new RegExp(PEM_BLOCK('CERTIFICATE'), 'g');

/**
 * PEM read one way, as every Sigstore client writes it: the label's blocks alone (no text around them, no other
 * label), lines of at most 64 characters, canonical base64. cosign's PEM decoding refuses trailing text too; a
 * reader that skips what it does not understand could take another key than another reader does.
 */
function decodeBlock(b64: string): Buffer | undefined {
  try {
    return base64(b64.replace(/\n/g, ''), 'PEM', { max: 16 * 1024 });
  } catch {
    return undefined;
  }
}

/** The DER of a text that is exactly one PEM CERTIFICATE block (the form log bodies hold); else undefined. */
export function pemCertificate(text: string): Buffer | undefined {
  const m = ONE_CERTIFICATE.exec(text);
  return m ? decodeBlock(m[1]!) : undefined;
}

/** The DER of a text that is exactly one PEM PUBLIC KEY block; else undefined. */
export function pemPublicKey(text: string): Buffer | undefined {
  const m = ONE_PUBLIC_KEY.exec(text);
  return m ? decodeBlock(m[1]!) : undefined;
}

/** The DERs of a text of PEM CERTIFICATE blocks and nothing else (a chain annotation); undefined for anything else. */
export function pemCertificates(text: string, max: number): Buffer[] | undefined {
  if (text.length > max * 16 * 1024 || !CERTIFICATE_LIST.test(text.endsWith('\n') ? text : `${text}\n`)) return undefined;
  const ders = [...`${text}\n`.matchAll(CERTIFICATE_BLOCK)].map((m) => decodeBlock(m[1]!));
  return ders.every((d) => d !== undefined) ? ders as Buffer[] : undefined;
}

/**
 * The fields of a hashedrekord 0.0.1 body, read strictly (canonical JSON, no unknown fields, sha256 only).
 * `publicKeyPem` is the logged key material as text: a certificate or a bare key, which the caller decides.
 * Throws VerificationError('TLOG_BODY').
 */
export function readHashedRekordBody(body: Buffer, maxPemBytes: number): { digest: Buffer; signature: Buffer; publicKeyPem: string } {
  try {
    return readLoggedBody(body, 'hashedrekord', '0.0.1', (s) => {
      const spec = object(s, 'spec', ['data', 'signature']);
      const hash = object(object(spec.data, 'spec.data', ['hash']).hash, 'spec.data.hash', ['algorithm', 'value']);
      literal(hash.algorithm, 'spec.data.hash.algorithm', ['sha256']);
      const sig = object(spec.signature, 'spec.signature', ['content', 'publicKey']);
      return {
        digest: hex(hash.value, 'spec.data.hash.value', 32),
        signature: base64(sig.content, 'spec.signature.content', { max: 1024 }),
        publicKeyPem: base64(object(sig.publicKey, 'spec.signature.publicKey', ['content']).content, 'spec.signature.publicKey.content', { max: maxPemBytes }).toString('utf8'),
      };
    });
  } catch (e) {
    if (e instanceof ShapeError) fail(e.message);
    throw e;
  }
}

/**
 * A logged body of `kind` `apiVersion`, read one way: strict UTF-8, JSON, its spec read by `readSpec` (which bounds
 * the document: known fields, scalar leaves), then RFC 8785 canonical. The canonical check comes after the shape:
 * canonicalize recurses, and a deeply nested body would overflow the stack instead of being refused. Throws ShapeError.
 */
export function readLoggedBody<T>(body: Buffer, kind: string, apiVersion: string, readSpec: (spec: unknown) => T): T {
  let text: string;
  let json: unknown;
  try {
    text = decodeUtf8(body);
    json = JSON.parse(text);
  } catch (e) {
    throw new ShapeError(jsonProblem(e, 'not JSON'));
  }
  const o = object(json, 'body', ['apiVersion', 'kind', 'spec']);
  literal(o.kind, 'kind', [kind]);
  literal(o.apiVersion, 'apiVersion', [apiVersion]);
  const result = readSpec(o.spec);
  if (canonicalize(json) !== text) throw new ShapeError('not canonical JSON (RFC 8785)');
  return result;
}

/** A `{ algorithm: "sha256", value: <64 lower-case hex> }` field of a logged body, as its 32 bytes. */
export function sha256Field(value: unknown, path: string): Buffer {
  const h = object(value, path, ['algorithm', 'value']);
  literal(h.algorithm, `${path}.algorithm`, ['sha256']);
  return hex(h.value, `${path}.value`, 32);
}

export function parseHashedRekordBody(body: Buffer): HashedRekordBody {
  const { digest, signature, publicKeyPem } = readHashedRekordBody(body, 32 * 1024);
  const certificateDer = pemCertificate(publicKeyPem);
  if (!certificateDer) fail('spec.signature.publicKey.content: not a single PEM certificate');
  return { digest, signature, certificateDer: certificateDer! };
}

/** Checks the entry body against the bundle and the artifact digest. */
export function verifyTlogBody(bundle: ParsedBundle, artifactDigest: Buffer): void {
  const body = parseHashedRekordBody(bundle.tlogEntry.canonicalizedBody);
  if (!body.digest.equals(artifactDigest)) fail('the logged digest is not the SHA-256 of the artifact');
  if (!body.signature.equals(bundle.signature)) fail('the logged signature is not the bundle signature');
  if (!body.certificateDer.equals(bundle.leafDer)) fail('the logged certificate is not the bundle certificate');
}
