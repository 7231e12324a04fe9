/**
 * Every URL flag of every client command is checked when the command line is read, as `log fill` and `log audit`
 * check theirs: a value that is not a server's base URL (no scheme, another scheme, credentials, an API path) or an
 * image whose registry port cannot be, is a usage error naming the flag, exit 2, before any file is hashed or
 * any server is asked. Nothing here listens: a command that got as far as the network would fail differently.
 */
import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.ts';

let dir: string;
test.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'sigstack-urls-'));
  writeFileSync(join(dir, 'a.txt'), 'a');
  writeFileSync(join(dir, 'trusted_root.json'), '{}');
});
test.after.always(() => dir && rmSync(dir, { recursive: true, force: true }));

const TOKEN = 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.sig';

const cases: [string, string[], RegExp][] = [
  ['sign --url without a scheme', ['sign', 'A', '--bundle', 'B', '--identity-token', TOKEN, '--url', '127.0.0.1:3000'], /--url "127\.0\.0\.1:3000" is not a URL \(expected/],
  ['sign --fulcio-url with credentials', ['sign', 'A', '--bundle', 'B', '--identity-token', TOKEN, '--fulcio-url', 'http://user:secret@127.0.0.1:1', '--rekor-url', 'http://127.0.0.1:1'], /--fulcio-url http:\/\/\*\*\*@127\.0\.0\.1:1\/: a URL holding a user name or password/],
  ['sign --rekor-url an API path', ['sign', 'A', '--bundle', 'B', '--key', 'K', '--rekor-url', 'http://127.0.0.1:1/api/v1/log'], /--rekor-url \S+ is an API path: give the server's base URL \(http:\/\/127\.0\.0\.1:1\)/],
  ['trusted-root --url', ['trusted-root', '--url', '127.0.0.1:3000'], /--url "127\.0\.0\.1:3000" is not a URL/],
  ['trusted-root --url ftp', ['trusted-root', '--url', 'ftp://127.0.0.1/'], /--url ftp:\/\/127\.0\.0\.1\/: the server is reached over http or https, not ftp/],
  ['dev-token --url', ['dev-token', '--url', '127.0.0.1:3000'], /--url "127\.0\.0\.1:3000" is not a URL/],
  ['dev-token --url with credentials', ['dev-token', '--url', 'http://u:p@127.0.0.1:1'], /a URL holding a user name or password/],
  ['sign-image --url host:port', ['sign-image', 'localhost:5000/app:1', '--identity-token', TOKEN, '--url', 'localhost:3000'], /--url "localhost:3000" is not a URL \(expected/],
  ['sign-image --rekor-url', ['sign-image', 'localhost:5000/app:1', '--identity-token', TOKEN, '--fulcio-url', 'http://127.0.0.1:1', '--rekor-url', 'http://127.0.0.1:1/api/v1/log/entries'], /--rekor-url \S+ is an API path/],
  ['attest --fulcio-url', ['attest', 'localhost:5000/app:1', '--predicate', 'P', '--identity-token', TOKEN, '--fulcio-url', 'x', '--rekor-url', 'http://127.0.0.1:1'], /--fulcio-url "x" is not a URL/],
  ['log fill --url with credentials', ['log', 'fill', '--url', 'http://u:p@127.0.0.1:1', '--count', '1'], /--url http:\/\/\*\*\*@127\.0\.0\.1:1\/: a URL holding/],
  ['log audit --url with credentials', ['log', 'audit', '--url', 'https://u@127.0.0.1:1'], /a URL holding a user name or password/],
  ['verify-image, registry port over 65535', ['verify-image', 'localhost:99999/app', '--trusted-root', 'T', '--certificate-identity', 'a', '--certificate-oidc-issuer', 'b'], /image reference localhost:99999\/app: the registry localhost:99999 .* \(port 99999 is above 65535\)/],
  ['verify-attestation, registry port over 65535', ['verify-attestation', 'localhost:99999/app', '--trusted-root', 'T', '--certificate-identity', 'a', '--certificate-oidc-issuer', 'b'], /the registry localhost:99999/],
  ['sign-image, registry port over 65535', ['sign-image', 'localhost:99999/app', '--identity-token', TOKEN, '--url', 'http://127.0.0.1:1'], /the registry localhost:99999/],
  ['attest, registry port over 65535', ['attest', 'localhost:99999/app', '--predicate', 'P', '--identity-token', TOKEN, '--url', 'http://127.0.0.1:1'], /the registry localhost:99999/],
];

for (const [name, args, message] of cases) {
  test(`${name}: exit 2 naming the flag`, async (t) => {
    const real = args.map((a) => ({ A: join(dir, 'a.txt'), B: join(dir, 'b.json'), K: join(dir, 'none.key'), P: join(dir, 'a.txt'), T: join(dir, 'trusted_root.json') })[a] ?? a);
    const r = await runCli(real, { env: { COSIGN_PASSWORD: 'pw' } });
    t.is(r.code, 2, r.stderr);
    t.regex(r.stderr, message);
    t.regex(r.stderr, /Run "sigstack .*--help" for usage/);
    t.notRegex(r.stderr, /Invalid URL|cannot be constructed|secret/);
  });
}

test('a signing config whose URL is not a base URL is named as such', async (t) => {
  const config = join(dir, 'signing_config.json');
  const now = new Date(Date.now() - 60_000).toISOString();
  const service = (url: string) => ({ url, majorApiVersion: 1, validFor: { start: now }, operator: 'x' });
  writeFileSync(config, JSON.stringify({
    mediaType: 'application/vnd.dev.sigstore.signingconfig.v0.2+json',
    caUrls: [service('127.0.0.1:3000')], oidcUrls: [], rekorTlogUrls: [service('http://127.0.0.1:1')], tsaUrls: [],
    rekorTlogConfig: { selector: 'ANY' }, tsaConfig: { selector: 'ANY' },
  }));
  const r = await runCli(['sign', join(dir, 'a.txt'), '--bundle', join(dir, 'b.json'), '--identity-token', TOKEN, '--signing-config', config]);
  t.is(r.code, 2, r.stderr);
  t.regex(r.stderr, /signing_config\.json: its CA URL "127\.0\.0\.1:3000" is not a URL/);
});
