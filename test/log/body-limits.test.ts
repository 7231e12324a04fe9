import test from 'ava';
import { jsonNestingExceeds } from '../../services/body.ts';
import { serveRouters } from '../helpers/http.ts';
import { tempDbPath } from '../log-engine/temp-dir.ts';
import { post, startIndexedRekor } from './rekor-server.ts';
import { openMerkleLog } from '../../log/merkle-log.ts';
import { rekorRouter } from '../../log/rekor/routes.ts';
import { generateSigner } from '../../core/signer.ts';

test('a deeply nested body is a 400 before parsing, on every Rekor POST route; brackets inside strings do not count', async (t) => {
  const rekor = await startIndexedRekor(tempDbPath(t));
  t.teardown(rekor.close);
  const deep = `${'['.repeat(50_000)}${']'.repeat(50_000)}`;
  for (const path of ['/api/v1/log/entries', '/api/v1/log/entries/retrieve', '/api/v1/index/retrieve']) {
    const res = await fetch(`${rekor.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: deep });
    t.is(res.status, 400, path);
    t.regex(((await res.json()) as { message: string }).message, /nested deeper/);
  }
  t.false(jsonNestingExceeds(Buffer.from(JSON.stringify({ a: '['.repeat(1000), b: [[[1]]] })), 64));
  t.true(jsonNestingExceeds(Buffer.from(`{"a":${'['.repeat(65)}${']'.repeat(65)}}`), 64));
  t.false(jsonNestingExceeds(Buffer.from(`{"a":"\\"[[[[","b":${'['.repeat(63)}${']'.repeat(63)}}`), 64));
});

test('an entry body over the limit is a 413 before it is parsed; unknown kinds and versions are 400', async (t) => {
  const log = openMerkleLog({ path: ':memory:' });
  const server = await serveRouters(rekorRouter({ log, signer: generateSigner(), treeId: '1', signerName: 'x' }));
  t.teardown(async () => { await server.close(); await log.close(); });
  const big = JSON.stringify({ kind: 'hashedrekord', apiVersion: '0.0.1', spec: { pad: 'x'.repeat(130 * 1024) } });
  t.is((await post(server.url, '/api/v1/log/entries', JSON.parse(big))).status, 413);
  for (const [kind, apiVersion] of [['rekord', '0.0.1'], ['hashedrekord', '0.0.2'], ['intoto', '0.0.9'], ['helm', '0.0.1']]) {
    t.is((await post(server.url, '/api/v1/log/entries', { kind, apiVersion, spec: {} })).status, 400, `${kind} ${apiVersion}`);
  }
  t.is(log.size(), 0);
});
