import test from 'ava';
import { createHash, X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signArtifact } from '../../client/sign.ts';
import { createVerifier } from '../../client/verify/index.ts';
import { pemToDerList } from '../../core/pem.ts';
import { runCli } from '../helpers/cli.ts';
import { startStack, TEST_EMAIL } from '../helpers/stack.ts';

/**
 * `sigstack ca init` then `serve` with only the encrypted intermediate, then `sigstack ca rotate`: the new trusted
 * root lists both intermediates with their windows and a bundle signed under the old one still verifies.
 */

const PASS = 'correct horse battery staple';
const fp = (der: Buffer) => createHash('sha256').update(der).digest('hex').toUpperCase().replace(/(..)(?!$)/g, '$1:');

test('ca init -> serve without the root key -> ca rotate -> old and new bundles verify', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sigstack-ceremony-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const dataDir = join(dir, 'data');
  const rootKey = join(dir, 'offline', 'root.key.pem');
  const passFile = join(dir, 'pass.txt');
  writeFileSync(passFile, `${PASS}\n`);

  const init = await runCli(['ca', 'init', '--data-dir', dataDir, '--root-key-out', rootKey, '--passphrase-file', passFile]);
  t.is(init.code, 0, init.stderr);
  const chain = pemToDerList(readFileSync(join(dataDir, 'ca', 'chain.pem'), 'utf8'));
  t.is(chain.length, 2);
  t.true(init.stdout.includes(`root SHA-256 fingerprint: ${fp(chain[1]!)}`));
  t.true(init.stdout.includes(`intermediate SHA-256 fingerprint: ${fp(chain[0]!)}`));
  for (const f of [rootKey, join(dataDir, 'keys', 'ca-intermediate.key.pem')]) {
    t.regex(readFileSync(f, 'utf8'), /^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
  }
  t.false(existsSync(join(dataDir, 'keys', 'ca-root.key.pem')));
  const again = await runCli(['ca', 'init', '--data-dir', dataDir, '--root-key-out', join(dir, 'other.pem'), '--passphrase-file', passFile]);
  t.is(again.code, 1);
  t.regex(again.stderr, /already initialised/);

  const artifact = Buffer.from('ceremony\n');
  // without the passphrase the CA refuses to start, naming what it needs
  delete process.env.SIGSTACK_CA_PASSPHRASE;
  await t.throwsAsync(startStack({ dataDir }), { message: /SIGSTACK_CA_PASSPHRASE/ });
  process.env.SIGSTACK_CA_PASSPHRASE = PASS;
  const first = await startStack({ dataDir });
  const oldBundle = await signArtifact({ artifact, identityToken: await first.mintToken(), fulcioUrl: first.url, rekorUrl: first.url });
  const oldIssuer = first.issuer;
  await first.close();
  t.false(existsSync(join(dataDir, 'keys', 'ca-root.key.pem')), 'serving never created a root key');

  const wrong = await runCli(['ca', 'rotate', '--data-dir', dataDir, '--root-key', rootKey], { env: { SIGSTACK_CA_PASSPHRASE: 'not the passphrase' } });
  t.is(wrong.code, 1);
  t.regex(wrong.stderr, /wrong passphrase/);
  const rotate = await runCli(['ca', 'rotate', '--data-dir', dataDir, '--root-key', rootKey], { env: { SIGSTACK_CA_PASSPHRASE: PASS } });
  t.is(rotate.code, 0, rotate.stderr);
  const newChain = pemToDerList(readFileSync(join(dataDir, 'ca', 'chain.pem'), 'utf8'));
  t.true(newChain[1]!.equals(chain[1]!), 'same root');
  t.false(newChain[0]!.equals(chain[0]!), 'new intermediate');
  t.true(new X509Certificate(newChain[0]!).verify(new X509Certificate(chain[1]!).publicKey));
  t.true(rotate.stdout.includes(`new intermediate SHA-256 fingerprint: ${fp(newChain[0]!)}`));

  const second = await startStack({ dataDir });
  t.teardown(() => second.close());
  const cas = second.trustedRoot.certificateAuthorities as { certChain: { certificates: { rawBytes: string }[] }; validFor: { start: string; end?: string } }[];
  t.is(cas.length, 2);
  t.is(cas[0]!.certChain.certificates[0]!.rawBytes, chain[0]!.toString('base64'));
  t.truthy(cas[0]!.validFor.end);
  t.is(cas[1]!.certChain.certificates[0]!.rawBytes, newChain[0]!.toString('base64'));
  t.true(Date.parse(cas[1]!.validFor.start) <= Date.now() && Date.parse(cas[1]!.validFor.start) > Date.parse(cas[0]!.validFor.start));
  t.is(cas[1]!.validFor.end, undefined);

  const newBundle = await signArtifact({ artifact, identityToken: await second.mintToken(), fulcioUrl: second.url, rekorUrl: second.url });
  const verifier = createVerifier(second.trustedRoot);
  t.is(verifier.verify({ artifact, bundle: newBundle, policy: { identity: TEST_EMAIL, issuer: second.issuer } }).identity, TEST_EMAIL);
  t.is(verifier.verify({ artifact, bundle: oldBundle, policy: { identity: TEST_EMAIL, issuer: oldIssuer } }).identity, TEST_EMAIL);
  t.deepEqual(readdirSync(join(dataDir, 'keys')).filter((f) => f.startsWith('ca-')), ['ca-intermediate.key.pem']);
});
