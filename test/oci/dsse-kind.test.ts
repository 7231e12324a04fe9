/**
 * The dsse v0.0.1 Rekor kind: canonical body as upstream (only the computed fields, signatures sorted), every
 * envelope signature verified, null/empty inputs refused as 400s (GHSA-frqx-jfcm-6jjr, GHSA-273p-m2cw-6833),
 * and the stock sigstore-js signer + verifier as the oracle over HTTP against the stack.
 */
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import test from 'ava';
import { bundleFromJSON, bundleToJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { DSSEBundleBuilder, FulcioSigner, RekorWitness } from '@sigstore/sign';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import { BadRequestError } from '../../core/errors.ts';
import { derToPem } from '../../core/pem.ts';
import { preAuthEncoding } from '../../log/kinds/dsse-signature.ts';
import { canonicalizeProposedEntry } from '../../log/kinds/index.ts';
import { startStack, TEST_EMAIL } from '../helpers/stack.ts';

const keys = [generateKeyPairSync('ec', { namedCurve: 'P-256' }), generateKeyPairSync('ec', { namedCurve: 'P-256' })];
const pemB64 = (i: number) => Buffer.from(derToPem(keys[i]!.publicKey.export({ type: 'spki', format: 'der' }), 'PUBLIC KEY')).toString('base64');
const payload = Buffer.from('{"_type":"https://in-toto.io/Statement/v1"}');
const TYPE = 'application/vnd.in-toto+json';
const sig = (i: number, p = payload) => sign('sha256', preAuthEncoding(TYPE, p), keys[i]!.privateKey).toString('base64');
const entry = (envelope: unknown, verifiers: unknown = [pemB64(0)]) => ({
  apiVersion: '0.0.1', kind: 'dsse', spec: { proposedContent: { envelope: typeof envelope === 'string' ? envelope : JSON.stringify(envelope), verifiers } },
});
const env = (sigs: unknown = [{ keyid: '', sig: sig(0) }], p = payload.toString('base64')) => ({ payloadType: TYPE, payload: p, signatures: sigs });

test('canonical body keeps exactly the computed fields, signatures sorted', (t) => {
  const s0 = sig(0);
  const s1 = sig(1);
  const envelope = JSON.stringify(env([{ sig: s1 }, { sig: s0 }]));
  const body = JSON.parse(canonicalizeProposedEntry(entry(envelope, [pemB64(0), pemB64(1)])).toString());
  t.deepEqual(Object.keys(body.spec), ['envelopeHash', 'payloadHash', 'signatures']);
  t.is(body.kind, 'dsse');
  t.is(body.spec.envelopeHash.value, createHash('sha256').update(envelope).digest('hex'));
  t.is(body.spec.payloadHash.value, createHash('sha256').update(payload).digest('hex'));
  const sorted = [s0, s1].sort();
  t.deepEqual(body.spec.signatures.map((x: { signature: string }) => x.signature), sorted);
  t.deepEqual(Object.keys(body.spec.signatures[0]), ['signature', 'verifier']);
});

test('every signature must verify; null and empty fields are 400s (GHSA-frqx-jfcm-6jjr, GHSA-273p-m2cw-6833)', (t) => {
  const bad = (e: unknown, message?: RegExp) => t.throws(() => canonicalizeProposedEntry(e), message ? { instanceOf: BadRequestError, message } : { instanceOf: BadRequestError });
  bad(entry(env([{ sig: sig(0) }, { sig: sig(1) }])), /no verifier verifies/);
  bad(entry(env([{ sig: sig(0, Buffer.from('other')) }])), /no verifier verifies/);
  bad(entry(env(null)));
  bad(entry(env([])));
  bad(entry(env([null])));
  bad(entry(env(), [null]));
  bad(entry(env(), []));
  bad(entry(env(), null));
  bad(entry(env(undefined, '')));
  bad(entry(''));
  bad(entry('null'));
  bad(entry('{'));
  bad({ apiVersion: '0.0.1', kind: 'dsse', spec: { proposedContent: null } });
  bad({ apiVersion: '0.0.1', kind: 'dsse', spec: {} });
  bad({ apiVersion: '0.0.1', kind: 'dsse', spec: { proposedContent: { envelope: JSON.stringify(env()), verifiers: [pemB64(0)] }, payloadHash: { algorithm: 'sha256', value: '00' } } });
});

test('oracle: sigstore-js signs a DSSE bundle against the stack (dsse entry) and its verifier accepts our log\'s entry', async (t) => {
  const stack = await startStack();
  try {
    const token = await stack.mintToken();
    const builder = new DSSEBundleBuilder({
      signer: new FulcioSigner({ fulcioBaseURL: stack.url, identityProvider: { getToken: async () => token } }),
      witnesses: [new RekorWitness({ rekorBaseURL: stack.url, entryType: 'dsse' })],
    });
    const bundle = bundleToJSON(await builder.create({ data: payload, type: TYPE }));
    const e = (bundle.verificationMaterial as unknown as { tlogEntries: { kindVersion: { kind: string } }[] }).tlogEntries[0]!;
    t.is(e.kindVersion.kind, 'dsse');
    const stock = new Verifier(toTrustMaterial(TrustedRoot.fromJSON(stack.trustedRoot)), { ctlogThreshold: 1, tlogThreshold: 1 });
    const signer = stock.verify(toSignedEntity(bundleFromJSON(bundle)), { subjectAlternativeName: TEST_EMAIL, extensions: { issuer: stack.issuer } });
    t.is(signer.identity?.subjectAlternativeName, TEST_EMAIL);
  } finally {
    await stack.close();
  }
});
