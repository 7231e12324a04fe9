import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as tick } from 'node:timers/promises';
import { generateSigner } from '../../core/signer.ts';
import { BadRequestError } from '../../core/errors.ts';
import { openMerkleLog } from '../../log/merkle-log.ts';
import type { MerkleLog } from '../../log/types.ts';
import { CtLog, ctLeafIndexKeys } from '../../log/ct/ct-log.ts';
import { verifySthJson } from '../../log/ct/sth.ts';
import { makeIntermediate, makeLeaf, makeRoot } from './test-pki.ts';

const root = makeRoot();
const intermediate = makeIntermediate(root);
const T0 = 1_735_689_600_000;

/** The real engine with its append replaced (every other method delegates). */
function withAppend(real: MerkleLog, append: MerkleLog['append']): MerkleLog {
  return {
    append,
    size: () => real.size(),
    rootHash: (n) => real.rootHash(n),
    getEntry: (i) => real.getEntry(i),
    getEntries: (a, b, l) => real.getEntries(a, b, l),
    findByLeafHash: (h) => real.findByLeafHash(h),
    inclusionProof: (i, n) => real.inclusionProof(i, n),
    consistencyProof: (a, b) => real.consistencyProof(a, b),
    close: () => real.close(),
  };
}

function memoryCt(clock: () => number, log: MerkleLog = openMerkleLog({ path: ':memory:' })) {
  const signer = generateSigner();
  return { log, signer, ct: new CtLog({ log, signer, roots: [root.der], clock }) };
}

test('in process: the SCT is returned only after the durable append resolves', async (t) => {
  const real = openMerkleLog({ path: ':memory:' });
  t.teardown(() => real.close());
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  // The real engine behind a gate that holds every append until the test opens it.
  const gated = withAppend(real, async (leaf, extra) => {
    await gate;
    return real.append(leaf, extra);
  });
  const { ct } = memoryCt(() => T0, gated);
  let done = false;
  const pending = ct.addPreChain([makeLeaf(intermediate), intermediate.der]).then((s) => ((done = true), s));
  for (let i = 0; i < 5; i++) await tick();
  t.false(done);
  t.is(real.size(), 0);
  release();
  const sct = await pending;
  t.is(real.size(), 1);
  // The leaf carries the SCT's timestamp: it was chosen before the append.
  t.is(real.getEntry(0)!.leaf.readBigUInt64BE(2), sct.timestamp);
});

test('resubmissions, sequential or concurrent, get the first timestamp and add no leaf', async (t) => {
  let now = T0;
  const { ct, log, signer } = memoryCt(() => now++);
  t.teardown(() => log.close());
  const chain = [makeLeaf(intermediate), intermediate.der];
  const [a, b] = await Promise.all([ct.addPreChain(chain), ct.addPreChain(chain)]);
  const c = await ct.addPreChain([chain[0]!, intermediate.der, root.der]);
  t.is(log.size(), 1);
  t.is(a.timestamp, b.timestamp);
  t.is(a.timestamp, c.timestamp);
  t.deepEqual(a.logId, signer.keyId);
  // A different certificate is a different entry.
  await ct.addPreChain([makeLeaf(intermediate), intermediate.der]);
  t.is(log.size(), 2);
});

test('resubmissions are deduplicated for good: past the recent cache and across a restart, through the engine\'s index', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ct-dedup-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'ct.db');
  let now = T0;
  const signer = generateSigner();
  const open = () => {
    const log = openMerkleLog({ path, indexKeys: ctLeafIndexKeys });
    return { log, ct: new CtLog({ log, signer, roots: [root.der], clock: () => now++, dedupCacheSize: 2 }) };
  };
  const chains = Array.from({ length: 4 }, () => [makeLeaf(intermediate), intermediate.der]);
  let { log, ct } = open();
  const first = [];
  for (const chain of chains) first.push(await ct.addPreChain(chain));
  t.is(log.size(), 4);
  // the first two are no longer among the 2 recent ones: still the same timestamps, no new leaf
  for (const [i, chain] of chains.entries()) t.is((await ct.addPreChain(chain)).timestamp, first[i]!.timestamp);
  t.is(log.size(), 4);
  await log.close();
  ({ log, ct } = open());
  t.teardown(() => log.close());
  for (const [i, chain] of chains.entries()) t.is((await ct.addPreChain(chain)).timestamp, first[i]!.timestamp);
  t.is(log.size(), 4, 'a restart forgets nothing');
});

