import type { SignedCertificateTimestamp } from '../core/sct.ts';

/**
 * Where the CA gets its SCTs. The CA defines this interface and never imports log/: services/ wires it to
 * the CT log, in process (a direct call) or over HTTP (`POST <ct>/ct/v1/add-pre-chain`).
 */
export interface SctSource {
  /**
   * Submits a precertificate chain (DER: precertificate first, then its issuer, up to the root) and returns
   * the log's SCT for it. Rejects (UnavailableError) when the log cannot be reached or refuses the chain.
   */
  addPreChain(chainDer: Buffer[]): Promise<SignedCertificateTimestamp>;
}
