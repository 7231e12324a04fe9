/**
 * CtLog.addOwnPrecert (the CA's precertificate handed over in process, not re-parsed) against the strict
 * add-pre-chain path: for the same precertificate, two fresh logs must store byte-identical leaves and extra_data
 * and sign the same SCT input; the shortcut must keep the issuer-path checks and the commit-before-SCT order.
 */
import test from 'ava';
import fc from 'fast-check';
import { createHash, generateKeyPairSync, verify } from 'node:crypto';
import { setImmediate as tick } from 'node:timers/promises';
import { BadRequestError } from '../../core/errors.ts';
import { ENTRY_TYPE_PRECERT, merkleTreeLeaf, sctSignedData, serializeSctList } from '../../core/sct.ts';
import { generateSigner, type Signer } from '../../core/signer.ts';
import { renderFulcioExtensions } from '../../ca/extensions.ts';
import { createFinalCertificate, createPrecertificate, draftLeaf, leafTbsDer, loadIssuingAuthority } from '../../ca/certificate.ts';
import { createCaHierarchy } from '../../ca/hierarchy.ts';
import { openMerkleLog } from '../../log/merkle-log.ts';
import type { MerkleLog } from '../../log/types.ts';
import { CtLog } from '../../log/ct/ct-log.ts';
import { verifyEmbeddedScts } from '../ca/fixtures.ts';
import { makeIntermediate, makeLeaf, makeRoot, OID_PRECERT_SIGNING } from './test-pki.ts';

