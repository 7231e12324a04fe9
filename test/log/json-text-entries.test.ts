import test from 'ava';
import Router from '@koa/router';
import { SigstackError } from '../../core/errors.ts';
import { generateSigner } from '../../core/signer.ts';
import { createCanonicalizePool } from '../../log/kinds/canonicalize-pool.ts';
import { ProposedEntryJson, canonicalizeProposedEntry } from '../../log/kinds/index.ts';
import { openMerkleLog } from '../../log/merkle-log.ts';
import { rekorRouter } from '../../log/rekor/routes.ts';
import '../../core/koa-augment.ts';
import { serveRouters } from '../helpers/http.ts';
import { hashedRekordProposal } from '../helpers/rekord.ts';

/**
 * The Rekor POST hands the request's JSON text to the worker pool unparsed (log/kinds/index.ts ProposedEntryJson)
 * and services/body.ts parses only when a route reads `request.body`: the same bodies and the same errors as
 * the parsed path, on the pool, inline, and over HTTP.
 */
test('JSON text gives the same canonical body and the same errors as the parsed entry, on the pool and inline', async (t) => {
  const pool = createCanonicalizePool(2);
  t.teardown(() => pool.close());
  const proposals = Array.from({ length: 4 }, () => hashedRekordProposal().proposal);
  for (const p of proposals) {
    const text = new ProposedEntryJson(Buffer.from(JSON.stringify(p)));
    const expected = canonicalizeProposedEntry(p);
    t.deepEqual(canonicalizeProposedEntry(text), expected);
    t.deepEqual((await pool.canonicalize(text)).body, expected);
  }
  // a view into a larger buffer: only its own bytes are read
  const json = Buffer.from(JSON.stringify(proposals[0]));
  const framed = Buffer.concat([Buffer.from('garbage{'), json, Buffer.from('}}')]);
  t.deepEqual((await pool.canonicalize(new ProposedEntryJson(framed.subarray(8, 8 + json.length)))).body, canonicalizeProposedEntry(proposals[0]));

  for (const bad of ['{"kind": ', 'not json', '\u00ff']) {
    const e = await t.throwsAsync(pool.canonicalize(new ProposedEntryJson(Buffer.from(bad)))) as SigstackError;
    t.deepEqual([e.status, e.code, e.message], [400, 'BAD_REQUEST', 'request body is not valid JSON'], bad);
  }
  const notObject = await t.throwsAsync(pool.canonicalize(new ProposedEntryJson(Buffer.from('null')))) as SigstackError;
  const inline = t.throws(() => canonicalizeProposedEntry(null)) as SigstackError;
  t.deepEqual([notObject.status, notObject.message], [400, inline.message]);
});

test('over HTTP: invalid JSON is a 400 on the entries POST, and a route reading request.body sees the parsed value', async (t) => {
  const log = openMerkleLog({ path: ':memory:' });
  const pool = createCanonicalizePool(1);
  const echo = new Router();
  let reads = 0;
  echo.post('/echo', (ctx) => {
    reads++;
    const first = ctx.request.body;
    t.is(ctx.request.body, first, 'parsed once, the same value on every read');
    ctx.body = { got: first };
  });
  const server = await serveRouters(rekorRouter({ log, signer: generateSigner(), treeId: '1', signerName: 'x', canonicalize: pool.canonicalize }), echo);
  t.teardown(async () => { await server.close(); await pool.close(); await log.close(); });
  const post = (path: string, body: string) => fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

  const bad = await post('/api/v1/log/entries', '{"kind": "hashedrekord",');
  t.is(bad.status, 400);
  t.is(((await bad.json()) as { message: string }).message, 'request body is not valid JSON');
  const { proposal } = hashedRekordProposal();
  t.is((await post('/api/v1/log/entries', JSON.stringify(proposal))).status, 201);
  t.is(log.size(), 1);

  const echoed = await post('/echo', '{"a":[1,"x"]}');
  t.deepEqual(await echoed.json(), { got: { a: [1, 'x'] } });
  const badEcho = await post('/echo', '{"a":');
  t.is(badEcho.status, 400);
  t.is(((await badEcho.json()) as { message: string }).message, 'request body is not valid JSON');
  t.is(reads, 2);
});
