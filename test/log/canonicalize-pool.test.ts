import test from 'ava';
import { SigstackError } from '../../core/errors.ts';
import { createCanonicalizePool } from '../../log/kinds/canonicalize-pool.ts';
import { canonicalizeProposedEntry } from '../../log/kinds/index.ts';
import { rekorIndexKeys } from '../../log/kinds/index-keys.ts';
import { hashedRekordProposal } from '../helpers/rekord.ts';

test('the worker pool gives the same canonical bodies and the same typed errors as inline canonicalization', async (t) => {
  const pool = createCanonicalizePool(2);
  t.teardown(() => pool.close());
  const proposals = Array.from({ length: 6 }, () => hashedRekordProposal().proposal);
  const bodies = await Promise.all(proposals.map((p) => pool.canonicalize(p)));
  bodies.forEach((b, i) => {
    t.deepEqual(b.body, canonicalizeProposedEntry(proposals[i]));
    // the search keys come with the body, computed on the worker exactly as the engine's indexer would
    t.deepEqual(b.indexKeys, rekorIndexKeys(b.body));
    t.true(b.indexKeys!.some((k) => k.startsWith('hash:sha256:')));
  });

  const bad = structuredClone(proposals[0]) as { spec: { data: { hash: { value: string } } } };
  bad.spec.data.hash.value = '00'.repeat(32);
  const inline = t.throws(() => canonicalizeProposedEntry(bad)) as SigstackError;
  const pooled = await t.throwsAsync(pool.canonicalize(bad)) as SigstackError;
  t.true(pooled instanceof SigstackError);
  t.deepEqual([pooled.status, pooled.code, pooled.message], [inline.status, inline.code, inline.message]);
  const unknown = await t.throwsAsync(pool.canonicalize({ kind: 'nope', apiVersion: '1', spec: {} })) as SigstackError;
  t.is(unknown.status, 400);

  await pool.close();
  t.deepEqual((await pool.canonicalize(proposals[1])).body, bodies[1]!.body, 'after close, inline');
});
