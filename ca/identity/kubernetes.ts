import { renderFulcioExtensions } from '../extensions.ts';
import type { VerifiedToken } from '../token.ts';
import { identityError, requireAscii, stringClaim } from './claims.ts';
import type { Principal } from './index.ts';

/**
 * Kubernetes service-account tokens (a cluster's issuer, e.g. EKS/GKE per-cluster issuers as MetaIssuers).
 * Mirrors Fulcio's pkg/identity/kubernetes: SAN `https://kubernetes.io/namespaces/{ns}/serviceaccounts/{sa}` from
 * the `kubernetes.io` claim. Stricter than upstream in one way: an absent namespace or service account, or one
 * that is not a Kubernetes DNS label, is refused rather than certified as an empty path segment.
 */
const DNS_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

export function kubernetesPrincipal(token: VerifiedToken): Principal {
  const k8s = token.claims['kubernetes.io'];
  if (typeof k8s !== 'object' || k8s === null || Array.isArray(k8s)) throw identityError('missing kubernetes.io claim in ID token');
  const { namespace, serviceaccount } = k8s as Record<string, unknown>;
  const sa = typeof serviceaccount === 'object' && serviceaccount !== null ? (serviceaccount as Record<string, unknown>).name : undefined;
  if (typeof namespace !== 'string' || !DNS_NAME.test(namespace)) throw identityError('kubernetes.io.namespace claim must be a Kubernetes name');
  if (typeof sa !== 'string' || !DNS_NAME.test(sa)) throw identityError('kubernetes.io.serviceaccount.name claim must be a Kubernetes name');
  const subject = stringClaim(token, 'sub') ?? '';
  return {
    name: subject,
    san: { type: 'uri', value: requireAscii(`https://kubernetes.io/namespaces/${namespace}/serviceaccounts/${sa}`, 'service account URI') },
    extensions: renderFulcioExtensions({ issuer: token.issuer, tokenSubject: subject }),
  };
}
