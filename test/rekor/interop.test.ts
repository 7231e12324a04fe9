/**
 * The stock sigstore-js clients against our Rekor face: @sigstore/sign creates the entries (its
 * RekorWitness posts the hashedrekord and parses our LogEntry), and @sigstore/verify's Verifier checks
 * the resulting bundle: SET (inclusion promise), checkpoint signature and Merkle inclusion proof.
 */
import test from 'ava';
import { MessageSignatureBundleBuilder, RekorWitness, type Signer as SigstoreSigner } from '@sigstore/sign';
import { Verifier, toSignedEntity, type TrustMaterial } from '@sigstore/verify';
import { HashAlgorithm } from '@sigstore/protobuf-specs';
import { bundleFromJSON, bundleToJSON, toMessageSignatureBundle } from '@sigstore/bundle';
import { certificateFor, digestOf, ecKey, publicKeyPem, toPem } from './fixtures.ts';
import { NOW_MS, startRekor, type RekorServer } from './rekor-server.ts';

const key = ecKey('P-256');
const KEY_HINT = 'rekor-interop-key';

function trustFor(r: RekorServer): TrustMaterial {
  const forever = { start: new Date(0), end: new Date('2100-01-01T00:00:00Z') };
  return {
    certificateAuthorities: [],
    timestampAuthorities: [],
    ctlogs: [],
    tlogs: [{ logID: r.signer.keyId, baseURL: r.url, publicKey: r.signer.publicKey, validFor: forever }],
    publicKey: (hint) => {
      if (hint !== KEY_HINT) throw new Error(`unknown key hint ${hint}`);
      return { publicKey: key.publicKey, validFor: () => true };
    },
  };
}

/** A managed-key signer in sigstore-js's shape: signs the artifact, names the key by hint. */
const signer: SigstoreSigner = {
  sign: async (data) => ({
    signature: key.sign(data),
    key: { $case: 'publicKey', publicKey: publicKeyPem(key.publicKey), hint: KEY_HINT },
  }),
};

async function withRekor(run: (r: RekorServer) => Promise<void>): Promise<void> {
  const r = await startRekor();
  try {
    await run(r);
  } finally {
    await r.close();
  }
}

test('@sigstore/sign builds a bundle through our Rekor and @sigstore/verify accepts it', (t) => withRekor(async (r) => {
  const witness = new RekorWitness({ rekorBaseURL: r.url, retry: false });
  const builder = new MessageSignatureBundleBuilder({ signer, witnesses: [witness] });
  const artifact = Buffer.from('interop artifact');
  const bundle = await builder.create({ data: artifact });
  const [entry] = bundle.verificationMaterial.tlogEntries;
  t.is(entry.kindVersion?.kind, 'hashedrekord');
  t.is(entry.kindVersion?.version, '0.0.1');
  t.is(entry.logIndex, '0');
  t.is(entry.integratedTime, String(Math.floor(NOW_MS / 1000)));
  t.deepEqual(Buffer.from(entry.logId!.keyId), r.signer.keyId);

  const verifier = new Verifier(trustFor(r), { tlogThreshold: 1, ctlogThreshold: 0, timestampThreshold: 1 });
  t.notThrows(() => verifier.verify(toSignedEntity(bundle, artifact)));
  // the oracle is not a rubber stamp: a different artifact, or a tampered SET / proof, fails
  t.throws(() => verifier.verify(toSignedEntity(bundle, Buffer.from('other artifact'))));
  const badSet = structuredClone(bundle);
  const set = Buffer.from(badSet.verificationMaterial.tlogEntries[0].inclusionPromise!.signedEntryTimestamp);
  set[set.length - 1] ^= 1;
  badSet.verificationMaterial.tlogEntries[0].inclusionPromise!.signedEntryTimestamp = set;
  t.throws(() => verifier.verify(toSignedEntity(badSet, artifact)), { message: /inclusion promise/ });
  const badProof = structuredClone(bundle);
  badProof.verificationMaterial.tlogEntries[0].inclusionProof!.logIndex = '1';
  t.throws(() => verifier.verify(toSignedEntity(badProof, artifact)));
}));

test('an entry re-fetched after the tree grew (409 + Location) is proven against the newer checkpoint', (t) => withRekor(async (r) => {
  const witness = new RekorWitness({ rekorBaseURL: r.url, retry: false, fetchOnConflict: true });
  const builder = new MessageSignatureBundleBuilder({ signer, witnesses: [witness] });
  // ECDSA is randomized, so a duplicate needs the very same proposal: submit one fixed signature twice
  const artifact = Buffer.from('first');
  const digest = digestOf('sha256', artifact);
  const signature = key.sign(artifact);
  const content = { $case: 'messageSignature' as const, messageSignature: { messageDigest: { algorithm: HashAlgorithm.SHA2_256, digest }, signature } };
  const first = await witness.testify(content, publicKeyPem(key.publicKey));
  for (let i = 0; i < 4; i++) await builder.create({ data: Buffer.from(`more ${i}`) });
  // fetchOnConflict: the client follows the 409's Location header to GET the existing entry
  const again = await witness.testify(content, publicKeyPem(key.publicKey));
  t.is(again.tlogEntries[0].logIndex, '0');
  t.is(again.tlogEntries[0].inclusionProof?.treeSize, '5');
  t.deepEqual(again.tlogEntries[0].canonicalizedBody, first.tlogEntries[0].canonicalizedBody);
  t.is(r.log.size(), 5);

  // a bundle carrying the re-fetched entry, through its JSON form, verifies with the stock verifier
  const bundle = toMessageSignatureBundle({ digest, signature, keyHint: KEY_HINT });
  bundle.verificationMaterial.tlogEntries = again.tlogEntries;
  const roundTripped = bundleFromJSON(JSON.parse(JSON.stringify(bundleToJSON(bundle))));
  const verifier = new Verifier(trustFor(r), { tlogThreshold: 1, ctlogThreshold: 0, timestampThreshold: 1 });
  t.notThrows(() => verifier.verify(toSignedEntity(roundTripped, artifact)));
}));

test('RekorWitness logs a certificate-keyed signature and parses our response', (t) => withRekor(async (r) => {
  const witness = new RekorWitness({ rekorBaseURL: r.url, retry: false });
  const artifact = Buffer.from('signed with a certificate');
  const certPem = toPem('CERTIFICATE', certificateFor(key.publicKey));
  const content = {
    $case: 'messageSignature' as const,
    messageSignature: { messageDigest: { algorithm: HashAlgorithm.SHA2_256, digest: digestOf('sha256', artifact) }, signature: key.sign(artifact) },
  };
  const { tlogEntries: [entry] } = await witness.testify(content, certPem);
  const body = JSON.parse(Buffer.from(entry.canonicalizedBody).toString());
  t.is(Buffer.from(body.spec.signature.publicKey.content, 'base64').toString(), certPem);
  t.is(entry.inclusionProof?.treeSize, '1');
  t.true(entry.inclusionProof!.checkpoint!.envelope.startsWith('127.0.0.1 - '));
  // and a bad signature is reported as the client's error, with our message
  const bad = { ...content, messageSignature: { ...content.messageSignature, signature: key.sign(Buffer.from('other')) } };
  await t.throwsAsync(witness.testify(bad, certPem), { message: /error creating tlog entry/ });
}));
