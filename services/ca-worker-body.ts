import { parentPort, workerData } from 'node:worker_threads';
import type { KeyObject } from 'node:crypto';
import { CertificateAuthority } from '../ca/issue.ts';
import type { IssuerConfig } from '../ca/issuers.ts';
import type { SctSource } from '../ca/sct-source.ts';
import { TokenVerifier } from '../ca/token.ts';
import { UnavailableError } from '../core/errors.ts';
import { toWorkerError } from '../core/worker-error.ts';
import { parseSct, type SignedCertificateTimestamp } from '../core/sct.ts';
import { signerFromKeyObject } from '../core/signer.ts';
import type { FromWorker, ToWorker } from './ca-workers.ts';

/**
 * Worker side of the issuing pool: a whole CertificateAuthority of its own (token check with its own JWKS cache,
 * proof of possession, both certificates and their signatures), built from what the main thread validated at
 * start-up. Only the SCT comes from the main thread, which owns the CT log (or its HTTP client): the worker
 * asks for it with the precertificate chain and waits for the answer, as the CA waits for any SctSource.
 */
export interface CaWorkerData {
  issuerConfig: IssuerConfig;
  intermediateKey: KeyObject;
  chainDer: Uint8Array[];
}

const data = workerData as CaWorkerData;
const port = parentPort!;
const pendingScts = new Map<number, { resolve: (sct: SignedCertificateTimestamp) => void; reject: (e: Error) => void }>();
let nextSct = 0;

const sctSource: SctSource = {
  addPreChain(chainDer, own) {
    return new Promise((resolve, reject) => {
      const id = nextSct++;
      pendingScts.set(id, { resolve, reject });
      port.postMessage({ type: 'sct', id, chainDer, tbsWithoutPoisonDer: own?.tbsWithoutPoisonDer } satisfies FromWorker);
    });
  },
};

const chainDer = data.chainDer.map((d) => Buffer.from(d.buffer, d.byteOffset, d.byteLength));
const ca = new CertificateAuthority({
  tokens: new TokenVerifier(data.issuerConfig),
  issuerConfig: data.issuerConfig,
  intermediate: { signer: signerFromKeyObject(data.intermediateKey), certDer: chainDer[0]! },
  chainDer,
  sctSource,
});

port.on('message', (msg: ToWorker) => {
  if (msg.type === 'sct') {
    const waiting = pendingScts.get(msg.id);
    if (!waiting) return;
    pendingScts.delete(msg.id);
    if (msg.ok) waiting.resolve(parseSct(Buffer.from(msg.sct)));
    // The CA passes an UnavailableError on as it is and wraps anything else: keep that distinction.
    else waiting.reject(msg.unavailable ? new UnavailableError(msg.message) : new Error(msg.message));
    return;
  }
  ca.issue(msg.body, msg.bearer).then(
    (issued) => port.postMessage({ type: 'issued', id: msg.id, ok: true, issued } satisfies FromWorker),
    (e: unknown) => port.postMessage({ type: 'issued', id: msg.id, ok: false, error: toWorkerError(e) } satisfies FromWorker),
  );
});
