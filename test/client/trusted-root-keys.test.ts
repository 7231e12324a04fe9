/**
 * Transparency log keys other than P-256 in trusted_root.json: the key types whose SET and checkpoint signatures
 * are SHA-256 based (ECDSA P-384/P-521 with SHA-256, RSA PKCS#1 v1.5 2048/3072/4096) are accepted, and a whole
 * bundle verifies against a log signing with them; a key that is not what its keyDetails says, and key types the
 * SHA-256 checks cannot verify (P-384/SHA-384, Ed25519, RSA-PSS) are set aside: never used, their entries refused by name.
 */
import { createHash, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import test from 'ava';
import type { Signer } from '../../core/signer.ts';
import { createVerifier } from '../../client/verify/index.ts';
import { EMAIL, ISSUER, refuses, TestPki } from './pki-fixture.ts';

function signerOf(privateKey: KeyObject): Signer {
  const publicKey = createPublicKey(privateKey);
  const publicKeyDer = publicKey.export({ type: 'spki', format: 'der' });
  return { publicKeyDer, keyId: createHash('sha256').update(publicKeyDer).digest(), publicKey, privateKey, sign: (d) => sign(privateKey.asymmetricKeyType === 'ed25519' ? null : 'sha256', d, privateKey) };
}

/** A test PKI whose Rekor signs SETs and checkpoints with `logKey`, its trusted root labelling it `keyDetails`. */
function pkiWithLogKey(logKey: KeyObject, keyDetails: string) {
  const pki = new TestPki();
  (pki as unknown as { rekor: Signer }).rekor = signerOf(logKey);
  const root = pki.trustedRoot();
  root.tlogs[0].publicKey.keyDetails = keyDetails;
  return { pki, root };
}

const keys = {
  p384: generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey,
  p521: generateKeyPairSync('ec', { namedCurve: 'P-521' }).privateKey,
  rsa2048: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey,
  ed25519: generateKeyPairSync('ed25519').privateKey,
};

for (const [name, key, details] of [
  ['ECDSA P-384 / SHA-256', keys.p384, 'PKIX_ECDSA_P384_SHA_256'],
  ['ECDSA P-521 / SHA-256', keys.p521, 'PKIX_ECDSA_P521_SHA_256'],
  ['RSA-2048 PKCS#1 v1.5 / SHA-256', keys.rsa2048, 'PKIX_RSA_PKCS1V15_2048_SHA256'],
] as const) {
  test(`a log signing with ${name}: SET and checkpoint verify, tampering is still caught`, (t) => {
    const { pki, root } = pkiWithLogKey(key, details);
    const verifier = createVerifier(root, { now: () => pki.now });
    const artifact = Buffer.from(`artifact for ${name}`);
    const bundle = pki.sign(artifact);
    const r = verifier.verify({ artifact, bundle, policy: { identity: EMAIL, issuer: ISSUER } });
    t.is(r.identity, EMAIL);
    const badSet = structuredClone(bundle);
    badSet.verificationMaterial.tlogEntries[0].inclusionPromise.signedEntryTimestamp = pki.sign(Buffer.from('other')).verificationMaterial.tlogEntries[0].inclusionPromise.signedEntryTimestamp;
    refuses(t, () => verifier.verify({ artifact, bundle: badSet, policy: { identity: EMAIL, issuer: ISSUER } }), 'SET');
  });
}

test('a key that is not what its keyDetails says is refused', (t) => {
  const label = (key: KeyObject, details: string) => () => createVerifier(pkiWithLogKey(key, details).root);
  refuses(t, label(keys.rsa2048, 'PKIX_RSA_PKCS1V15_3072_SHA256'), 'TRUSTED_ROOT', /not the PKIX_RSA_PKCS1V15_3072_SHA256 key/);
  refuses(t, label(keys.p384, 'PKIX_ECDSA_P256_SHA_256'), 'TRUSTED_ROOT', /not the PKIX_ECDSA_P256_SHA_256 key/);
  refuses(t, label(keys.rsa2048, 'PKIX_ECDSA_P384_SHA_256'), 'TRUSTED_ROOT', /not the PKIX_ECDSA_P384_SHA_256 key/);
});

test('a log whose key type the SHA-256 checks cannot verify is set aside, never used: its entries are refused by name', (t) => {
  for (const [key, details] of [[keys.p384, 'PKIX_ECDSA_P384_SHA_384'], [keys.ed25519, 'PKIX_ED25519'], [keys.rsa2048, 'PKIX_RSA_PSS_2048_SHA256']] as const) {
    const { pki, root } = pkiWithLogKey(key, details);
    // alone, it leaves the root without a usable transparency log
    refuses(t, () => createVerifier(root), 'TRUSTED_ROOT', /no transparency log/);
    // beside a usable log (as the public-good root lists Rekor v2's Ed25519 log), the root is read and that log unused
    const usable = new TestPki();
    const both = structuredClone(root);
    both.tlogs.push(usable.trustedRoot().tlogs[0]);
    const verifier = createVerifier(both, { now: () => pki.now });
    t.regex(verifier.trust.unusableLogs.values().next().value ?? '', new RegExp(`keyDetails ${details} is not supported for logs`));
    const artifact = Buffer.from(`logged by a ${details} log`);
    refuses(t, () => verifier.verify({ artifact, bundle: pki.sign(artifact), policy: { identity: EMAIL, issuer: ISSUER } }), 'TLOG', new RegExp(`cannot be verified here: tlogs\\[0\\]: keyDetails ${details}`));
  }
});

test('a set-aside log must still be well-formed: a key that does not parse, a short logId, or an unnamed key type refuses the root', (t) => {
  const { root } = pkiWithLogKey(keys.ed25519, 'PKIX_ED25519');
  const badKey = structuredClone(root);
  badKey.tlogs[0].publicKey.rawBytes = Buffer.from('not a key').toString('base64');
  refuses(t, () => createVerifier(badKey), 'TRUSTED_ROOT', /PKIX_ED25519 is not supported/);
  const shortId = structuredClone(root);
  shortId.tlogs[0].logId.keyId = Buffer.alloc(16, 1).toString('base64');
  refuses(t, () => createVerifier(shortId), 'TRUSTED_ROOT', /PKIX_ED25519 is not supported/);
  const unnamed = structuredClone(root);
  unnamed.tlogs[0].publicKey.keyDetails = 'PUBLIC_KEY_DETAILS_UNSPECIFIED';
  refuses(t, () => createVerifier(unnamed), 'TRUSTED_ROOT', /not supported for logs/);
});
