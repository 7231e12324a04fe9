/**
 * Keyless DSSE signing for attestations: an ephemeral key, a certificate from the CA, a DSSE envelope signed
 * over the pre-authentication encoding, and a `dsse` v0.0.1 entry in the log. The log's answer is checked as
 * for hashedrekord (sign.ts): one entry, UUID = leaf hash of the body, and the body is exactly the canonical
 * body we compute ourselves from what we proposed (log/kinds/dsse.ts, the same code the log runs).
 */
import { derToPem, pemToDerList } from '../../core/pem.ts';
import { generateSigner } from '../../core/signer.ts';
import { dsseBody, readDsseSpec } from '../../log/kinds/dsse.ts';
import { preAuthEncoding } from '../../log/kinds/dsse-signature.ts';
import { checkLogResponse, SigningError, tokenChallenge } from '../sign.ts';

export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';

export interface SignedDsse {
  /** The envelope JSON text exactly as logged and stored. */
  envelope: string;
  leafDer: Buffer;
  signature: Buffer;
  logIndex: number;
  logId: Buffer;
  integratedTime: number;
  signedEntryTimestamp: Buffer;
  canonicalizedBody: Buffer;
}

async function post(fetchImpl: typeof fetch, step: 'CA' | 'log', url: string, body: unknown): Promise<unknown> {
  let res: Response;
  try {
    res = await fetchImpl(url, { method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json' }, body: JSON.stringify(body) });
  } catch (e) {
    throw new SigningError(step, `cannot reach ${url} (${(e as { cause?: Error }).cause?.message ?? (e as Error).message})`);
  }
  const text = await res.text();
  if (!res.ok) throw new SigningError(step, `${url} said ${res.status}: ${text.slice(0, 300)}`);
  try {
    return JSON.parse(text);
  } catch {
    throw new SigningError(step, `${url} answered with a body that is not JSON`);
  }
}

export async function signDsse(opts: { payload: Buffer; payloadType: string; identityToken: string; fulcioUrl: string; rekorUrl: string; fetch?: typeof fetch; onProgress?: (l: string) => void }): Promise<SignedDsse> {
  const fetchImpl = opts.fetch ?? fetch;
  const challenge = tokenChallenge(opts.identityToken);
  const key = generateSigner();
  const fulcioUrl = opts.fulcioUrl.replace(/\/+$/, '');
  const ca = await post(fetchImpl, 'CA', `${fulcioUrl}/api/v2/signingCert`, {
    credentials: { oidcIdentityToken: opts.identityToken },
    publicKeyRequest: {
      publicKey: { algorithm: 'ECDSA', content: derToPem(key.publicKeyDer, 'PUBLIC KEY') },
      proofOfPossession: key.sign(Buffer.from(challenge, 'utf8')).toString('base64'),
    },
  }) as { signedCertificateEmbeddedSct?: { chain?: { certificates?: unknown[] } } };
  const first = ca?.signedCertificateEmbeddedSct?.chain?.certificates?.[0];
  const ders = typeof first === 'string' ? pemToDerList(first) : [];
  if (ders.length !== 1) throw new SigningError('CA', 'the response has no certificate with an embedded SCT');
  const leafDer = ders[0]!;
  opts.onProgress?.(`Received a signing certificate for ${challenge} from ${fulcioUrl}`);

  const signature = key.sign(preAuthEncoding(opts.payloadType, opts.payload));
  const envelope = JSON.stringify({ payloadType: opts.payloadType, payload: opts.payload.toString('base64'), signatures: [{ keyid: '', sig: signature.toString('base64') }] });
  const spec = { proposedContent: { envelope, verifiers: [Buffer.from(derToPem(leafDer)).toString('base64')] } };
  // What the log must store, computed here: if the certificate is not for our key this throws before we send.
  let expected: unknown;
  try {
    expected = JSON.parse(dsseBody(readDsseSpec(spec)).toString('utf8'));
  } catch (e) {
    throw new SigningError('CA', `the certificate does not verify our own envelope (${(e as Error).message})`);
  }
  const rekorUrl = opts.rekorUrl.replace(/\/+$/, '');
  const entry = checkLogResponse(await post(fetchImpl, 'log', `${rekorUrl}/api/v1/log/entries`, { apiVersion: '0.0.1', kind: 'dsse', spec }), expected);
  opts.onProgress?.(`Logged as entry ${entry.logIndex} in ${rekorUrl}`);
  return {
    envelope, leafDer, signature, logIndex: entry.logIndex, logId: entry.logId, integratedTime: entry.integratedTime,
    signedEntryTimestamp: entry.set, canonicalizedBody: entry.body,
  };
}
