import test from 'ava';
import { createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { FulcioSigner } from '@sigstore/sign';
import { X509Certificate as SigstoreX509 } from '@sigstore/core';
import { verifyCertificateChain } from '@sigstore/verify/dist/key/certificate.js';
import { verifySCTs } from '@sigstore/verify/dist/key/sct.js';
import { startOidcIssuer, type OidcIssuer } from '../helpers/oidc.ts';
import { serveCa, type ServedCa } from './fixtures.ts';

/**
 * Oracles: sigstore-js's own Fulcio client requests certificates from our served router, and sigstore-js's
 * verifier checks the chain and the embedded SCT the way `sigstore verify` will.
 */

let mail: OidcIssuer;
let gh: OidcIssuer;
let ca: ServedCa;

test.before(async () => {
  [mail, gh] = await Promise.all([startOidcIssuer(), startOidcIssuer()]);
  ca = await serveCa({
    OIDCIssuers: {
      [mail.issuer]: { IssuerURL: mail.issuer, ClientID: 'sigstore', Type: 'email' },
      [gh.issuer]: { IssuerURL: gh.issuer, ClientID: 'sigstore', Type: 'github-workflow' },
    },
  });
});
test.after.always(async () => {
  await ca?.close();
  await Promise.all([mail, gh].map((i) => i?.close()));
});

function sigstoreVerify(t: any, certPem: string, data: Buffer, signature: Buffer) {
  const leaf = SigstoreX509.parse(certPem);
  const intermediate = SigstoreX509.parse(ca.ca.trustChainPem[0]!);
  const root = SigstoreX509.parse(ca.ca.trustChainPem[1]!);
  const validFor = { start: new Date(0), end: new Date(8.64e15) };
  const path = verifyCertificateChain(new Date(), leaf, [{ certChain: [intermediate, root], validFor }]);
  t.is(path.length, 3);
  const logIds = verifySCTs(leaf, intermediate, [{ logID: ca.ctLog.signer.keyId, publicKey: ca.ctLog.signer.publicKey, baseURL: 'http://ct.test', validFor }]);
  t.deepEqual(logIds, [ca.ctLog.signer.keyId]);
  t.true(cryptoVerify('sha256', data, createPublicKey({ key: leaf.publicKey, format: 'der', type: 'spki' }), signature));
  t.true(leaf.verify(intermediate));
  return leaf;
}

test('@sigstore/sign FulcioSigner gets an email certificate that @sigstore/verify accepts', async (t) => {
  const token = await mail.mint({ sub: 'uid-7', email: 'dev@example.com', email_verified: true });
  const signer = new FulcioSigner({ fulcioBaseURL: ca.url, identityProvider: { getToken: async () => token } });
  const data = Buffer.from('artifact bytes');
  const sig = await signer.sign(data);
  t.is(sig.key.$case, 'x509Certificate');
  const leaf = sigstoreVerify(t, (sig.key as { certificate: string }).certificate, data, sig.signature);
  t.is(leaf.subjectAltName, 'dev@example.com');
  t.deepEqual(leaf.extension('1.3.6.1.4.1.57264.1.1')?.value, Buffer.from(mail.issuer));
});

test('@sigstore/sign signs `sub` for a workflow token (no email claim) and gets a workflow certificate', async (t) => {
  const claims = {
    sub: 'repo:o/r:ref:refs/heads/main', job_workflow_ref: 'o/r/.github/workflows/ci.yml@refs/heads/main', job_workflow_sha: 'f'.repeat(40),
    sha: 'e'.repeat(40), event_name: 'push', repository: 'o/r', workflow: 'CI', ref: 'refs/heads/main', runner_environment: 'github-hosted',
    repository_id: '1', repository_owner: 'o', repository_owner_id: '2', repository_visibility: 'public',
    workflow_ref: 'o/r/.github/workflows/ci.yml@refs/heads/main', workflow_sha: 'd'.repeat(40), run_id: '3', run_attempt: '1',
  };
  const token = await gh.mint(claims);
  const signer = new FulcioSigner({ fulcioBaseURL: ca.url, identityProvider: { getToken: async () => token } });
  const data = Buffer.from('release tarball');
  const sig = await signer.sign(data);
  const leaf = sigstoreVerify(t, (sig.key as { certificate: string }).certificate, data, sig.signature);
  t.is(leaf.subjectAltName, 'https://github.com/o/r/.github/workflows/ci.yml@refs/heads/main');
});

test('@sigstore/sign reports our refusal of a bad token as an error carrying the HTTP status', async (t) => {
  const token = await mail.mint({ email: 'dev@example.com', email_verified: true, aud: 'elsewhere' });
  const signer = new FulcioSigner({ fulcioBaseURL: ca.url, identityProvider: { getToken: async () => token } });
  const err = await t.throwsAsync(signer.sign(Buffer.from('x')));
  const cause = (err as { cause?: { statusCode?: number; message?: string } }).cause;
  t.is(cause?.statusCode, 400);
  t.regex(String(cause?.message), /aud/);
});
