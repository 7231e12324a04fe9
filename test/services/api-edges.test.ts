/**
 * Edges of the whole stack as served (services/app.ts wiring, the CA on its worker threads), found by an HTTP
 * review: methods a path does not serve, error bodies in the right API's shape whatever the path's case, the Rekor
 * API's signed tree heads recorded in the checkpoint history, strict query parameters on the history, a token claim
 * that is not valid Unicode, and Content-Encoding compared without regard to case.
 */
import test from 'ava';
import { generateKeyPairSync, sign } from 'node:crypto';
import http from 'node:http';
import { hashedRekordProposal } from '../helpers/rekord.ts';
import { startStack, TEST_EMAIL, type TestStack } from '../helpers/stack.ts';

let s: TestStack;
test.before(async () => {
  s = await startStack();
});
test.after.always(async () => {
  await s?.close();
});

const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => fetch(`${s.url}${path}`, {
  method, headers: { 'content-type': 'application/json', ...headers }, body: body === undefined ? undefined : JSON.stringify(body),
});

/** Any method, TRACE included (fetch refuses to send it). */
function raw(method: string, path: string): Promise<{ status: number; allow: string | undefined; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${s.url}${path}`, { method }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, allow: res.headers.allow, text }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('a method a path does not serve is a 405 with Allow, in that API\'s error body; OPTIONS answers Allow; an unknown path stays 404', async (t) => {
  for (const method of ['TRACE', 'PROPFIND', 'GET']) {
    const res = await raw(method, '/api/v2/signingCert');
    t.is(res.status, 405, method);
    t.is(res.allow, 'POST');
    t.deepEqual(JSON.parse(res.text), { code: 12, message: `${method} is not allowed on /api/v2/signingCert (allowed: POST)`, details: [] });
  }
  const rekor = await raw('PROPFIND', '/api/v1/log/entries');
  t.is(rekor.status, 405);
  t.deepEqual((rekor.allow ?? '').split(', ').sort(), ['GET', 'HEAD', 'POST']);
  t.like(JSON.parse(rekor.text), { code: 405 });
  const ct = await raw('DELETE', '/ct/v1/get-sth');
  t.is(ct.status, 405);
  t.regex(ct.text, /^DELETE is not allowed on \/ct\/v1\/get-sth/);
  const options = await raw('OPTIONS', '/api/v1/log');
  t.is(options.status, 204);
  t.is(options.allow, 'HEAD, GET');
  const unknown = await raw('TRACE', '/no/such/path');
  t.is(unknown.status, 404);
  t.is(unknown.allow, undefined);
});

test('error bodies: Fulcio\'s legacy v1 routes in Fulcio\'s shape, and the shape chosen without regard to the path\'s case', async (t) => {
  t.deepEqual(await (await call('POST', '/api/v1/signingCert', {})).json(), { code: 3, message: 'publicKey is required', details: [] });
  t.like(await (await call('POST', '/API/V2/signingCert', {})).json(), { code: 3, details: [] });
  t.like(await (await call('POST', '/API/V1/LOG/ENTRIES', {})).json(), { code: 400, message: 'entry.kind is required' });
});

test('GET /api/v1/log records the signed tree head it serves in the checkpoint history', async (t) => {
  t.is((await call('POST', '/api/v1/log/entries', hashedRekordProposal().proposal)).status, 201);
  const info = await (await call('GET', '/api/v1/log')).json() as { treeSize: number; signedTreeHead: string };
  const history = await (await call('GET', `/api/v1/tiles/checkpoints?from=${info.treeSize}&limit=1`)).json() as { size: number; checkpoint: string }[];
  t.deepEqual(history.map((h) => [h.size, h.checkpoint]), [[info.treeSize, info.signedTreeHead]]);
});

test('the checkpoint history takes only plain decimal from and limit', async (t) => {
  for (const q of ['from=0x1', 'limit=1e2', 'limit=Infinity', 'from=', 'from=-1', 'limit=0', 'from=1&from=2']) {
    const res = await call('GET', `/api/v1/tiles/checkpoints?${q}`);
    t.is(res.status, 400, q);
    t.regex((await res.json() as { message: string }).message, /query parameter (from|limit)/, q);
  }
  t.is((await call('GET', '/api/v1/tiles/checkpoints?from=0&limit=5')).status, 200);
});

test('a token whose claims hold a lone surrogate is a 400 naming the claim, not a 500; nothing reaches the CT log', async (t) => {
  const sth = async () => ((await (await call('GET', '/ct/v1/get-sth')).json()) as { tree_size: number }).tree_size;
  const before = await sth();
  const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const request = (token: string) => ({
    credentials: { oidcIdentityToken: token },
    publicKeyRequest: {
      publicKey: { algorithm: 'ECDSA', content: keys.publicKey.export({ type: 'spki', format: 'pem' }) },
      proofOfPossession: sign('sha256', Buffer.from(TEST_EMAIL), keys.privateKey).toString('base64'),
    },
  });
  for (const [claims, name] of [[{ sub: 'x\ud800y' }, 'sub'], [{ extra: { nested: ['ok', '\udc00'] } }, 'extra.nested[1]']] as const) {
    const res = await call('POST', '/api/v2/signingCert', request(await s.mintToken(claims)));
    const body = await res.json() as { code: number; message: string };
    t.is(res.status, 400, body.message);
    t.is(body.message, `invalid identity token: claim ${name} is not valid Unicode (it holds a lone surrogate)`);
  }
  t.is(await sth(), before);
  t.is((await call('POST', '/api/v2/signingCert', request(await s.mintToken({ sub: 'x😀y' })))).status, 200, 'a surrogate pair is fine');
});

test('Content-Encoding identity is accepted in any case; anything else is refused before the body is read', async (t) => {
  const { proposal } = hashedRekordProposal();
  t.is((await call('POST', '/api/v1/log/entries', proposal, { 'content-encoding': 'Identity' })).status, 201);
  const gzip = await call('POST', '/api/v1/log/entries', hashedRekordProposal().proposal, { 'content-encoding': 'GZIP' });
  t.is(gzip.status, 400);
  t.regex((await gzip.json() as { message: string }).message, /unsupported content-encoding "GZIP"/);
});
