/**
 * cosign-format signatures (`.sig` layers and blob signatures) are read one way, as cosign reads them or stricter:
 * a certificate or chain annotation is PEM CERTIFICATE blocks alone (cosign's PEM decoding refuses trailing text);
 * a logged managed key is one PEM PUBLIC KEY block alone, on every key path; the SET annotation's integers are JSON
 * numbers (cosign's RekorPayload has int64 fields). Before, text around PEM blocks, blocks of other labels and
 * padding junk were read past, and "not a PEM chain" was taken for no chain.
 */
import test from 'ava';
import { createHash } from 'node:crypto';
import { VerificationError } from '../../core/errors.ts';
import { derToPem } from '../../core/pem.ts';
import { generateSigner, type Signer } from '../../core/signer.ts';
import { simpleSigningPayload } from '../../client/oci/cosign-layout.ts';
import { parseTrustedRoot } from '../../client/trusted-root.ts';
import { verifyCosignSignature } from '../../client/verify/cosign.ts';
import { verifyCosignKeySignature } from '../../client/verify/cosign-key.ts';
import { canonicalize } from '../../client/verify/tlog-body.ts';
import { EMAIL, ISSUER, TestPki } from './pki-fixture.ts';

const pki = new TestPki();
const trust = parseTrustedRoot(pki.trustedRoot());
const payload = simpleSigningPayload('registry.example/app', `sha256:${'a'.repeat(64)}`);
const policy = { identity: EMAIL, issuer: ISSUER };
const digest = createHash('sha256').update(payload).digest();

function setBundle(body: Buffer, payloadEdit: (p: Record<string, unknown>) => unknown = (p) => p): string {
  const integratedTime = Math.floor((pki.now - 30_000) / 1000);
  const logIndex = pki.append(body);
  const p = { body: body.toString('base64'), integratedTime, logIndex, logID: pki.rekor.keyId.toString('hex') };
  return JSON.stringify({ SignedEntryTimestamp: pki.setFor(body, integratedTime, logIndex).toString('base64'), Payload: payloadEdit(p) });
}

function certificateSignature() {
  const signer = generateSigner();
  const leafDer = pki.leaf(signer);
  const sig = signer.sign(payload);
  const body = pki.hashedRekordBody(digest, sig, leafDer);
  return { payload, signature: sig.toString('base64'), certificate: derToPem(leafDer), chain: derToPem(pki.intermediateDer) + derToPem(pki.rootDer), bundle: setBundle(body), leafDer };
}

function keySignature(key: Signer, loggedPem: string) {
  const sig = key.sign(payload);
  const body = Buffer.from(canonicalize({
    apiVersion: '0.0.1', kind: 'hashedrekord',
    spec: { data: { hash: { algorithm: 'sha256', value: digest.toString('hex') } }, signature: { content: sig.toString('base64'), publicKey: { content: Buffer.from(loggedPem).toString('base64') } } },
  })!);
  return { payload, signature: sig.toString('base64'), bundle: setBundle(body) };
}

test('certificate and chain annotations are PEM certificates alone', (t) => {
  const s = certificateSignature();
  t.notThrows(() => verifyCosignSignature(trust, s, policy));
  t.notThrows(() => verifyCosignSignature(trust, { ...s, chain: s.chain.trimEnd() }, policy), 'the final newline is optional');
  // whitespace Go's pem.Decode passes over, as a chain file given to cosign may have it
  const crlf = (x: string) => x.replace(/\n/g, '\r\n');
  t.notThrows(() => verifyCosignSignature(trust, { ...s, certificate: `\n${crlf(s.certificate)}\n`, chain: crlf(s.chain.replace('-----END CERTIFICATE-----\n', '-----END CERTIFICATE-----\n\n')) }, policy), 'CRLF, blank lines');
  const keyPem = derToPem(pki.rekor.publicKeyDer, 'PUBLIC KEY');
  const b64 = s.leafDer.toString('base64');
  for (const [what, edit] of [
    ['certificate with trailing text', { certificate: `${s.certificate}trailing text\n` }],
    ['certificate after a PUBLIC KEY block', { certificate: keyPem + s.certificate }],
    ['certificate with junk after its padding', { certificate: `-----BEGIN CERTIFICATE-----\n${b64}====QUFB\n-----END CERTIFICATE-----\n` }],
    ['the certificate twice', { certificate: s.certificate + s.certificate }],
    ['a chain that is not PEM at all', { chain: 'not a PEM chain at all' }],
    ['a chain with a PUBLIC KEY block after it', { chain: s.chain + keyPem }],
  ] as const) {
    const err = t.throws(() => verifyCosignSignature(trust, { ...s, ...edit }, policy), { instanceOf: VerificationError }, what);
    t.is(err!.code, 'CHAIN', what);
  }
});

test('the SET annotation\'s integratedTime and logIndex are JSON numbers, as cosign reads them', (t) => {
  const s = certificateSignature();
  const body = pki.hashedRekordBody(digest, Buffer.from(s.signature, 'base64'), s.leafDer);
  const asString = setBundle(body, (p) => ({ ...p, integratedTime: String(p.integratedTime) }));
  t.throws(() => verifyCosignSignature(trust, { ...s, bundle: asString }, policy), { instanceOf: VerificationError, message: /integratedTime: expected a JSON number/ });
});

test('a logged managed key is one PEM PUBLIC KEY block alone', (t) => {
  const key = generateSigner();
  const pem = derToPem(key.publicKeyDer, 'PUBLIC KEY');
  t.notThrows(() => verifyCosignKeySignature(trust, keySignature(key, pem), key.publicKey));
  for (const logged of [`junk\n${pem}junk`, derToPem(pki.intermediateDer) + pem, pem.replace(/\n(?!-----END|$)/g, ''), pem.replace(/\n/g, '\r\n')]) {
    const err = t.throws(() => verifyCosignKeySignature(trust, keySignature(key, logged), key.publicKey), { instanceOf: VerificationError });
    t.is(err!.code, 'TLOG_BODY');
  }
});
