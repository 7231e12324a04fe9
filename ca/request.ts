import { BadRequestError } from '../core/errors.ts';
import { isRecord } from '../core/json-text.ts';

/**
 * The Fulcio v2 `CreateSigningCertificateRequest` as grpc-gateway reads it (protojson): camelCase or proto
 * field names, unknown fields ignored, `bytes` fields in standard or URL-safe base64. Structural problems are
 * 400s naming the field; nothing here judges the token or the key.
 */

export type KeyRequest =
  /** `publicKeyRequest`: a public key and a signature over the principal name. */
  | { kind: 'publicKey'; content: string; proof: Buffer }
  /** `certificateSigningRequest`: PEM PKCS#10; its self-signature is the proof of possession. */
  | { kind: 'csr'; csr: Buffer };

export interface SigningCertRequest {
  /** `credentials.oidcIdentityToken`, else the `Authorization: Bearer` token (as Fulcio's HTTP gateway). */
  token: string | undefined;
  key: KeyRequest;
}

/** No honest field is anywhere near this; refusing early keeps decoding cheap. */
const MAX_FIELD_CHARS = 64 * 1024;

/** A field by its JSON name or its proto name; protojson accepts both. */
function field(obj: Record<string, unknown>, jsonName: string, protoName: string): unknown {
  const v = obj[jsonName];
  return v === undefined || v === null ? obj[protoName] ?? undefined : v;
}

function bytesField(value: unknown, name: string): Buffer {
  if (typeof value !== 'string') throw new BadRequestError(`${name} must be a base64 string`);
  if (value.length > MAX_FIELD_CHARS) throw new BadRequestError(`${name} is too long`);
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(value)) throw new BadRequestError(`${name} is not valid base64`);
  return Buffer.from(value.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
}

function optionalObject(value: unknown, name: string): Record<string, unknown> | undefined {
  if (value === undefined) return undefined;
  if (!isRecord(value)) throw new BadRequestError(`${name} must be an object`);
  return value;
}

export function parseSigningCertRequest(body: unknown, bearerToken?: string): SigningCertRequest {
  if (!isRecord(body)) throw new BadRequestError('request body must be a JSON object');

  const credentials = optionalObject(field(body, 'credentials', 'credentials'), 'credentials');
  let token: string | undefined;
  const rawToken = credentials ? field(credentials, 'oidcIdentityToken', 'oidc_identity_token') : undefined;
  if (rawToken !== undefined) {
    if (typeof rawToken !== 'string') throw new BadRequestError('credentials.oidcIdentityToken must be a string');
    token = rawToken;
  }
  if (!token && bearerToken) token = bearerToken;

  const publicKeyRequest = optionalObject(field(body, 'publicKeyRequest', 'public_key_request'), 'publicKeyRequest');
  const csr = field(body, 'certificateSigningRequest', 'certificate_signing_request');
  if (publicKeyRequest && csr !== undefined) {
    throw new BadRequestError('give either publicKeyRequest or certificateSigningRequest, not both');
  }
  if (csr !== undefined) {
    const bytes = bytesField(csr, 'certificateSigningRequest');
    if (bytes.length === 0) throw new BadRequestError('certificateSigningRequest is empty');
    return { token, key: { kind: 'csr', csr: bytes } };
  }
  if (!publicKeyRequest) throw new BadRequestError('publicKeyRequest or certificateSigningRequest is required');

  const publicKey = optionalObject(field(publicKeyRequest, 'publicKey', 'public_key'), 'publicKeyRequest.publicKey');
  if (!publicKey) throw new BadRequestError('publicKeyRequest.publicKey is required');
  checkAlgorithm(publicKey.algorithm);
  const content = publicKey.content;
  if (typeof content !== 'string' || content.length === 0) throw new BadRequestError('publicKeyRequest.publicKey.content is required');
  if (content.length > MAX_FIELD_CHARS) throw new BadRequestError('publicKeyRequest.publicKey.content is too long');
  const proof = field(publicKeyRequest, 'proofOfPossession', 'proof_of_possession');
  if (proof === undefined) throw new BadRequestError('publicKeyRequest.proofOfPossession is required');
  return { token, key: { kind: 'publicKey', content, proof: bytesField(proof, 'publicKeyRequest.proofOfPossession') } };
}

/**
 * Maps a legacy v1 request (`POST /api/v1/signingCert`, still what cosign 2.x sends) onto the v2 shape, as
 * Fulcio's legacy server does: `publicKey.content` is base64 of the PEM (or DER) bytes, `signedEmailAddress`
 * the proof of possession; the token comes only from the Authorization header.
 */
export function legacyToV2Request(body: unknown): Record<string, unknown> {
  if (!isRecord(body)) throw new BadRequestError('request body must be a JSON object');
  const csr = field(body, 'certificateSigningRequest', 'certificate_signing_request');
  if (csr !== undefined && csr !== '') return { certificateSigningRequest: csr };
  const publicKey = optionalObject(field(body, 'publicKey', 'public_key'), 'publicKey');
  if (!publicKey) throw new BadRequestError('publicKey is required');
  const content = bytesField(publicKey.content ?? '', 'publicKey.content');
  return {
    publicKeyRequest: {
      publicKey: { content: content.toString('latin1') },
      proofOfPossession: field(body, 'signedEmailAddress', 'signed_email_address') ?? '',
    },
  };
}

/** fulcio.proto's PublicKeyAlgorithm, by its JSON names (protojson reads the name or the number). */
const ALGORITHMS = ['PUBLIC_KEY_ALGORITHM_UNSPECIFIED', 'RSA_PSS', 'ECDSA', 'ED25519'] as const;

/**
 * The key's algorithm is read from the key itself, as upstream does; the field must still be one of the enum's
 * values (upstream's JSON decoding refuses an unknown name), and one that can name the key certified here: only
 * ECDSA P-256 keys are, so RSA_PSS or ED25519 contradicts the key whatever it is.
 */
function checkAlgorithm(algorithm: unknown): void {
  if (algorithm === undefined || algorithm === null) return;
  const what = 'publicKeyRequest.publicKey.algorithm';
  let name: string | undefined;
  if (typeof algorithm === 'string') name = ALGORITHMS.find((a) => a === algorithm);
  else if (typeof algorithm === 'number') name = Number.isInteger(algorithm) ? ALGORITHMS[algorithm] : undefined;
  else throw new BadRequestError(`${what} must be a string or a number`);
  if (name === undefined) throw new BadRequestError(`${what} ${JSON.stringify(algorithm).slice(0, 64)} is not one of ${ALGORITHMS.join(', ')}`);
  if (name === 'RSA_PSS' || name === 'ED25519') throw new BadRequestError(`${what} is ${name}, but only ECDSA P-256 keys are certified`);
}