test('a CT log written before its deduplication index is indexed whole on the first open with the indexer', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ct-dedup-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'ct.db');
  const signer = generateSigner();
  const chain = [makeLeaf(intermediate), intermediate.der];
  const before = openMerkleLog({ path });
  const sct = await new CtLog({ log: before, signer, roots: [root.der], clock: () => T0 }).addPreChain(chain);
  await before.close();
  const after = openMerkleLog({ path, indexKeys: ctLeafIndexKeys });
  t.teardown(() => after.close());
  t.is((await new CtLog({ log: after, signer, roots: [root.der], clock: () => T0 + 5 }).addPreChain(chain)).timestamp, sct.timestamp);
  t.is(after.size(), 1);
});

test('a failed append is not remembered for later submitters', async (t) => {
  const real = openMerkleLog({ path: ':memory:' });
  t.teardown(() => real.close());
  let fail = true;
  const flaky = withAppend(real, (leaf, extra) => (fail ? Promise.reject(new Error('disk full')) : real.append(leaf, extra)));
  const { ct } = memoryCt(() => T0, flaky);
  const chain = [makeLeaf(intermediate), intermediate.der];
  await t.throwsAsync(ct.addPreChain(chain), { message: 'disk full' });
  fail = false;
  await ct.addPreChain(chain);
  t.is(real.size(), 1);
});

test('in process: bad chains throw BadRequestError before touching the log', async (t) => {
  const { ct, log } = memoryCt(() => T0);
  t.teardown(() => log.close());
  await t.throwsAsync(ct.addPreChain([makeLeaf(intermediate, { poison: false }), intermediate.der]), { instanceOf: BadRequestError });
  await t.throwsAsync(ct.addChain(Array(11).fill(intermediate.der)), { instanceOf: BadRequestError });
  await t.throwsAsync(ct.addPreChain('nope' as unknown as Buffer[]), { instanceOf: BadRequestError });
  t.is(log.size(), 0);
});

test('STH: empty tree, reuse while unchanged and fresh, never older than its entries or the previous head', async (t) => {
  let now = T0;
  const { ct, log, signer } = memoryCt(() => now);
  t.teardown(() => log.close());
  const empty = verifySthJson(ct.getSth(), signer.publicKey)!;
  t.is(empty.treeSize, 0);
  t.is(empty.rootHash.toString('hex'), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  now += 1000;
  t.is(ct.signedTreeHead(), ct.signedTreeHead());
  t.is(ct.signedTreeHead().timestamp, T0);
  now += 60_000;
  t.is(ct.signedTreeHead().timestamp, now);
  await ct.addPreChain([makeLeaf(intermediate), intermediate.der]);
  const leafTs = now;
  now -= 3_600_000; // the clock steps back an hour
  const sth = verifySthJson(ct.getSth(), signer.publicKey)!;
  t.is(sth.treeSize, 1);
  t.is(sth.timestamp, leafTs);
  t.deepEqual(sth.rootHash, log.rootHash(1));
});

test('after a restart the STH is still not older than the last entry', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sigstack-ct-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'ct.db');
  const first = memoryCt(() => T0 + 5000, openMerkleLog({ path }));
  await first.ct.addPreChain([makeLeaf(intermediate), intermediate.der]);
  await first.log.close();
  const log = openMerkleLog({ path });
  t.teardown(() => log.close());
  const again = new CtLog({ log, signer: first.signer, roots: [root.der], clock: () => T0 });
  const sth = again.signedTreeHead();
  t.is(sth.treeSize, 1);
  t.is(sth.timestamp, T0 + 5000);
});
