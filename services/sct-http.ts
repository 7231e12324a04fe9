import { createHash, verify, X509Certificate, type KeyObject } from 'node:crypto';
import type { OwnPrecertificate, SctSource } from '../ca/sct-source.ts';
import { UnavailableError } from '../core/errors.ts';
import { importPublicKey } from '../core/public-key.ts';
import { readCapped } from '../core/read-capped.ts';
import { ENTRY_TYPE_PRECERT, HASH_SHA256, SIG_ECDSA, sctFromJson, sctSignedData, type SctJson, type SignedCertificateTimestamp } from '../core/sct.ts';

/** An add-pre-chain answer is one small JSON object; anything larger is not an SCT. */
const MAX_ANSWER_BYTES = 64 * 1024;

export interface CtLogKey {
  /** SHA-256 of the key's DER SubjectPublicKeyInfo: the log id its SCTs carry. */
  keyId: Buffer;
  key: KeyObject;
}

export interface HttpSctSourceOptions {
  timeoutMs?: number;
  /**
   * The CT log's keys as the trusted root this CA serves names them (the log's own trusted_root.json in a split
   * deployment). `refresh` asks again (the log may have been given a new key since).
   */
  ctLogKeys(refresh: boolean): Promise<CtLogKey[]>;
}

/** The CtLogKey of a DER SubjectPublicKeyInfo. */
export function ctLogKey(spkiDer: Buffer): CtLogKey {
  return { keyId: createHash('sha256').update(spkiDer).digest(), key: importPublicKey(spkiDer).key };
}

/** SHA-256 of the issuing certificate's SubjectPublicKeyInfo (RFC 6962 issuer_key_hash), remembered per certificate. */
const issuerKeyHashes = new Map<string, Buffer>();

function issuerKeyHash(issuerDer: Buffer): Buffer {
  const id = issuerDer.toString('base64');
  let hash = issuerKeyHashes.get(id);
  if (!hash) {
    hash = createHash('sha256').update(new X509Certificate(issuerDer).publicKey.export({ type: 'spki', format: 'der' })).digest();
    if (issuerKeyHashes.size >= 16) issuerKeyHashes.clear(); // the CA's own issuers: one or two in a lifetime
    issuerKeyHashes.set(id, hash);
  }
  return hash;
}

/**
 * The CA's SctSource when the CT log runs in another process: RFC 6962 add-pre-chain over HTTP. The SCT that
 * comes back is checked before it is embedded: it must come from a CT log key of the trusted root this CA
 * serves, and its signature must cover exactly this precertificate. A log at a wrong or hostile --log-url, or
 * anything between, would otherwise have the CA issue certificates that no verifier accepts (503 instead).
 */
export function httpSctSource(logUrl: string, opts: HttpSctSourceOptions): SctSource {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const fail = (message: string) => new UnavailableError(`CT log at ${logUrl}: ${message}`);
  return {
    async addPreChain(chainDer: Buffer[], own?: OwnPrecertificate): Promise<SignedCertificateTimestamp> {
      if (!own || chainDer.length < 2) throw fail('the precertificate TBS and its issuer are needed to check the SCT');
      let res: Response;
      let text: string;
      try {
        res = await fetch(`${logUrl}/ct/v1/add-pre-chain`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ chain: chainDer.map((d) => d.toString('base64')) }),
          signal: AbortSignal.timeout(timeoutMs),
          redirect: 'error',
        });
        text = (await readCapped(res, MAX_ANSWER_BYTES, {
          tooLarge: () => fail(`answered more than ${MAX_ANSWER_BYTES} bytes`),
          cut: (e) => fail(`the answer was cut (${(e as Error).message})`),
        })).toString('utf8');
      } catch (err) {
        if (err instanceof UnavailableError) throw err;
        throw fail(`unreachable: ${(err as Error).message}`);
      }
      if (!res.ok) throw fail(`refused the precertificate (${res.status}): ${text.slice(0, 200)}`);
      let sct: SignedCertificateTimestamp;
      try {
        sct = sctFromJson(JSON.parse(text) as SctJson);
      } catch (err) {
        throw fail(`returned a malformed SCT: ${(err as Error).message}`);
      }
      await checkSct(sct, chainDer[1]!, own, opts, fail);
      return sct;
    },
  };
}

async function checkSct(sct: SignedCertificateTimestamp, issuerDer: Buffer, own: OwnPrecertificate, opts: HttpSctSourceOptions, fail: (m: string) => Error): Promise<void> {
  let keys: CtLogKey[];
  try {
    keys = await opts.ctLogKeys(false);
    if (!keys.some((k) => k.keyId.equals(sct.logId))) keys = await opts.ctLogKeys(true);
  } catch (err) {
    throw fail(`its keys could not be read from its trusted root: ${(err as Error).message}`);
  }
  const key = keys.find((k) => k.keyId.equals(sct.logId));
  if (!key) throw fail(`answered an SCT from log id ${sct.logId.toString('hex')}, which is not a CT log of the trusted root`);
  if (sct.hashAlgorithm !== HASH_SHA256 || sct.signatureAlgorithm !== SIG_ECDSA) throw fail('answered an SCT with an unsupported algorithm');
  const signed = sctSignedData(sct.timestamp, { type: ENTRY_TYPE_PRECERT, issuerKeyHash: issuerKeyHash(issuerDer), tbsCertificate: own.tbsWithoutPoisonDer }, sct.extensions);
  let ok = false;
  try {
    ok = verify('sha256', signed, key.key, sct.signature);
  } catch {
    ok = false;
  }
  if (!ok) throw fail('answered an SCT whose signature does not cover this precertificate');
}
