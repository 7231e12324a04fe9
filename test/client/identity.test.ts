import test from 'ava';
import { AsnConvert } from '@peculiar/asn1-schema';
import { VerificationError } from '../../core/errors.ts';
import { generateSigner } from '../../core/signer.ts';
import { certificateIdentity, compilePolicy, verifyIdentity, type Policy } from '../../client/verify/identity.ts';
import { loadLeaf } from '../../client/verify/leaf.ts';
import { EMAIL, GeneralName, ISSUER, OtherName, TestPki, Utf8Value } from './pki-fixture.ts';

const pki = new TestPki();
const leafWith = (o: Parameters<TestPki['leaf']>[1]) => loadLeaf(pki.leaf(generateSigner(), o));

function code(t: any, fn: () => unknown, expected: string, message?: RegExp): void {
  const err = t.throws(fn, { instanceOf: VerificationError });
  t.is(err.code, expected);
  if (message) t.regex(err.message, message);
}

function matches(policy: Policy, san: string, issuer = ISSUER): boolean {
  try {
    verifyIdentity({ san, sanType: 'email', issuer }, compilePolicy(policy));
    return true;
  } catch (e) {
    if (e instanceof VerificationError) return false;
    throw e;
  }
}

test('exact identity and issuer', (t) => {
  t.true(matches({ identity: EMAIL, issuer: ISSUER }, EMAIL));
  t.false(matches({ identity: EMAIL, issuer: ISSUER }, 'bob@example.com'));
  t.false(matches({ identity: EMAIL, issuer: ISSUER }, EMAIL, 'https://evil.example.com'));
  t.false(matches({ identity: EMAIL, issuer: ISSUER }, `${EMAIL} `));
});

test('sigstore-js#1656 / sigstore-go#558: a regexp must match the WHOLE value', (t) => {
  const policy = { identityRegexp: 'alice@example\\.com', issuerRegexp: 'https://issuer\\.example\\.com' };
  t.true(matches(policy, EMAIL));
  t.false(matches(policy, 'alice@example.com.attacker.net'));
  t.false(matches(policy, 'malice@example.com'));
  t.false(matches(policy, EMAIL, 'https://issuer.example.com.evil.net'));
  t.false(matches(policy, EMAIL, 'https://evil.net/?https://issuer.example.com'));
  // Alternation cannot escape the anchors either.
  t.false(matches({ identityRegexp: 'x|alice', issuer: ISSUER }, EMAIL));
  t.true(matches({ identityRegexp: '.*@example\\.com', issuer: ISSUER }, EMAIL));
});

test('GHSA-8gw7-4j42-w388: identity and issuer are both required, exactly one form each', (t) => {
  code(t, () => compilePolicy({ issuer: ISSUER }), 'POLICY', /identity/);
  code(t, () => compilePolicy({ identity: EMAIL }), 'POLICY', /issuer/);
  code(t, () => compilePolicy({ identity: EMAIL, identityRegexp: '.*', issuer: ISSUER }), 'POLICY', /exactly one/);
  code(t, () => compilePolicy({ identity: EMAIL, issuer: ISSUER, issuerRegexp: '.*' }), 'POLICY', /exactly one/);
  code(t, () => compilePolicy({ identityRegexp: '(', issuer: ISSUER }), 'POLICY', /not a valid regular expression/);
  code(t, () => compilePolicy({ identity: '', issuer: ISSUER }), 'POLICY', /empty/);
  code(t, () => compilePolicy(undefined as never), 'POLICY');
});

test('the SAN is read as an email, a URI or a Fulcio username otherName', (t) => {
  t.like(certificateIdentity(leafWith({})), { san: EMAIL, sanType: 'email', issuer: ISSUER });
  const uri = 'https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main';
  t.like(certificateIdentity(leafWith({ san: new GeneralName({ uniformResourceIdentifier: uri }) })), { san: uri, sanType: 'uri' });
  const username = new GeneralName({ otherName: new OtherName({ typeId: '1.3.6.1.4.1.57264.1.7', value: AsnConvert.serialize(new Utf8Value('bob')) }) });
  t.like(certificateIdentity(leafWith({ san: username })), { san: 'bob', sanType: 'username' });
});

test('an ambiguous or unknown SAN is refused', (t) => {
  code(t, () => certificateIdentity(leafWith({ san: [new GeneralName({ rfc822Name: EMAIL }), new GeneralName({ rfc822Name: 'mallory@example.com' })] })), 'IDENTITY', /2 subject alternative names/);
  code(t, () => certificateIdentity(leafWith({ san: new GeneralName({ dNSName: 'example.com' }) })), 'IDENTITY', /not an email, URI or username/);
  const other = new GeneralName({ otherName: new OtherName({ typeId: '1.2.3.4', value: AsnConvert.serialize(new Utf8Value('bob')) }) });
  code(t, () => certificateIdentity(leafWith({ san: other })), 'IDENTITY');
});

test('issuer: extension .1.8 first, the deprecated .1.1 as fallback, and the two must agree', (t) => {
  t.is(certificateIdentity(leafWith({ issuer: null, issuerV1: 'https://v1.example' })).issuer, 'https://v1.example');
  t.is(certificateIdentity(leafWith({ issuerV1: ISSUER })).issuer, ISSUER);
  code(t, () => certificateIdentity(leafWith({ issuerV1: 'https://other.example' })), 'ISSUER', /disagree/);
  code(t, () => certificateIdentity(leafWith({ issuer: null })), 'ISSUER', /no OIDC issuer/);
});
