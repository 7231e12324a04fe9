import test from 'ava';
import { SigstackError } from '../../core/errors.ts';
import { createCanonicalizePool } from '../../log/kinds/canonicalize-pool.ts';
import { canonicalizeProposedEntry } from '../../log/kinds/index.ts';
import { hashedRekordProposal } from '../helpers/rekord.ts';

test('the worker pool gives the same canonical bodies and the same typed errors as inline canonicalization', async (t) => {
  const pool = createCanonicalizePool(2);
  t.teardown(() => pool.close());
  const proposals = Array.from({ length: 6 }, () => hashedRekordProposal().proposal);
  const bodies = await Promise.all(proposals.map((p) => pool.canonicalize(p)));
  bodies.forEach((b, i) => t.deepEqual(b, canonicalizeProposedEntry(proposals[i])));

  const bad = structuredClone(proposals[0]) as { spec: { data: { hash: { value: string } } } };
  bad.spec.data.hash.value = '00'.repeat(32);
  const inline = t.throws(() => canonicalizeProposedEntry(bad)) as SigstackError;
  const pooled = await t.throwsAsync(pool.canonicalize(bad)) as SigstackError;
  t.true(pooled instanceof SigstackError);
  t.deepEqual([pooled.status, pooled.code, pooled.message], [inline.status, inline.code, inline.message]);
  const unknown = await t.throwsAsync(pool.canonicalize({ kind: 'nope', apiVersion: '1', spec: {} })) as SigstackError;
  t.is(unknown.status, 400);

  await pool.close();
  t.deepEqual(await pool.canonicalize(proposals[1]), bodies[1], 'after close, inline');
});
