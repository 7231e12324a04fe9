/**
 * GHSA-whqx-f9j3-ch6m in the OCI layouts: a valid log entry vouches only for the payload, signature and
 * certificate it logged. Two signers sign (or attest) the same image, then the certificate or the tlog entry is
 * swapped between their signatures in the registry: every layout refuses it with TLOG_BODY, naming the field.
 * The sharpest case is a second certificate for the SAME key (the signature verifies with it, its chain, SCT and
 * identity are valid) that was never logged: only the certificate binding refuses it.
 * Layouts: the `.sig` and `.att` tags (client/verify/cosign.ts, dsse.ts) and OCI 1.1 referrers holding Sigstore
 * bundles, message signature (tlog-body.ts) and DSSE (dsse-bundle.ts, through dsse.ts bindEnvelope).
 */
import { createHash } from 'node:crypto';
import test, { type ExecutionContext } from 'ava';
import type { SerializedBundle } from '@sigstore/bundle';
import { attestImage, verifyImageAttestations } from '../../client/oci/attest.ts';
import { buildDsseBundle } from '../../client/oci/attest-bundle.ts';
import {
  ANNOTATION_BUNDLE, ANNOTATION_CERTIFICATE, ANNOTATION_PREDICATE_TYPE, ANNOTATION_SIGNATURE, attachmentLayers, attachmentTag, DSSE_MEDIA_TYPE,
  signatureConfig, signatureManifest, SIMPLE_SIGNING_MEDIA_TYPE, simpleSigningPayload, type Descriptor,
} from '../../client/oci/cosign-layout.ts';
import { attachBundle } from '../../client/oci/referrers.ts';
import { OCI_INDEX, OCI_MANIFEST, parseJson, RegistryClient } from '../../client/oci/registry.ts';
import { IN_TOTO_PAYLOAD_TYPE, signDsse, type SignedDsse } from '../../client/oci/sign-dsse.ts';
import { appendAttachment, signImage } from '../../client/oci/sign-image.ts';
import { ImageVerificationError, verifyImage } from '../../client/oci/verify-image.ts';
import { bundleOfLoggedEntry, checkLogResponse, postJson, requestSigningCertificate, signArtifact, type LoggedEntry } from '../../client/sign.ts';
import { verifyCosignSignature } from '../../client/verify/cosign.ts';
import { preAuthEncoding, verifyDsseAttestation } from '../../client/verify/dsse.ts';
import { verifyDsseBundle } from '../../client/verify/dsse-bundle.ts';
import { createVerifier } from '../../client/verify/index.ts';
import { derToPem } from '../../core/pem.ts';
import { generateSigner, type Signer } from '../../core/signer.ts';
import { dsseBody, readDsseSpec } from '../../log/kinds/dsse.ts';
import { refuses } from '../client/pki-fixture.ts';
import { startStack, TEST_EMAIL, type TestStack } from '../helpers/stack.ts';
import { pushRandomImage, startRegistry, type TestRegistry } from './registry-helper.ts';

const BOB = 'bob@example.com';
const SLSA = 'https://slsa.dev/provenance/v0.2';
let stack: TestStack;
let registry: TestRegistry;
let client: RegistryClient;

test.before(async () => {
  [stack, registry] = await Promise.all([startStack(), startRegistry()]);
  client = new RegistryClient({ registry: registry.host });
});
test.after.always(async () => {
  await stack?.close();
  await registry?.close();
});

const token = (email: string) => stack.mintToken({ email, sub: email });
const policyOf = (identity: string) => ({ identity, issuer: stack.issuer });
const verifier = () => createVerifier(stack.trustedRoot);
const urls = () => ({ fulcioUrl: stack.url, rekorUrl: stack.url });
const b64 = (b: Buffer) => b.toString('base64');
const setBundle = (e: LoggedEntry) => JSON.stringify({ SignedEntryTimestamp: b64(e.set), Payload: { body: b64(e.body), integratedTime: e.integratedTime, logIndex: e.logIndex, logID: e.logId.toString('hex') } });