const T0 = 1_735_689_600_000;
const rootSigner = generateSigner();
const intermediateSigner = generateSigner();
const { rootDer, intermediateDer } = createCaHierarchy({ rootSigner, intermediateSigner, organization: 'own-precert' });
const authority = loadIssuingAuthority(intermediateDer, intermediateSigner);
const chainTail = [intermediateDer, rootDer];
const keys = [0, 1, 2].map(() => generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' }));

/** A precertificate exactly as ca/issue.ts builds it, with the TBS it hands to the log. */
function ownPrecert(email: string, issuer: string, key: Buffer, now = T0) {
  const draft = draftLeaf(authority, { publicKeyDer: key, san: { type: 'email', value: email }, extensions: renderFulcioExtensions({ issuer }), now });
  return { draft, precertDer: createPrecertificate(authority, draft), tbs: leafTbsDer(draft) };
}

function freshLog(signer: Signer, log: MerkleLog = openMerkleLog({ path: ':memory:' })): CtLog {
  return new CtLog({ log, signer, roots: [rootDer], clock: () => T0 });
}

test('same precertificate through add-pre-chain and addOwnPrecert: identical leaf, extra_data and SCT input', async (t) => {
  const signer = generateSigner();
  await fc.assert(fc.asyncProperty(
    fc.emailAddress(), fc.webUrl(), fc.integer({ min: 0, max: keys.length - 1 }), fc.integer({ min: 0, max: 1e9 }),
    async (email, issuer, k, dt) => {
      const { precertDer, tbs } = ownPrecert(email, issuer, keys[k]!, T0 + dt);
      const strict = freshLog(signer);
      const own = freshLog(signer);
      const a = await strict.addPreChain([precertDer, ...chainTail]);
      const b = await own.addOwnPrecert([precertDer, ...chainTail], tbs);
      const [ea] = strict.getEntries(0, 0);
      const [eb] = own.getEntries(0, 0);
      t.deepEqual(eb!.leafInput, ea!.leafInput);
      t.deepEqual(eb!.extraData, ea!.extraData);
      t.deepEqual({ ...b, signature: undefined }, { ...a, signature: undefined });
      // The SCT signs version 0, type 0 and then the same bytes as the leaf after its version and leaf type.
      const entry = { type: ENTRY_TYPE_PRECERT, issuerKeyHash: createHash('sha256').update(intermediateSigner.publicKeyDer).digest(), tbsCertificate: tbs } as const;
      const signed = sctSignedData(b.timestamp, entry);
      t.deepEqual(merkleTreeLeaf(b.timestamp, entry), ea!.leafInput);
      t.deepEqual(signed.subarray(2), ea!.leafInput.subarray(2));
      t.true(verify('sha256', signed, signer.publicKey, a.signature));
      t.true(verify('sha256', signed, signer.publicKey, b.signature));
    },
  ), { numRuns: 8 });
});

test('the SCT from addOwnPrecert verifies embedded in the final certificate, as verifiers rebuild it', async (t) => {
  const signer = generateSigner();
  const { draft, precertDer, tbs } = ownPrecert('alice@example.com', 'https://issuer.example', keys[0]!);
  const sct = await freshLog(signer).addOwnPrecert([precertDer, ...chainTail], tbs);
  const finalDer = createFinalCertificate(authority, draft, serializeSctList([sct]));
  t.true(verifyEmbeddedScts(finalDer, intermediateDer, signer));
});

test('addOwnPrecert: the SCT is returned only after the durable append resolves', async (t) => {
  const real = openMerkleLog({ path: ':memory:' });
  t.teardown(() => real.close());
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const gated: MerkleLog = Object.assign(Object.create(null), {
    append: async (leaf: Buffer, extra?: Buffer) => (await gate, real.append(leaf, extra)),
    size: () => real.size(), rootHash: (n: number) => real.rootHash(n), getEntry: (i: number) => real.getEntry(i),
    getEntries: (a: number, b: number, l: number) => real.getEntries(a, b, l), findByLeafHash: (h: Buffer) => real.findByLeafHash(h),
    inclusionProof: (i: number, n: number) => real.inclusionProof(i, n), consistencyProof: (a: number, b: number) => real.consistencyProof(a, b),
    close: () => real.close(),
  });
  const ct = freshLog(generateSigner(), gated);
  const { precertDer, tbs } = ownPrecert('bob@example.com', 'https://issuer.example', keys[1]!);
  let done = false;
  const pending = ct.addOwnPrecert([precertDer, ...chainTail], tbs).then((s) => ((done = true), s));
  for (let i = 0; i < 5; i++) await tick();
  t.false(done);
  t.is(real.size(), 0);
  release();
  const sct = await pending;
  t.is(real.size(), 1);
  t.is(real.getEntry(0)!.leaf.readBigUInt64BE(2), sct.timestamp);
});

test('a resubmission through the other path gets the first SCT timestamp and no second leaf', async (t) => {
  const ct = freshLog(generateSigner());
  const { precertDer, tbs } = ownPrecert('carol@example.com', 'https://issuer.example', keys[2]!);
  const a = await ct.addPreChain([precertDer, ...chainTail]);
  const b = await ct.addOwnPrecert([precertDer, ...chainTail], tbs);
  t.is(b.timestamp, a.timestamp);
  t.is(ct.getSth().tree_size, 1);
});

test('addOwnPrecert still refuses an issuer path the log does not accept', async (t) => {
  const ct = freshLog(generateSigner());
  const { precertDer, tbs } = ownPrecert('dave@example.com', 'https://issuer.example', keys[0]!);
  // Another hierarchy's root and intermediate, and a precertificate signing intermediate under our root's name.
  const otherRoot = makeRoot();
  const otherIntermediate = makeIntermediate(otherRoot);
  await t.throwsAsync(ct.addOwnPrecert([makeLeaf(otherIntermediate), otherIntermediate.der, otherRoot.der], tbs), { instanceOf: BadRequestError });
  await t.throwsAsync(ct.addOwnPrecert([precertDer], tbs), { instanceOf: BadRequestError, message: /no issuer/ });
  await t.throwsAsync(ct.addOwnPrecert([precertDer, ...chainTail], Buffer.alloc(0)), { instanceOf: BadRequestError });
  await t.throwsAsync(ct.addOwnPrecert([precertDer, rootDer, intermediateDer], tbs), { instanceOf: BadRequestError });
  const otherPrecertSigning = makeIntermediate(otherRoot, 'precert signer', OID_PRECERT_SIGNING);
  const otherCt = new CtLog({ log: openMerkleLog({ path: ':memory:' }), signer: generateSigner(), roots: [otherRoot.der], clock: () => T0 });
  await t.throwsAsync(otherCt.addOwnPrecert([makeLeaf(otherPrecertSigning), otherPrecertSigning.der, otherRoot.der], tbs), { instanceOf: BadRequestError, message: /precertificate signing/ });
  t.is(ct.getSth().tree_size, 0);
  t.is(otherCt.getSth().tree_size, 0);
});
