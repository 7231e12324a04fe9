import type { SignedCertificateTimestamp } from '../core/sct.ts';

/**
 * What the CA already knows about the precertificate it just built, handed over with the chain so a CT log in the
 * same process need not parse the precertificate again to compute its RFC 6962 entry.
 */
export interface OwnPrecertificate {
  /**
   * RFC 6962 §3.2 `PreCert.tbs_certificate`: the precertificate's TBSCertificate without the poison extension,
   * as DER. The CA encodes it from the same parts as the precertificate (ca/certificate.ts leafTbsDer).
   */
  tbsWithoutPoisonDer: Buffer;
}

/**
 * Where the CA gets its SCTs. The CA defines this interface and never imports log/: services/ wires it to
 * the CT log, in process (a direct call) or over HTTP (`POST <ct>/ct/v1/add-pre-chain`).
 */
export interface SctSource {
  /**
   * Submits a precertificate chain (DER: precertificate first, then its issuer, up to the root) and returns
   * the log's SCT for it. Rejects (UnavailableError) when the log cannot be reached or refuses the chain.
   * `own` is what the CA built the precertificate from: an in-process log may use it instead of re-parsing the
   * precertificate; a remote log ignores it (add-pre-chain takes only the chain).
   */
  addPreChain(chainDer: Buffer[], own?: OwnPrecertificate): Promise<SignedCertificateTimestamp>;
}
