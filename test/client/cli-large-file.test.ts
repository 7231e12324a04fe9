/**
 * `sigstack sign --key` and `sigstack verify` on a file larger than 2 GiB, which no Node.js API can read whole
 * (readFileSync refuses it: "File size ... is greater than 2 GiB"): both commands must stream it. The file is
 * sparse (fs.truncate), so it costs no disk, only the time to hash it (twice for sign: hash and signer).
 * Keyless `sign` streamed already; its verify runs the same code as `verify --key` for the file.
 * Hashing 2 GiB three times takes 25-30 s on a loaded 2-core machine: long for one test, and worth it in a suite
 * of several minutes, as nothing else shows that the commands never hold the file. It also shows that those seconds
 * are not silent: both commands report their hashing progress on stderr.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { encryptPrivateKey } from '../../client/oci/cosign-key.ts';
import { derToPem } from '../../core/pem.ts';
import { runCli } from '../helpers/cli.ts';
import { startStack, type TestStack } from '../helpers/stack.ts';

let stack: TestStack;
let dir: string;
const SIZE = 2 * 1024 ** 3 + 1;

test.before(async () => {
  stack = await startStack();
  dir = mkdtempSync(join(tmpdir(), 'sigstack-large-'));
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  writeFileSync(join(dir, 'cosign.key'), encryptPrivateKey(privateKey, 'pw'), { mode: 0o600 });
  writeFileSync(join(dir, 'cosign.pub'), derToPem(publicKey.export({ type: 'spki', format: 'der' }), 'PUBLIC KEY'));
  writeFileSync(join(dir, 'trusted_root.json'), JSON.stringify(stack.trustedRoot));
  writeFileSync(join(dir, 'big.bin'), '');
  truncateSync(join(dir, 'big.bin'), SIZE);
});
test.after.always(async () => {
  await stack?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('a sparse file over 2 GiB: sign --key and verify --key stream it; one changed byte is refused', async (t) => {
  t.timeout(180_000);
  const big = join(dir, 'big.bin');
  t.is(statSync(big).size, SIZE);
  const bundle = join(dir, 'big.sigstore.json');
  const signed = await runCli(['sign', big, '--bundle', bundle, '--key', join(dir, 'cosign.key'), '--rekor-url', stack.url], { env: { COSIGN_PASSWORD: 'pw' } });
  t.is(signed.code, 0, signed.stderr);
  // seconds of hashing are not silent: a line a second on stderr, share done and rate
  t.regex(signed.stderr, /Hashing \S+big\.bin: \d+% \(\d.* of 2\.1 GB\), \d+ MB\/s\n/);
  const verifyArgs = ['verify', big, '--bundle', bundle, '--trusted-root', join(dir, 'trusted_root.json'), '--key', join(dir, 'cosign.pub')];
  const ok = await runCli(verifyArgs);
  t.is(ok.code, 0, ok.stderr);
  t.regex(ok.stderr, /Verified OK[\s\S]*signature: verifies/);
  t.regex(ok.stderr, /Hashing \S+big\.bin: \d+% \(\d.* of 2\.1 GB\), \d+ MB\/s\n/);
  // Growing the file by one byte changes its digest: the streamed digest is the file's, not a constant.
  truncateSync(big, SIZE + 1);
  const grown = await runCli(verifyArgs);
  t.is(grown.code, 1, grown.stderr);
  t.regex(grown.stderr, /\[DIGEST\]/);
});
