import test from 'ava';
import { generateSigner, type Signer } from '../../core/signer.ts';
import { probeKey } from '../../services/keys.ts';

test('readiness key probe: a key that signs and verifies passes; a failing or mismatched key fails, naming it', (t) => {
  const good = generateSigner();
  t.notThrows(() => probeKey('rekor', good));
  t.throws(() => probeKey('CA intermediate', good, generateSigner().publicKey), { message: /CA intermediate key's signature does not verify/ });
  const broken: Signer = { ...good, sign: () => { throw new Error('CKR_SESSION_HANDLE_INVALID'); } };
  t.throws(() => probeKey('ct', broken), { message: /the ct key cannot sign: CKR_SESSION_HANDLE_INVALID/ });
});