/** The image is refused as a whole, every candidate for the reason `why` (its stable code is in the message). */
async function refusedImage(t: ExecutionContext, p: Promise<unknown>, why: RegExp): Promise<void> {
  const err = await t.throwsAsync(p, { instanceOf: ImageVerificationError });
  if (!err) return;
  t.is((err as ImageVerificationError).reason, 'invalid', err.message);
  t.regex(err.message, why);
}

async function layers(repo: string, digest: string, kind: 'sig' | 'att'): Promise<Descriptor[]> {
  return attachmentLayers(parseJson((await client.getManifest(repo, attachmentTag(digest, kind)))!.bytes, 'm'));
}

/** Rewrites the `.sig`/`.att` manifest with these layers only. */
async function putLayers(repo: string, digest: string, kind: 'sig' | 'att', ls: Descriptor[]): Promise<void> {
  const config = signatureConfig(ls);
  await client.pushBlob(repo, config);
  await client.putManifest(repo, attachmentTag(digest, kind), signatureManifest(config, ls), OCI_MANIFEST);
}

const withAnnotations = (l: Descriptor, from: Descriptor, keys: string[]): Descriptor =>
  ({ ...l, annotations: { ...l.annotations!, ...Object.fromEntries(keys.map((k) => [k, from.annotations![k]!])) } });

/** Makes the fallback referrers index of the image list nothing, so the next attachBundle calls are all it holds. */
async function clearReferrers(repo: string, digest: string): Promise<void> {
  await client.putManifest(repo, digest.replace(':', '-'), Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] })), OCI_INDEX);
}

test('.sig: a certificate or tlog entry swapped between two signatures of the same image is refused (TLOG_BODY)', async (t) => {
  const repo = 'swap/sig';
  const digest = await pushRandomImage(client, repo, 'v1');
  const image = `${registry.host}/${repo}:v1`;
  await signImage({ image, identityToken: await token(TEST_EMAIL), ...urls() });
  await signImage({ image, identityToken: await token(BOB), ...urls() });
  const [alice, bob] = await layers(repo, digest, 'sig');
  t.is(alice!.digest, bob!.digest, 'one payload, two signers');
  for (const id of [TEST_EMAIL, BOB]) t.is((await verifyImage({ image, verifier: verifier(), policy: policyOf(id) })).signatures[0]!.identity, id);

  // Certificates swapped: each entry still matches its payload and signature, but names the other certificate.
  await putLayers(repo, digest, 'sig', [withAnnotations(alice!, bob!, [ANNOTATION_CERTIFICATE]), withAnnotations(bob!, alice!, [ANNOTATION_CERTIFICATE])]);
  for (const id of [TEST_EMAIL, BOB]) {
    await refusedImage(t, verifyImage({ image, verifier: verifier(), policy: policyOf(id) }), /^no valid signatures: \[TLOG_BODY\] tlog entry body: the logged certificate is not this certificate; \[TLOG_BODY\]/);
  }
  const payload = await client.getBlob(repo, alice!.digest, 4096);
  const sig = (l: Descriptor, cert: Descriptor, entry: Descriptor) => ({ payload, signature: l.annotations![ANNOTATION_SIGNATURE]!, certificate: cert.annotations![ANNOTATION_CERTIFICATE]!, bundle: entry.annotations![ANNOTATION_BUNDLE]! });
  t.is(verifyCosignSignature(verifier().trust, sig(alice!, alice!, alice!), policyOf(TEST_EMAIL)).identity, TEST_EMAIL);
  refuses(t, () => verifyCosignSignature(verifier().trust, sig(alice!, bob!, alice!), policyOf(BOB)), 'TLOG_BODY', /the logged certificate is not this certificate/);
  refuses(t, () => verifyCosignSignature(verifier().trust, sig(bob!, alice!, bob!), policyOf(TEST_EMAIL)), 'TLOG_BODY', /the logged certificate is not this certificate/);

  // Tlog entries swapped (alone, or with the certificate: the other signer's entry vouching for this signature).
  await putLayers(repo, digest, 'sig', [withAnnotations(alice!, bob!, [ANNOTATION_BUNDLE]), withAnnotations(bob!, alice!, [ANNOTATION_BUNDLE, ANNOTATION_CERTIFICATE])]);
  await refusedImage(t, verifyImage({ image, verifier: verifier(), policy: policyOf(BOB) }), /\[TLOG_BODY\] tlog entry body: the logged signature is not this signature; \[TLOG_BODY\] tlog entry body: the logged signature is not this signature/);
  refuses(t, () => verifyCosignSignature(verifier().trust, sig(alice!, alice!, bob!), policyOf(TEST_EMAIL)), 'TLOG_BODY', /the logged signature is not this signature/);
  refuses(t, () => verifyCosignSignature(verifier().trust, sig(alice!, bob!, bob!), policyOf(BOB)), 'TLOG_BODY', /the logged signature is not this signature/);
});

