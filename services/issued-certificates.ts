import type Koa from 'koa';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate, DirectoryString } from '@peculiar/asn1-x509';
import type { StackMetrics } from './metrics.ts';

const OID_ISSUER_V2 = '1.3.6.1.4.1.57264.1.8';
const OID_ISSUER_V1 = '1.3.6.1.4.1.57264.1.1';

/**
 * Counts the certificates the CA issues by reading its successful responses (Fulcio v2 JSON, or the legacy
 * v1 PEM chain): the CA core stays free of metrics, and what is counted is exactly what left the server.
 * `issuerType` maps an OIDC issuer URL to its configured type (email, uri, github-workflow ...).
 */
export function issuedCertificatesMiddleware(metrics: StackMetrics, issuerType: (issuer: string) => string): Koa.Middleware {
  return async (ctx, next) => {
    await next();
    if (ctx.method !== 'POST' || ctx.status >= 300) return;
    if (ctx.path !== '/api/v2/signingCert' && ctx.path !== '/api/v1/signingCert') return;
    const leafPem = firstPem(ctx.body);
    if (!leafPem) return;
    let issuer = 'unknown';
    try {
      issuer = oidcIssuerOf(pemToDer(leafPem)) ?? 'unknown';
    } catch {
      // our own CA wrote it; an unreadable certificate is still an issued one
    }
    metrics.certificatesIssued.inc({ issuer, type: issuer === 'unknown' ? 'unknown' : issuerType(issuer) });
  };
}

function firstPem(body: unknown): string | undefined {
  let text: string | undefined;
  if (typeof body === 'string') text = body;
  else if (body && typeof body === 'object') {
    const b = body as Record<string, { chain?: { certificates?: unknown[] } } | undefined>;
    const first = (b.signedCertificateEmbeddedSct ?? b.signedCertificateDetachedSct)?.chain?.certificates?.[0];
    if (typeof first === 'string') text = first;
  }
  return text ? /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(text)?.[0] : undefined;
}

function pemToDer(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----(BEGIN|END) CERTIFICATE-----|\s+/g, ''), 'base64');
}

/** The OIDC issuer extension: DER UTF8String in .1.8, the raw string in the deprecated .1.1. */
function oidcIssuerOf(der: Buffer): string | undefined {
  const extensions = AsnConvert.parse(der, Certificate).tbsCertificate.extensions ?? [];
  const v2 = extensions.find((e) => e.extnID === OID_ISSUER_V2);
  if (v2) return AsnConvert.parse(v2.extnValue.buffer, DirectoryString).utf8String;
  const v1 = extensions.find((e) => e.extnID === OID_ISSUER_V1);
  return v1 ? Buffer.from(v1.extnValue.buffer).toString('utf8') : undefined;
}
