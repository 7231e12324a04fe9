import Router from '@koa/router';
import '../core/koa-augment.ts';
import type { CertificateIssuer } from './issue.ts';
import type { IssuerConfig, IssuerSettings } from './issuers.ts';
import { legacyToV2Request } from './request.ts';

/**
 * Fulcio's REST API: v2 as grpc-gateway serves it (camelCase JSON, every scalar field emitted, 200), plus the
 * legacy v1 endpoints cosign 2.x still calls (201 and a PEM chain). Errors are thrown and rendered by
 * services/errors.ts.
 */

const PEM_CHAIN = 'application/pem-certificate-chain';

function bearerToken(header: string): string | undefined {
  const m = /^Bearer\s+(.+)$/i.exec(header.trim());
  return m ? m[1] : undefined;
}

/** protojson of fulcio.v2.OIDCIssuer with EmitUnpopulated: every scalar present, the oneof only when set. */
function issuerJson(issuer: { issuerUrl: string } | { wildcardIssuerUrl: string }, s: IssuerSettings): Record<string, unknown> {
  return {
    ...issuer,
    audience: s.clientId,
    challengeClaim: s.challengeClaim,
    spiffeTrustDomain: s.spiffeTrustDomain ?? '',
    issuerType: s.type,
    subjectDomain: s.subjectDomain ?? '',
    skipEmailVerification: s.skipEmailVerification,
  };
}

export function configurationJson(config: IssuerConfig): { issuers: Record<string, unknown>[] } {
  return {
    issuers: [
      ...[...config.issuers.values()].map((s) => issuerJson({ issuerUrl: s.issuerUrl }, s)),
      ...config.metaIssuers.map((m) => issuerJson({ wildcardIssuerUrl: m.pattern }, m.settings)),
    ],
  };
}

/** Fulcio's legacy servers join PEMs with a newline each and trim the result. */
function legacyPemChain(pems: string[]): string {
  return pems.map((p) => `${p}\n`).join('').trim();
}

export function caRouter(ca: CertificateIssuer, info: { chainPem: string[]; issuerConfig: IssuerConfig }): Router {
  const router = new Router();
  const trustBundle = { chains: [{ certificates: info.chainPem }] };
  const configuration = configurationJson(info.issuerConfig);

  router.post('/api/v2/signingCert', async (ctx) => {
    const { chainPem, issuer, issuerType } = await ca.issue(ctx.request.body, bearerToken(ctx.get('authorization')));
    ctx.state.issued = { issuer, issuerType };
    ctx.status = 200;
    ctx.body = { signedCertificateEmbeddedSct: { chain: { certificates: chainPem } } };
  });

  router.get('/api/v2/trustBundle', (ctx) => {
    ctx.body = trustBundle;
  });

  router.get('/api/v2/configuration', (ctx) => {
    ctx.body = configuration;
  });

  router.post('/api/v1/signingCert', async (ctx) => {
    const token = bearerToken(ctx.get('authorization'));
    const { chainPem, issuer, issuerType } = await ca.issue(legacyToV2Request(ctx.request.body), token);
    ctx.state.issued = { issuer, issuerType };
    ctx.status = 201;
    ctx.type = PEM_CHAIN;
    ctx.body = legacyPemChain(chainPem);
  });

  router.get('/api/v1/rootCert', (ctx) => {
    ctx.type = PEM_CHAIN;
    ctx.body = legacyPemChain(info.chainPem);
  });

  return router;
}
