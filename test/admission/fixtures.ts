/**
 * AdmissionReview requests shaped as the API server sends them (admission.k8s.io/v1, after the example in the
 * Kubernetes documentation "Dynamic Admission Control": uid, kind/resource/requestKind, userInfo, object,
 * oldObject, dryRun, options), and a self-signed TLS certificate for the webhook.
 */
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

let n = 0;

export function review(kind: string, object: Record<string, unknown>, opts: { namespace?: string; operation?: string } = {}): Record<string, unknown> {
  const group = kind === 'Pod' ? '' : kind === 'CronJob' || kind === 'Job' ? 'batch' : 'apps';
  const resource = `${kind.toLowerCase()}s`;
  const gvk = { group, version: 'v1', kind };
  const gvr = { group, version: 'v1', resource };
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: `705ab4f5-6393-11e8-b7cc-42010a8${String(n++).padStart(5, '0')}`,
      kind: gvk, resource: gvr, requestKind: gvk, requestResource: gvr,
      name: (object.metadata as { name?: string })?.name ?? 'x',
      namespace: opts.namespace ?? 'prod',
      operation: opts.operation ?? 'CREATE',
      userInfo: { username: 'admin', uid: '014fbff9a07c', groups: ['system:authenticated', 'my-admin-group'], extra: { 'some-key': ['some-value1'] } },
      object: opts.operation === 'DELETE' ? null : object,
      oldObject: opts.operation === 'DELETE' ? object : null,
      dryRun: false,
      options: { apiVersion: 'meta.k8s.io/v1', kind: opts.operation === 'DELETE' ? 'DeleteOptions' : 'CreateOptions' },
    },
  };
}

export function podSpec(containers: string[], initContainers: string[] = [], ephemeral: string[] = []): Record<string, unknown> {
  const list = (images: string[], prefix: string) => images.map((image, i) => ({ name: `${prefix}${i}`, image, imagePullPolicy: 'IfNotPresent' }));
  return {
    containers: list(containers, 'app'),
    ...(initContainers.length ? { initContainers: list(initContainers, 'init') } : {}),
    ...(ephemeral.length ? { ephemeralContainers: list(ephemeral, 'debug') } : {}),
    restartPolicy: 'Always',
  };
}

export function pod(spec: Record<string, unknown>, annotations: Record<string, string> = {}): Record<string, unknown> {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'my-pod', namespace: 'prod', annotations }, spec };
}

export function deployment(spec: Record<string, unknown>): Record<string, unknown> {
  return { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' }, spec: { replicas: 2, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec } } };
}

export function cronJob(spec: Record<string, unknown>): Record<string, unknown> {
  return { apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'nightly' }, spec: { schedule: '0 1 * * *', jobTemplate: { spec: { template: { spec: { ...spec, restartPolicy: 'OnFailure' } } } } } };
}

export async function selfSignedTls(): Promise<{ cert: string; key: string }> {
  x509.cryptoProvider.set(webcrypto as unknown as Crypto);
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '02', name: 'CN=sigstack-admission.sigstack.svc', notBefore: new Date(Date.now() - 3600_000), notAfter: new Date(Date.now() + 86400_000),
    signingAlgorithm: alg, keys, extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'ip', value: '127.0.0.1' }, { type: 'dns', value: 'sigstack-admission.sigstack.svc' }])],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)).toString('base64').replace(/(.{64})/g, '$1\n');
  return { cert: cert.toString('pem'), key: `-----BEGIN PRIVATE KEY-----\n${pkcs8}\n-----END PRIVATE KEY-----\n` };
}