test('.att: a certificate or tlog entry swapped between two attestations of the same image is refused (TLOG_BODY)', async (t) => {
  const repo = 'swap/att';
  const digest = await pushRandomImage(client, repo, 'v1');
  const image = `${registry.host}/${repo}:v1`;
  for (const id of [TEST_EMAIL, BOB]) await attestImage({ image, predicate: { builder: { id: 'ci' } }, type: 'slsaprovenance', identityToken: await token(id), ...urls() });
  const [alice, bob] = await layers(repo, digest, 'att');
  const trust = verifier().trust;
  const verifyAs = (id: string) => verifyImageAttestations({ image, type: 'slsaprovenance', trust, policy: policyOf(id) });
  for (const id of [TEST_EMAIL, BOB]) t.is((await verifyAs(id)).attestations[0]!.identity, id);

  await putLayers(repo, digest, 'att', [withAnnotations(alice!, bob!, [ANNOTATION_CERTIFICATE]), withAnnotations(bob!, alice!, [ANNOTATION_CERTIFICATE])]);
  for (const id of [TEST_EMAIL, BOB]) {
    await refusedImage(t, verifyAs(id), /^no valid attestations: \[TLOG_BODY\] tlog entry body: the logged verifier is not this certificate; \[TLOG_BODY\]/);
  }
  const att = async (l: Descriptor, cert: Descriptor, entry: Descriptor) => ({
    envelope: await client.getBlob(repo, l.digest, 1 << 20), certificate: cert.annotations![ANNOTATION_CERTIFICATE]!, bundle: entry.annotations![ANNOTATION_BUNDLE]!,
  });
  const expect = { sha256: digest.slice(7), predicateType: SLSA };
  t.is(verifyDsseAttestation(trust, await att(bob!, bob!, bob!), expect, policyOf(BOB)).identity, BOB);
  const certSwapped = await att(alice!, bob!, alice!);
  refuses(t, () => verifyDsseAttestation(trust, certSwapped, expect, policyOf(BOB)), 'TLOG_BODY', /the logged verifier is not this certificate/);
  const entrySwapped = await att(alice!, bob!, bob!);
  refuses(t, () => verifyDsseAttestation(trust, entrySwapped, expect, policyOf(BOB)), 'TLOG_BODY', /the logged envelope hash is not this envelope's/);
  await putLayers(repo, digest, 'att', [withAnnotations(alice!, bob!, [ANNOTATION_BUNDLE, ANNOTATION_CERTIFICATE])]);
  await refusedImage(t, verifyAs(BOB), /\[TLOG_BODY\] tlog entry body: the logged envelope hash is not this envelope's/);
});

/** Swaps `verificationMaterial.certificate` (or the tlog entries) between two v0.3 bundles. */
function swap(a: SerializedBundle, b: SerializedBundle, what: 'certificate' | 'tlogEntries'): [Buffer, Buffer] {
  const move = (x: SerializedBundle, y: SerializedBundle) => Buffer.from(JSON.stringify({ ...x, verificationMaterial: { ...x.verificationMaterial, [what]: (y.verificationMaterial as Record<string, unknown>)[what] } }));
  return [move(a, b), move(b, a)];
}

test('referrers: a certificate or tlog entry swapped between two Sigstore bundles of the same image is refused (TLOG_BODY)', async (t) => {
  const repo = 'swap/ref';
  const digest = await pushRandomImage(client, repo, 'v1');
  const image = `${registry.host}/${repo}:v1`;
  const subject = (await client.getManifest(repo, digest))!;
  const [alice, bob] = [await signArtifact({ artifact: subject.bytes, identityToken: await token(TEST_EMAIL), ...urls() }), await signArtifact({ artifact: subject.bytes, identityToken: await token(BOB), ...urls() })];
  const attach = async (bundles: Buffer[]) => {
    await clearReferrers(repo, digest);
    for (const b of bundles) await attachBundle(client, repo, subject, b, { 'dev.sigstore.bundle.content': 'message-signature' });
  };
  await attach([Buffer.from(JSON.stringify(alice)), Buffer.from(JSON.stringify(bob))]);
  for (const id of [TEST_EMAIL, BOB]) t.is((await verifyImage({ image, verifier: verifier(), policy: policyOf(id) })).signatures[0]!.identity, id);

  const certSwapped = swap(alice, bob, 'certificate');
  await attach(certSwapped);
  for (const id of [TEST_EMAIL, BOB]) {
    await refusedImage(t, verifyImage({ image, verifier: verifier(), policy: policyOf(id) }), /^no valid signatures: \[TLOG_BODY\] tlog entry body: the logged certificate is not the bundle certificate; \[TLOG_BODY\]/);
  }
  refuses(t, () => verifier().verify({ artifact: subject.bytes, bundle: certSwapped[0], policy: policyOf(BOB) }), 'TLOG_BODY', /the logged certificate is not the bundle certificate/);
  const entrySwapped = swap(alice, bob, 'tlogEntries');
  await attach(entrySwapped);
  await refusedImage(t, verifyImage({ image, verifier: verifier(), policy: policyOf(TEST_EMAIL) }), /\[TLOG_BODY\] tlog entry body: the logged signature is not the bundle signature/);
  refuses(t, () => verifier().verify({ artifact: subject.bytes, bundle: entrySwapped[0], policy: policyOf(TEST_EMAIL) }), 'TLOG_BODY', /the logged signature is not the bundle signature/);
});

test('referrers: a certificate swapped between two DSSE attestation bundles of the same image is refused (TLOG_BODY)', async (t) => {
  const repo = 'swap/refatt';
  const digest = await pushRandomImage(client, repo, 'v1');
  const image = `${registry.host}/${repo}:v1`;
  const subject = (await client.getManifest(repo, digest))!;
  const payload = Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', subject: [{ name: 'app', digest: { sha256: digest.slice(7) } }], predicateType: SLSA, predicate: {} }));
  const bundleBy = async (id: string) => buildDsseBundle(await signDsse({ payload, payloadType: IN_TOTO_PAYLOAD_TYPE, identityToken: await token(id), ...urls() }));
  const [alice, bob] = [await bundleBy(TEST_EMAIL), await bundleBy(BOB)];
  const trust = verifier().trust;
  const expect = { sha256: digest.slice(7), predicateType: SLSA };
  t.is(verifyDsseBundle(trust, Buffer.from(JSON.stringify(bob)), expect, policyOf(BOB)).identity, BOB);
  const certSwapped = swap(alice, bob, 'certificate');
  for (const b of certSwapped) await attachBundle(client, repo, subject, b, { 'dev.sigstore.bundle.content': 'dsse-envelope' });
  for (const id of [TEST_EMAIL, BOB]) {
    await refusedImage(t, verifyImageAttestations({ image, type: 'slsaprovenance', trust, policy: policyOf(id) }),
      /^no valid attestations: \[TLOG_BODY\] tlog entry body: the logged verifier is not this certificate; \[TLOG_BODY\]/);
  }
  refuses(t, () => verifyDsseBundle(trust, certSwapped[0], expect, policyOf(BOB)), 'TLOG_BODY', /the logged verifier is not this certificate/);
  refuses(t, () => verifyDsseBundle(trust, swap(alice, bob, 'tlogEntries')[0], expect, policyOf(TEST_EMAIL)), 'TLOG_BODY', /the logged signature is not the envelope's/);
});

/** hashedrekord and dsse entries logged as sign.ts / sign-dsse.ts log them, with a key and certificate we choose. */
async function logHashedRekord(artifact: Buffer, signature: Buffer, leafDer: Buffer): Promise<LoggedEntry> {
  const proposed = {
    apiVersion: '0.0.1', kind: 'hashedrekord',
    spec: { data: { hash: { algorithm: 'sha256', value: createHash('sha256').update(artifact).digest('hex') } }, signature: { content: b64(signature), publicKey: { content: b64(Buffer.from(derToPem(leafDer))) } } },
  };
  return checkLogResponse(await postJson(fetch, 'log', `${stack.url}/api/v1/log/entries`, proposed), proposed);
}

async function logDsse(key: Signer, payload: Buffer, leafDer: Buffer): Promise<{ signed: SignedDsse & { leafDer: Buffer }; entry: LoggedEntry }> {
  const signature = key.sign(preAuthEncoding(IN_TOTO_PAYLOAD_TYPE, payload));
  const envelope = JSON.stringify({ payloadType: IN_TOTO_PAYLOAD_TYPE, payload: b64(payload), signatures: [{ keyid: '', sig: b64(signature) }] });
  const spec = { proposedContent: { envelope, verifiers: [b64(Buffer.from(derToPem(leafDer)))] } };
  const e = checkLogResponse(await postJson(fetch, 'log', `${stack.url}/api/v1/log/entries`, { apiVersion: '0.0.1', kind: 'dsse', spec }), JSON.parse(dsseBody(readDsseSpec(spec)).toString('utf8')));
  const signed = {
    envelope, payload, payloadType: IN_TOTO_PAYLOAD_TYPE, leafDer, signature, logIndex: e.logIndex, logId: e.logId, integratedTime: e.integratedTime,
    signedEntryTimestamp: e.set, canonicalizedBody: e.body, inclusionProof: e.proof,
  };
  return { signed, entry: e };
}

test('one key, two certificates: the one never logged does not stand in for the logged one, in every layout', async (t) => {
  // Both certificates are for the same key and issued before anything is logged, so each is valid at the
  // integrated time: with bob's certificate the signature verifies, the SET, chain, SCT and identity pass.
  // Only the entry says the certificate was alice's: without that comparison bob's would be accepted.
  const key = generateSigner();
  const aliceCert = await requestSigningCertificate(fetch, stack.url, await token(TEST_EMAIL), TEST_EMAIL, key);
  const bobCert = await requestSigningCertificate(fetch, stack.url, await token(BOB), BOB, key);
  const trust = verifier().trust;
  const repo = 'swap/samekey';
  const digest = await pushRandomImage(client, repo, 'v1');
  const image = `${registry.host}/${repo}:v1`;
  const subject = (await client.getManifest(repo, digest))!;

  // .sig (cosign.ts): the payload logged with alice's certificate, shown with bob's.
  const payload = simpleSigningPayload(`${registry.host}/${repo}`, digest);
  const signature = key.sign(payload);
  const entry = await logHashedRekord(payload, signature, aliceCert);
  const sigAnnotations = (cert: Buffer) => ({ [ANNOTATION_SIGNATURE]: b64(signature), [ANNOTATION_CERTIFICATE]: derToPem(cert), [ANNOTATION_BUNDLE]: setBundle(entry) });
  await appendAttachment(client, repo, attachmentTag(digest, 'sig'), payload, SIMPLE_SIGNING_MEDIA_TYPE, sigAnnotations(bobCert));
  await refusedImage(t, verifyImage({ image, verifier: verifier(), policy: policyOf(BOB) }), /^no valid signatures: \[TLOG_BODY\] tlog entry body: the logged certificate is not this certificate$/);
  refuses(t, () => verifyCosignSignature(trust, { payload, signature: b64(signature), certificate: derToPem(bobCert), bundle: setBundle(entry) }, policyOf(BOB)), 'TLOG_BODY', /the logged certificate is not this certificate/);
  await appendAttachment(client, repo, attachmentTag(digest, 'sig'), payload, SIMPLE_SIGNING_MEDIA_TYPE, sigAnnotations(aliceCert));
  t.is((await verifyImage({ image, verifier: verifier(), policy: policyOf(TEST_EMAIL) })).signatures[0]!.identity, TEST_EMAIL, 'control: as logged, it verifies');

  // .att (dsse.ts): the envelope logged with alice's certificate as verifier, shown with bob's.
  const statement = Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', subject: [{ name: 'app', digest: { sha256: digest.slice(7) } }], predicateType: SLSA, predicate: {} }));
  const { signed: dsse, entry: dsseEntry } = await logDsse(key, statement, aliceCert);
  const attAnnotations = (cert: Buffer) => ({ [ANNOTATION_SIGNATURE]: '', [ANNOTATION_CERTIFICATE]: derToPem(cert), [ANNOTATION_PREDICATE_TYPE]: SLSA, [ANNOTATION_BUNDLE]: setBundle(dsseEntry) });
  const envelope = Buffer.from(dsse.envelope);
  await appendAttachment(client, repo, attachmentTag(digest, 'att'), envelope, DSSE_MEDIA_TYPE, attAnnotations(bobCert));
  const expect = { sha256: digest.slice(7), predicateType: SLSA };
  const attestationsOf = (id: string) => verifyImageAttestations({ image, type: 'slsaprovenance', trust, policy: policyOf(id) });
  await refusedImage(t, attestationsOf(BOB), /^no valid attestations: \[TLOG_BODY\] tlog entry body: the logged verifier is not this certificate$/);
  refuses(t, () => verifyDsseAttestation(trust, { envelope, certificate: derToPem(bobCert), bundle: attAnnotations(bobCert)[ANNOTATION_BUNDLE] }, expect, policyOf(BOB)), 'TLOG_BODY', /the logged verifier is not this certificate/);
  await appendAttachment(client, repo, attachmentTag(digest, 'att'), envelope, DSSE_MEDIA_TYPE, attAnnotations(aliceCert));
  t.is((await attestationsOf(TEST_EMAIL)).attestations[0]!.identity, TEST_EMAIL, 'control: as logged, it verifies');

  // Referrers: a message-signature bundle (tlog-body.ts), then a DSSE bundle (dsse-bundle.ts), each with bob's certificate.
  await putLayers(repo, digest, 'sig', []);
  await putLayers(repo, digest, 'att', []);
  const manifestSig = key.sign(subject.bytes);
  const msgEntry = await logHashedRekord(subject.bytes, manifestSig, aliceCert);
  const msgBundle = (cert: Buffer) => Buffer.from(JSON.stringify(bundleOfLoggedEntry({ leafDer: cert }, createHash('sha256').update(subject.bytes).digest(), manifestSig, msgEntry)));
  await attachBundle(client, repo, subject, msgBundle(bobCert), { 'dev.sigstore.bundle.content': 'message-signature' });
  await refusedImage(t, verifyImage({ image, verifier: verifier(), policy: policyOf(BOB) }), /^no valid signatures: \[TLOG_BODY\] tlog entry body: the logged certificate is not the bundle certificate$/);
  refuses(t, () => verifier().verify({ artifact: subject.bytes, bundle: msgBundle(bobCert), policy: policyOf(BOB) }), 'TLOG_BODY', /the logged certificate is not the bundle certificate/);
  t.is(verifier().verify({ artifact: subject.bytes, bundle: msgBundle(aliceCert), policy: policyOf(TEST_EMAIL) }).identity, TEST_EMAIL, 'control: as logged, it verifies');

  const dsseBundle = (cert: Buffer) => Buffer.from(JSON.stringify(buildDsseBundle({ ...dsse, leafDer: cert })));
  await attachBundle(client, repo, subject, dsseBundle(bobCert), { 'dev.sigstore.bundle.content': 'dsse-envelope' });
  await refusedImage(t, attestationsOf(BOB), /^no valid attestations: \[TLOG_BODY\] tlog entry body: the logged verifier is not this certificate$/);
  refuses(t, () => verifyDsseBundle(trust, dsseBundle(bobCert), expect, policyOf(BOB)), 'TLOG_BODY', /the logged verifier is not this certificate/);
  t.is(verifyDsseBundle(trust, dsseBundle(aliceCert), expect, policyOf(TEST_EMAIL)).identity, TEST_EMAIL, 'control: as logged, it verifies');
});
