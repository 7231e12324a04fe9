import { createHash, verify, X509Certificate } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { Certificate, Extensions, type Extension } from '@peculiar/asn1-x509';
import { ENTRY_TYPE_PRECERT, HASH_SHA256, SIG_ECDSA, SCT_VERSION_V1, parseSctList, sctSignedData, type SignedCertificateTimestamp } from '../../core/sct.ts';
import { generateSigner, type Signer } from '../../core/signer.ts';
import { createCaHierarchy } from '../../ca/hierarchy.ts';
import { CertificateAuthority } from '../../ca/issue.ts';
import { parseIssuerConfig, type IssuerConfig } from '../../ca/issuers.ts';
import { caRouter } from '../../ca/routes.ts';
import type { SctSource } from '../../ca/sct-source.ts';
import { TokenVerifier, type TokenVerifierOptions } from '../../ca/token.ts';
import { serveRouters, type TestServer } from '../helpers/http.ts';
import { startOidcIssuer, type OidcIssuer } from '../helpers/oidc.ts';

/** Shared by the CA tests: an honest CT log, TBS surgery as CT verifiers do it, and a served CA. */

export const POISON_OID = '1.3.6.1.4.1.11129.2.4.3';
export const SCT_LIST_OID = '1.3.6.1.4.1.11129.2.4.2';

/** The TBS of `certDer` with extension `oid` removed, re-encoded: what RFC 6962 verifiers reconstruct. */
export function tbsWithout(certDer: Buffer, oid: string): { tbs: Buffer; removed?: Extension } {
  const cert = AsnConvert.parse(certDer, Certificate);
  const exts = cert.tbsCertificate.extensions ?? [];
  const removed = exts.find((e) => e.extnID === oid);
  cert.tbsCertificate.extensions = new Extensions(exts.filter((e) => e.extnID !== oid));
  return { tbs: Buffer.from(AsnConvert.serialize(cert.tbsCertificate)), removed };
}

function spkiHash(certDer: Buffer): Buffer {
  return createHash('sha256').update(new X509Certificate(certDer).publicKey.export({ type: 'spki', format: 'der' })).digest();
}

/**
 * A CT log that really signs (RFC 6962 precert entries, core/sct.ts) and refuses anything a real log would:
 * a chain that does not verify up to its trusted root, or a first certificate without the critical poison.
 */
export class HonestCtLog implements SctSource {
  readonly signer: Signer = generateSigner();
  readonly received: Buffer[][] = [];
  failWith: Error | undefined;

  constructor(private readonly rootDer: Buffer) {}

  async addPreChain(chain: Buffer[]): Promise<SignedCertificateTimestamp> {
    this.received.push(chain);
    if (this.failWith) throw this.failWith;
    if (chain.length < 2) throw new Error('chain too short');
    if (!chain.at(-1)!.equals(this.rootDer)) throw new Error('chain does not end in the trusted root');
    const certs = chain.map((d) => new X509Certificate(d));
    for (let i = 0; i + 1 < certs.length; i++) {
      if (!certs[i]!.checkIssued(certs[i + 1]!) || !certs[i]!.verify(certs[i + 1]!.publicKey)) throw new Error(`chain[${i}] not signed by chain[${i + 1}]`);
    }
    const { tbs, removed } = tbsWithout(chain[0]!, POISON_OID);
    if (!removed || !removed.critical || !Buffer.from(removed.extnValue.buffer).equals(Buffer.from([5, 0]))) {
      throw new Error('not a precertificate');
    }
    const timestamp = BigInt(Date.now());
    const entry = { type: ENTRY_TYPE_PRECERT, issuerKeyHash: spkiHash(chain[1]!), tbsCertificate: tbs } as const;
    return {
      version: SCT_VERSION_V1,
      logId: this.signer.keyId,
      timestamp,
      extensions: Buffer.alloc(0),
      hashAlgorithm: HASH_SHA256,
      signatureAlgorithm: SIG_ECDSA,
      signature: this.signer.sign(sctSignedData(timestamp, entry)),
    };
  }
}

/** The TLS SCT list inside a certificate's SCT extension (an OCTET STRING in the extnValue). */
export function embeddedSctList(certDer: Buffer): Buffer | undefined {
  const ext = AsnConvert.parse(certDer, Certificate).tbsCertificate.extensions?.find((e) => e.extnID === SCT_LIST_OID);
  return ext ? Buffer.from(AsnConvert.parse(ext.extnValue.buffer, OctetString).buffer) : undefined;
}

/** Verifies every embedded SCT against `log` (RFC 6962 3.2, the PreCert entry rebuilt from the final TBS). */
export function verifyEmbeddedScts(finalDer: Buffer, issuerDer: Buffer, log: Signer): boolean {
  const list = embeddedSctList(finalDer);
  if (!list) return false;
  const { tbs } = tbsWithout(finalDer, SCT_LIST_OID);
  const scts = parseSctList(list);
  return scts.length > 0 && scts.every((sct) => {
    const data = sctSignedData(sct.timestamp, { type: ENTRY_TYPE_PRECERT, issuerKeyHash: spkiHash(issuerDer), tbsCertificate: tbs }, sct.extensions);
    return sct.logId.equals(log.keyId) && verify('sha256', data, log.publicKey, sct.signature);
  });
}

export interface ServedCa {
  url: string;
  ca: CertificateAuthority;
  config: IssuerConfig;
  ctLog: HonestCtLog;
  rootDer: Buffer;
  intermediateDer: Buffer;
  close(): Promise<void>;
}

/** A CA with a fresh hierarchy and the given issuer configuration, served with the real middleware. */
export async function serveCa(configJson: unknown, verifierOptions: TokenVerifierOptions = {}): Promise<ServedCa> {
  const rootSigner = generateSigner();
  const intermediateSigner = generateSigner();
  const { rootDer, intermediateDer } = createCaHierarchy({ rootSigner, intermediateSigner, organization: 'sigstack-test' });
  const config = parseIssuerConfig(JSON.stringify(configJson), 'test-config.json');
  const ctLog = new HonestCtLog(rootDer);
  const ca = new CertificateAuthority({
    tokens: new TokenVerifier(config, verifierOptions),
    issuerConfig: config,
    intermediate: { signer: intermediateSigner, certDer: intermediateDer },
    chainDer: [intermediateDer, rootDer],
    sctSource: ctLog,
  });
  const server: TestServer = await serveRouters(caRouter(ca, { chainPem: ca.trustChainPem, issuerConfig: config }));
  return { url: server.url, ca, config, ctLog, rootDer, intermediateDer, close: server.close };
}

/** A served CA trusting one real OIDC issuer of type email (ClientID sigstore), and that issuer. */
export async function serveEmailCa(): Promise<{ idp: OidcIssuer; ca: ServedCa; close(): Promise<void> }> {
  const idp = await startOidcIssuer();
  const ca = await serveCa({ OIDCIssuers: { [idp.issuer]: { IssuerURL: idp.issuer, ClientID: 'sigstore', Type: 'email' } } });
  return { idp, ca, close: async () => { await ca.close(); await idp.close(); } };
}
