/**
 * Keyless signing, as the stock clients do it: an ephemeral P-256 key that never leaves memory, a
 * certificate for it from the CA (Fulcio v2 API) proving possession by signing the token's email (or sub),
 * a signature over the artifact, a hashedrekord entry in the log (Rekor v1 API), and a v0.3 bundle.
 * The log's answer is checked before it is trusted (rekor#469, #2799): one entry, its UUID is the leaf hash
 * of its body, and the body is the entry we proposed.
 */
import { createHash, createSign, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { SerializedBundle } from '@sigstore/bundle';
import { derToPem, pemToDerList } from '../core/pem.ts';
import { generateSigner, type Signer } from '../core/signer.ts';
import { leafHash } from '../log/merkle/hash.ts';
import { buildBundle } from './bundle.ts';
import { array, base64, hex, object, ShapeError, string, uint } from './verify/strict-json.ts';
import { canonicalize } from './verify/tlog-body.ts';
import { parseCertificate } from './verify/x509.ts';

export interface SignArtifactOptions {
  /** The bytes to sign, or a file, read as a stream: hashed and signed in one pass, never held whole in memory. */
  artifact: Buffer | { path: string };
  identityToken: string;
  fulcioUrl: string;
  rekorUrl: string;
  fetch?: typeof fetch;
  /** Called with one line per step done (the CLI prints them to stderr). */
  onProgress?: (line: string) => void;
  /** Called with the size of each chunk read from a file artifact (the CLI's hashing progress). */
  onRead?: (bytes: number) => void;
}

/** A signing failure; `step` is token, artifact, CA or log, and the message says what that step answered. */
export class SigningError extends Error {
  constructor(readonly step: 'token' | 'artifact' | 'CA' | 'log', message: string) {
    super(`${step}: ${message}`);
    this.name = 'SigningError';
  }
}

/** Fulcio's email_verified is a bool, but some IdPs send a string (fulcio#1744). */
function isVerified(v: unknown): boolean {
  return v === true || v === 'true' || v === 'True';
}

/**
 * The proof-of-possession challenge: the token's email when it has one (which must be verified, as sigstore-js
 * requires), else its subject. The token is split only after counting its dots (GHSA-f83f-xpx7-ffpw).
 */
export function tokenChallenge(token: string): string {
  if (typeof token !== 'string' || token.length === 0) throw new SigningError('token', 'no identity token');
  if (token.length > 64 * 1024) throw new SigningError('token', 'identity token is too long');
  let dots = 0;
  for (let i = 0; i < token.length; i++) if (token.charCodeAt(i) === 46) dots++;
  if (dots !== 2) throw new SigningError('token', 'identity token is not a JWT (header.payload.signature)');
  let payload: Record<string, unknown>;
  try {
    payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'));
  } catch {
    throw new SigningError('token', 'identity token payload is not JSON');
  }
  if (typeof payload !== 'object' || payload === null) throw new SigningError('token', 'identity token payload is not an object');
  if (typeof payload.email === 'string' && payload.email !== '') {
    if (!isVerified(payload.email_verified)) throw new SigningError('token', 'the token\'s email is not verified by its issuer (email_verified is not true)');
    return payload.email;
  }
  if (typeof payload.sub === 'string' && payload.sub !== '') return payload.sub;
  throw new SigningError('token', 'identity token has neither an email nor a subject');
}

/** How long a CA or log request may take, answer included, as dev-token and trusted-root allow. */
export const REQUEST_TIMEOUT_MS = 15_000;

/** Why a request failed, in words: a timeout says so; a network error gives its cause (ECONNREFUSED...). */
export function requestFailure(e: unknown): string {
  if ((e as Error)?.name === 'TimeoutError') return `no answer within ${REQUEST_TIMEOUT_MS / 1000} s`;
  return (e as { cause?: { message?: string } }).cause?.message ?? (e as Error).message;
}

export async function postJson(fetchImpl: typeof fetch, step: 'CA' | 'log', url: string, body: unknown): Promise<unknown> {
  let res: Response;
  let text: string;
  try {
    // The signal also bounds reading the body: a server that sends headers and then nothing is given up on too.
    res = await fetchImpl(url, { method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json' }, body: JSON.stringify(body),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    text = await res.text();
  } catch (e) {
    throw new SigningError(step, `cannot reach ${url} (${requestFailure(e)})`);
  }
  if (!res.ok) {
    let message = text.slice(0, 500);
    try {
      const m = (JSON.parse(text) as { message?: unknown }).message;
      if (typeof m === 'string') message = m;
    } catch {
      // not JSON: keep the text
    }
    throw new SigningError(step, `${url} said ${res.status}: ${message}`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new SigningError(step, `${url} answered ${res.status} with a body that is not JSON`);
  }
}

/**
 * The CA's certificate for `key` (Fulcio v2 signingCert, proof of possession over the token's challenge), checked
 * before use: one PEM certificate with an embedded SCT, for exactly this key.
 */
export async function requestSigningCertificate(fetchImpl: typeof fetch, fulcioUrlIn: string, identityToken: string, challenge: string, key: Signer,
  progress: (line: string) => void = () => {}): Promise<Buffer> {
  const fulcioUrl = fulcioUrlIn.replace(/\/+$/, '');
  const caResponse = await postJson(fetchImpl, 'CA', `${fulcioUrl}/api/v2/signingCert`, {
    credentials: { oidcIdentityToken: identityToken },
    publicKeyRequest: {
      publicKey: { algorithm: 'ECDSA', content: derToPem(key.publicKeyDer, 'PUBLIC KEY') },
      proofOfPossession: key.sign(Buffer.from(challenge, 'utf8')).toString('base64'),
    },
  });
  const leafDer = leafFromCaResponse(caResponse, key.publicKeyDer);
  progress(`Received a signing certificate for ${challenge} from ${fulcioUrl}`);
  return leafDer;
}

function leafFromCaResponse(json: unknown, publicKeyDer: Buffer): Buffer {
  const r = json as { signedCertificateEmbeddedSct?: { chain?: { certificates?: unknown } }; signedCertificateDetachedSct?: unknown };
  if (!r?.signedCertificateEmbeddedSct) {
    throw new SigningError('CA', r?.signedCertificateDetachedSct ? 'the CA returned a detached SCT; Sigstack needs certificates with embedded SCTs' : 'the response has no certificate');
  }
  const certs = r.signedCertificateEmbeddedSct.chain?.certificates;
  if (!Array.isArray(certs) || typeof certs[0] !== 'string') throw new SigningError('CA', 'the response has no certificate chain');
  const ders = pemToDerList(certs[0]);
  if (ders.length !== 1) throw new SigningError('CA', 'the first certificate of the chain is not one PEM certificate');
  let spki: Buffer;
  try {
    spki = parseCertificate(ders[0]!).spkiDer;
  } catch (e) {
    throw new SigningError('CA', `the certificate is malformed (${(e as Error).message})`);
  }
  if (!spki.equals(publicKeyDer)) throw new SigningError('CA', 'the certificate is not for our key');
  return ders[0]!;
}

export interface LoggedEntry {
  body: Buffer;
  integratedTime: number;
  logId: Buffer;
  logIndex: number;
  set: Buffer;
  proof: { logIndex: number; rootHash: Buffer; treeSize: number; hashes: Buffer[]; checkpoint: string };
}

/** Checks the log's answer against what was proposed before anything in it goes into the bundle. */
export function checkLogResponse(json: unknown, proposed: unknown): LoggedEntry {
  if (typeof json !== 'object' || json === null) throw new SigningError('log', 'the response is not an object');
  const keys = Object.keys(json);
  if (keys.length !== 1) throw new SigningError('log', `the response holds ${keys.length} entries, expected one`);
  const uuid = keys[0]!;
  try {
    const e = object((json as Record<string, unknown>)[uuid], 'entry', ['body', 'integratedTime', 'logID', 'logIndex', 'verification', 'attestation'],
      ['body', 'integratedTime', 'logID', 'logIndex', 'verification']);
    const body = base64(e.body, 'body', { max: 256 * 1024 });
    if (!/^(?:[0-9a-f]{16})?[0-9a-f]{64}$/.test(uuid) || uuid.slice(-64) !== leafHash(body).toString('hex')) {
      throw new SigningError('log', `the entry UUID ${uuid.slice(0, 100)} is not the leaf hash of the returned body`);
    }
    let returned: unknown;
    try {
      returned = JSON.parse(body.toString('utf8'));
    } catch {
      throw new SigningError('log', 'the returned body is not JSON');
    }
    if (canonicalize(returned) !== canonicalize(proposed)) throw new SigningError('log', 'the returned entry is not the entry we proposed');
    const v = object(e.verification, 'verification', ['inclusionProof', 'signedEntryTimestamp']);
    const p = object(v.inclusionProof, 'verification.inclusionProof', ['checkpoint', 'hashes', 'logIndex', 'rootHash', 'treeSize']);
    return {
      body,
      integratedTime: uint(e.integratedTime, 'integratedTime'),
      logId: hex(e.logID, 'logID', 32),
      logIndex: uint(e.logIndex, 'logIndex'),
      set: base64(v.signedEntryTimestamp, 'verification.signedEntryTimestamp', { max: 512 }),
      proof: {
        logIndex: uint(p.logIndex, 'verification.inclusionProof.logIndex'),
        rootHash: hex(p.rootHash, 'verification.inclusionProof.rootHash', 32),
        treeSize: uint(p.treeSize, 'verification.inclusionProof.treeSize'),
        hashes: array(p.hashes, 'verification.inclusionProof.hashes', 64).map((h, i) => hex(h, `verification.inclusionProof.hashes[${i}]`, 32)),
        checkpoint: string(p.checkpoint, 'verification.inclusionProof.checkpoint', 64 * 1024),
      },
    };
  } catch (err) {
    if (err instanceof ShapeError) throw new SigningError('log', `malformed response: ${err.message}`);
    throw err;
  }
}

/**
 * The artifact's SHA-256 and its ECDSA signature by `privateKey`: over the bytes, or in one streaming pass over the
 * file (1 MiB reads into both the hash and the signer), so a file of any size costs a few MiB of memory. Shared by
 * keyless signing and `sign --key` (sign-key.ts).
 */
export async function digestAndSign(artifact: Buffer | { path: string }, privateKey: KeyObject, onRead?: (bytes: number) => void): Promise<{ digest: Buffer; signature: Buffer }> {
  if (Buffer.isBuffer(artifact)) return { digest: createHash('sha256').update(artifact).digest(), signature: cryptoSign('sha256', artifact, privateKey) };
  const hash = createHash('sha256');
  const signer = createSign('sha256');
  try {
    for await (const chunk of createReadStream(artifact.path, { highWaterMark: 1 << 20 })) {
      hash.update(chunk as Buffer);
      signer.update(chunk as Buffer);
      onRead?.((chunk as Buffer).length);
    }
  } catch (e) {
    throw new SigningError('artifact', `cannot read ${artifact.path}: ${(e as Error).message}`);
  }
  return { digest: hash.digest(), signature: signer.sign(privateKey) };
}

export async function signArtifact(opts: SignArtifactOptions): Promise<SerializedBundle> {
  const fetchImpl = opts.fetch ?? fetch;
  const progress = opts.onProgress ?? (() => {});
  const challenge = tokenChallenge(opts.identityToken);

  // The ephemeral key: generated here, used twice, never written anywhere. The artifact is signed before the CA
  // is asked, so an unreadable file costs no certificate and hashing a large one does not eat into its 10 minutes.
  const key = generateSigner();
  const { digest, signature } = await digestAndSign(opts.artifact, key.privateKey, opts.onRead);
  const leafDer = await requestSigningCertificate(fetchImpl, opts.fulcioUrl, opts.identityToken, challenge, key, progress);
  const proposed = {
    apiVersion: '0.0.1',
    kind: 'hashedrekord',
    spec: {
      data: { hash: { algorithm: 'sha256', value: digest.toString('hex') } },
      signature: { content: signature.toString('base64'), publicKey: { content: Buffer.from(derToPem(leafDer)).toString('base64') } },
    },
  };
  const rekorUrl = opts.rekorUrl.replace(/\/+$/, '');
  const entry = checkLogResponse(await postJson(fetchImpl, 'log', `${rekorUrl}/api/v1/log/entries`, proposed), proposed);
  progress(`Logged as entry ${entry.logIndex} in ${rekorUrl}`);

  return bundleOfLoggedEntry({ leafDer }, digest, signature, entry);
}

/** The v0.3 bundle of a signature the log accepted (checkLogResponse), keyless or with a managed key. */
export function bundleOfLoggedEntry(material: { leafDer: Buffer } | { publicKeyHint: string }, digest: Buffer, signature: Buffer, entry: LoggedEntry): SerializedBundle {
  return buildBundle({
    ...material,
    digest,
    signature,
    logIndex: entry.logIndex,
    logId: entry.logId,
    integratedTime: entry.integratedTime,
    signedEntryTimestamp: entry.set,
    inclusionProof: entry.proof,
    canonicalizedBody: entry.body,
  });
}
