import { X509Certificate } from 'node:crypto';
import { UnavailableError } from '../core/errors.ts';
import { serializeSctList } from '../core/sct.ts';
import type { Signer } from '../core/signer.ts';
import { createFinalCertificate, createPrecertificate, draftLeaf, leafTbsDer, loadIssuingAuthority, type IssuingAuthority } from './certificate.ts';
import { enforceClaimPolicy } from './claim-policy.ts';
import { principalFromToken } from './identity/index.ts';
import type { IssuerConfig } from './issuers.ts';
import { proveKeyPossession } from './pop.ts';
import { parseSigningCertRequest } from './request.ts';
import type { SctSource } from './sct-source.ts';
import type { TokenVerifier } from './token.ts';

/**
 * Issues a code-signing certificate: request -> token (401) -> principal (401) -> proof of possession (400)
 * -> precertificate -> SCT from the CT log (503 if it fails) -> final certificate with the SCT embedded.
 * Each step throws before anything is returned, so a failure anywhere issues nothing.
 */

export interface CertificateAuthorityOptions {
  tokens: TokenVerifier;
  issuerConfig: IssuerConfig;
  intermediate: { signer: Signer; certDer: Buffer };
  /** DER, intermediate first, then up to and including the root. */
  chainDer: Buffer[];
  sctSource: SctSource;
  /** Milliseconds since the epoch. */
  clock?: () => number;
}

export function toPem(der: Buffer): string {
  const b64 = der.toString('base64').replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN CERTIFICATE-----\n${b64}-----END CERTIFICATE-----\n`;
}

/** What the CA issued: the chain for the response, and for whom (so metrics need not re-parse the certificate). */
export interface IssuedCertificate {
  /** Leaf, intermediate, root. */
  chainPem: string[];
  /** The verified token's issuer and its configured type. */
  issuer: string;
  issuerType: string;
}

/** What the CA's routes call: a CertificateAuthority, or a pool of them on worker threads (services/ca-workers.ts). */
export interface CertificateIssuer {
  issue(body: unknown, bearerToken?: string): Promise<IssuedCertificate>;
}

export class CertificateAuthority implements CertificateIssuer {
  readonly issuerConfig: IssuerConfig;
  private readonly tokens: TokenVerifier;
  private readonly authority: IssuingAuthority;
  private readonly chainDer: Buffer[];
  private readonly chainPem: string[];
  private readonly sctSource: SctSource;
  private readonly clock: () => number;

  constructor(opts: CertificateAuthorityOptions) {
    this.tokens = opts.tokens;
    this.issuerConfig = opts.issuerConfig;
    this.authority = loadIssuingAuthority(opts.intermediate.certDer, opts.intermediate.signer);
    if (opts.chainDer.length === 0 || !opts.chainDer[0]!.equals(opts.intermediate.certDer)) {
      throw new Error('chainDer must start with the intermediate certificate');
    }
    // A chain that does not chain would only be discovered by every verifier later: refuse it now.
    for (let i = 0; i + 1 < opts.chainDer.length; i++) {
      const child = new X509Certificate(opts.chainDer[i]!);
      const parent = new X509Certificate(opts.chainDer[i + 1]!);
      if (!child.checkIssued(parent) || !child.verify(parent.publicKey)) throw new Error(`chainDer[${i}] is not signed by chainDer[${i + 1}]`);
    }
    this.chainDer = opts.chainDer;
    this.chainPem = opts.chainDer.map(toPem);
    this.sctSource = opts.sctSource;
    this.clock = opts.clock ?? Date.now;
  }

  /** PEM, intermediate then root: the trust bundle. */
  get trustChainPem(): string[] {
    return [...this.chainPem];
  }

  /**
   * Handles a Fulcio v2 CreateSigningCertificateRequest (parsed JSON). `bearerToken` is the token from an
   * `Authorization: Bearer` header, used when the body carries none.
   */
  async issue(body: unknown, bearerToken?: string): Promise<IssuedCertificate> {
    const request = parseSigningCertRequest(body, bearerToken);
    const token = await this.tokens.verify(request.token);
    // The operator's issuance policy (403 naming the rule) comes before any key or certificate work.
    enforceClaimPolicy(token.settings.policy, token.claims, token.issuer);
    const principal = principalFromToken(token);
    const publicKeyDer = await proveKeyPossession(request.key, principal.name);

    const draft = draftLeaf(this.authority, { publicKeyDer, san: principal.san, extensions: principal.extensions, now: this.clock() });
    const precertDer = createPrecertificate(this.authority, draft);
    let sctList: Buffer;
    try {
      // The TBS without the poison is the draft without its last extension (what the SCT signs, RFC 6962 §3.2).
      const sct = await this.sctSource.addPreChain([precertDer, ...this.chainDer], { tbsWithoutPoisonDer: leafTbsDer(draft) });
      sctList = serializeSctList([sct]);
    } catch (err) {
      if (err instanceof UnavailableError) throw err;
      throw new UnavailableError(`could not obtain an SCT from the CT log: ${(err as Error).message}`);
    }
    const finalDer = createFinalCertificate(this.authority, draft, sctList);
    return { chainPem: [toPem(finalDer), ...this.chainPem], issuer: token.issuer, issuerType: token.settings.type };
  }
}
