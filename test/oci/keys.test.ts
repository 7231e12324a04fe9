/**
 * Managed keys as cosign: generate-key-pair writes cosign.key (scrypt + nacl secretbox, "ENCRYPTED SIGSTORE
 * PRIVATE KEY") and cosign.pub; sign-image --key / verify-image --key against the stack and docker-registry.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { decryptPrivateKey, encryptPrivateKey, KeyFileError, readPublicKey } from '../../client/oci/cosign-key.ts';
import { RegistryClient } from '../../client/oci/registry.ts';
import { derToPem, pemToDerList } from '../../core/pem.ts';
import { generateKeyPairSync } from 'node:crypto';
import { runCli } from '../helpers/cli.ts';
import { startStack, type TestStack } from '../helpers/stack.ts';
import { pushRandomImage, startRegistry, type TestRegistry } from './registry-helper.ts';

let stack: TestStack;
let registry: TestRegistry;
let dir: string;

test.before(async () => {
  [stack, registry] = await Promise.all([startStack(), startRegistry()]);
  dir = mkdtempSync(join(tmpdir(), 'sigstack-keys-'));
  writeFileSync(join(dir, 'trusted_root.json'), JSON.stringify(stack.trustedRoot));
});
test.after.always(async () => {
  await stack?.close();
  await registry?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('the encrypted key file has cosign\'s format and refuses a wrong password or tampered parameters', (t) => {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = encryptPrivateKey(privateKey, 'pw');
  t.regex(pem, /^-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n/);
  const doc = JSON.parse(pemToDerList(pem, 'ENCRYPTED SIGSTORE PRIVATE KEY')[0]!.toString());
  t.deepEqual(Object.keys(doc), ['kdf', 'cipher', 'ciphertext']);
  t.deepEqual(doc.kdf.params, { N: 65536, r: 8, p: 1 });
  t.is(doc.kdf.name, 'scrypt');
  t.is(doc.cipher.name, 'nacl/secretbox');
  t.is(Buffer.from(doc.kdf.salt, 'base64').length, 32);
  t.is(Buffer.from(doc.cipher.nonce, 'base64').length, 24);
  const back = decryptPrivateKey(pem, 'pw');
  t.deepEqual(back.export({ type: 'pkcs8', format: 'der' }), privateKey.export({ type: 'pkcs8', format: 'der' }));
  t.throws(() => decryptPrivateKey(pem, 'wrong'), { instanceOf: KeyFileError, message: /wrong password/ });
  const huge = derToPem(Buffer.from(JSON.stringify({ ...doc, kdf: { ...doc.kdf, params: { N: 1 << 24, r: 8, p: 1 } } })), 'ENCRYPTED SIGSTORE PRIVATE KEY');
  t.throws(() => decryptPrivateKey(huge, 'pw'), { message: /unexpected scrypt parameters/ });
});

// A key written by cosign itself (empty password), published as a test fixture in conforma/cli's Go tests (TestSignVSA).
const COSIGN_WRITTEN_KEY = `-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----
eyJrZGYiOnsibmFtZSI6InNjcnlwdCIsInBhcmFtcyI6eyJOIjo2NTUzNiwiciI6
OCwicCI6MX0sInNhbHQiOiJLYU9OQzduQVJLOVgxM1FoaWFucjAwTTBGYys2Sitr
dnAxN1FuanpiVk9nPSJ9LCJjaXBoZXIiOnsibmFtZSI6Im5hY2wvc2VjcmV0Ym94
Iiwibm9uY2UiOiJVOHZqWWtqMlZOUFZGdlZFZWZ3bXZ5VGloUERrelBoaCJ9LCJj
aXBoZXJ0ZXh0IjoidWNWMnQ4TTZVNFJvb29FOXc0d3dkc3E1RDYrS2RKY245dERT
KzFwRDRGN040SVJOWEgzSTBua3h1a3NackFOUHR1emIvTkVYQ201dUp3Zjh3Qzl1
VlprbXdwNU5jRUZ6b3ZNS3JCZmNvdXdjaEkrMzkrQ0NhbVZPbzBucmRnZjhvcmpK
dXdrWDBYL1phY0RUTERGaUxyc1laMWVMMmlqMGU1MVRpZmVQNTl4WXNPK1FnM1Jv
OURRVjNQMk9ndDFDaVFHeGg1VXhUZytGc3c9PSJ9
-----END ENCRYPTED SIGSTORE PRIVATE KEY-----`;

test('a cosign.key written by cosign decrypts to its P-256 key', (t) => {
  const key = decryptPrivateKey(COSIGN_WRITTEN_KEY, '');
  t.is(key.asymmetricKeyType, 'ec');
  t.is(key.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  t.throws(() => decryptPrivateKey(COSIGN_WRITTEN_KEY, 'x'), { instanceOf: KeyFileError });
});

test('CLI: generate-key-pair, sign-image --key, verify-image --key; another key fails', async (t) => {
  const env = { COSIGN_PASSWORD: 'correct horse' };
  const gen = await runCli(['generate-key-pair', '--dir', dir], { env });
  t.is(gen.code, 0, gen.stderr);
  t.is(statSync(join(dir, 'cosign.key')).mode & 0o777, 0o600);
  readPublicKey(readFileSync(join(dir, 'cosign.pub'), 'utf8'));
  const client = new RegistryClient({ registry: registry.host });
  const digest = await pushRandomImage(client, 'keyed/app', 'v1');
  const image = `${registry.host}/keyed/app:v1`;
  const signed = await runCli(['sign-image', image, '--key', join(dir, 'cosign.key'), '--rekor-url', stack.url], { env });
  t.is(signed.code, 0, signed.stderr);
  const root = join(dir, 'trusted_root.json');
  const ok = await runCli(['verify-image', image, '--key', join(dir, 'cosign.pub'), '--trusted-root', root]);
  t.is(ok.code, 0, ok.stderr);
  // cosign's summary for a key: no certificate was involved, the key verified the signatures.
  t.regex(ok.stderr, /The signatures were verified against the specified public key/);
  t.notRegex(ok.stderr, /certificate/);
  const out = JSON.parse(ok.stdout);
  t.is(out[0].critical.image['docker-manifest-digest'], digest);
  t.is(out[0].optional, null);
  const badPw = await runCli(['sign-image', image, '--key', join(dir, 'cosign.key'), '--rekor-url', stack.url], { env: { COSIGN_PASSWORD: 'nope' } });
  t.is(badPw.code, 2);
  t.is((await runCli(['generate-key-pair', '--dir', dir, '--output-key-prefix', 'other'], { env })).code, 0);
  // without $COSIGN_PASSWORD the password is read from stdin, as cosign does when no terminal is attached
  const piped = await runCli(['generate-key-pair', '--dir', dir, '--output-key-prefix', 'piped'], { input: 'piped pw' });
  t.is(piped.code, 0, piped.stderr);
  t.is(decryptPrivateKey(readFileSync(join(dir, 'piped.key'), 'utf8'), 'piped pw').asymmetricKeyType, 'ec');
  const pipedSign = await runCli(['sign-image', image, '--key', join(dir, 'piped.key'), '--rekor-url', stack.url], { input: 'piped pw' });
  t.is(pipedSign.code, 0, pipedSign.stderr);
  const wrong = await runCli(['verify-image', image, '--key', join(dir, 'other.pub'), '--trusted-root', root]);
  t.is(wrong.code, 1);
  t.regex(wrong.stderr, /the logged key is not the given key/);
});
