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

test('a search by proposed entries checks them through the canonicalize the router was given (the worker pool), not inline', async (t) => {
  const { openMerkleLog } = await import('../../log/merkle-log.ts');
  const { rekorRouter } = await import('../../log/rekor/routes.ts');
  const { generateSigner } = await import('../../core/signer.ts');
  const { serveRouters } = await import('../helpers/http.ts');
  const pool = createCanonicalizePool(1);
  const seen: unknown[] = [];
  const log = openMerkleLog({ path: ':memory:' });
  const server = await serveRouters(rekorRouter({
    log, signer: generateSigner(), treeId: '1', signerName: 'test',
    canonicalize: (proposed) => {
      seen.push(proposed);
      return pool.canonicalize(proposed);
    },
  }));
  t.teardown(async () => { await server.close(); await pool.close(); await log.close(); });
  const post = (path: string, body: unknown) => fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const [a, b] = [hashedRekordProposal().proposal, hashedRekordProposal().proposal];
  t.is((await post('/api/v1/log/entries', a)).status, 201);
  t.is(seen.length, 1);
  const found = await post('/api/v1/log/entries/retrieve', { entries: [a, b] });
  t.is(found.status, 200);
  t.is((await found.json() as unknown[]).length, 1, 'the logged one is found, the other is not');
  t.is(seen.length, 3, 'both proposed entries of the search went through it');
  // the first failure in query order is the answer, whichever check finished first
  const bad = structuredClone(b) as { spec: { data: { hash: { value: string } } } };
  bad.spec.data.hash.value = 'zz';
  const refused = await post('/api/v1/log/entries/retrieve', { entries: [a, bad, { kind: 'nope', apiVersion: '1', spec: {} }] });
  t.is(refused.status, 400);
  t.regex((await refused.json() as { message: string }).message, /spec\.data\.hash\.value/);
});
