import test from 'ava';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signArtifact } from '../../client/sign.ts';
import { createVerifier } from '../../client/verify/index.ts';
import { pemToDerList } from '../../core/pem.ts';
import { runCli } from '../helpers/cli.ts';
import { startStack, TEST_EMAIL } from '../helpers/stack.ts';

/**
 * The intermediate key in an HSM (SoftHSM2 through PKCS#11): `ca init` generates it inside the token, `serve`
 * signs certificates with it, and no intermediate key file exists anywhere. Needs Debian's softhsm2
 * (.ci/apt-packages.txt, installed by `npm test`).
 */
const MODULE = '/usr/lib/softhsm/libsofthsm2.so';

test('ca init with SIGSTACK_CA_PKCS11_*: the CA signs with a key that never leaves SoftHSM', async (t) => {
  t.true(existsSync(MODULE), `${MODULE} is missing: install softhsm2 (scripts/ensure-apt.sh)`);
  const dir = mkdtempSync(join(tmpdir(), 'sigstack-hsm-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'tokens'));
  writeFileSync(join(dir, 'softhsm2.conf'), `directories.tokendir = ${join(dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`);
  const env = {
    SOFTHSM2_CONF: join(dir, 'softhsm2.conf'),
    SIGSTACK_CA_PKCS11_MODULE: MODULE,
    SIGSTACK_CA_PKCS11_TOKEN: 'sigstack-test',
    SIGSTACK_CA_PKCS11_PIN: '246810',
    SIGSTACK_CA_PASSPHRASE: 'a passphrase for the root key',
  };
  execFileSync('softhsm2-util', ['--init-token', '--free', '--label', 'sigstack-test', '--pin', '246810', '--so-pin', '13579111'], { env: { ...process.env, ...env }, stdio: 'ignore' });
  const dataDir = join(dir, 'data');
  const init = await runCli(['ca', 'init', '--data-dir', dataDir, '--root-key-out', join(dir, 'root.key.pem')], { env });
  t.is(init.code, 0, init.stderr);
  t.regex(init.stderr, /PKCS#11 token "sigstack-test" key "sigstack-ca-intermediate"/);
  t.false(existsSync(join(dataDir, 'keys', 'ca-intermediate.key.pem')), 'no intermediate key file');

  Object.assign(process.env, env, { SIGSTACK_CA_PKCS11_PIN: '000000' });
  await t.throwsAsync(startStack({ dataDir }), { message: /login to token "sigstack-test" failed/ });
  process.env.SIGSTACK_CA_PKCS11_PIN = env.SIGSTACK_CA_PKCS11_PIN;
  const stack = await startStack({ dataDir });
  t.teardown(() => stack.close());
  const artifact = Buffer.from('signed through an HSM\n');
  const bundle = await signArtifact({ artifact, identityToken: await stack.mintToken(), fulcioUrl: stack.url, rekorUrl: stack.url }) as { verificationMaterial: { certificate: { rawBytes: string } } };
  t.is(createVerifier(stack.trustedRoot).verify({ artifact, bundle, policy: { identity: TEST_EMAIL, issuer: stack.issuer } }).identity, TEST_EMAIL);
  // the leaf is signed by the intermediate whose key is in the token
  const [intermediate] = pemToDerList(readFileSync(join(dataDir, 'ca', 'chain.pem'), 'utf8'));
  const leaf = new X509Certificate(Buffer.from(bundle.verificationMaterial.certificate.rawBytes, 'base64'));
  t.true(leaf.verify(new X509Certificate(intermediate!).publicKey));
  t.false(existsSync(join(dataDir, 'keys', 'ca-intermediate.key.pem')), 'serve created no intermediate key file');
});
