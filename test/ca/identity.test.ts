import test from 'ava';
import { BadRequestError } from '../../core/errors.ts';
import { OID } from '../../ca/extensions.ts';
import { principalFromToken } from '../../ca/identity/index.ts';
import { parseEmailVerified } from '../../ca/identity/email.ts';
import { goJoinPath } from '../../ca/identity/go-join-path.ts';
import { parseIssuerConfig, type IssuerSettings } from '../../ca/issuers.ts';
import type { VerifiedToken } from '../../ca/token.ts';
import { GITHUB_CLAIMS } from './claims-fixtures.ts';

/** The principal rules: pure functions of verified claims and issuer settings. */

const ISS = 'https://accounts.example.com';

function settings(type: string, extra: Record<string, unknown> = {}): IssuerSettings {
  const config = parseIssuerConfig(JSON.stringify({ OIDCIssuers: { [ISS]: { IssuerURL: ISS, ClientID: 'sigstore', Type: type, ...extra } } }), 't.json');
  return config.issuers.get(ISS)!;
}

function token(s: IssuerSettings, claims: Record<string, unknown>): VerifiedToken {
  return { issuer: ISS, settings: s, claims: { iss: ISS, aud: 'sigstore', ...claims } };
}

const utf8 = (s: string) => Buffer.concat([Buffer.from([0x0c, Buffer.byteLength(s)]), Buffer.from(s)]);

function refuses(t: any, tok: VerifiedToken, message: RegExp) {
  const err = t.throws(() => principalFromToken(tok));
  t.true(err instanceof BadRequestError);
  t.regex(err.message, message);
}

test('fulcio#1744: email_verified is a bool or exactly "true"/"True"/"false"/"False"', (t) => {
  for (const v of [true, 'true', 'True']) t.true(parseEmailVerified(v));
  for (const v of [false, 'false', 'False', undefined]) t.false(parseEmailVerified(v));
  for (const v of ['yes', 'TRUE', 1, 0, null, '', [], {}]) t.throws(() => parseEmailVerified(v), { message: /invalid value for email_verified/ });
});

test('email principal: verified address as SAN, issuer and subject extensions in upstream order', (t) => {
  const p = principalFromToken(token(settings('email'), { sub: 'uid-1', email: 'alice@example.com', email_verified: 'True' }));
  t.is(p.name, 'alice@example.com');
  t.deepEqual(p.san, { type: 'email', value: 'alice@example.com' });
  t.deepEqual(p.extensions.map((e) => e.oid), [OID.issuerV1, OID.issuerV2, OID.tokenSubject]);
  t.deepEqual(p.extensions.map((e) => e.value), [Buffer.from(ISS), utf8(ISS), utf8('uid-1')]);
  t.true(p.extensions.every((e) => !e.critical));
});

test('email principal refuses unverified, malformed or missing addresses', (t) => {
  const s = settings('email');
  refuses(t, token(s, { email: 'alice@example.com', email_verified: false }), /email_verified claim was false/);
  refuses(t, token(s, { email: 'alice@example.com' }), /email_verified claim was false/);
  refuses(t, token(s, { email: 'alice@example.com', email_verified: 'yes' }), /invalid value for email_verified/);
  refuses(t, token(s, { email_verified: true }), /missing email claim/);
  refuses(t, token(s, { email: 'not an email', email_verified: true }), /not valid/);
  refuses(t, token(s, { email: 'al\u00efce@example.com', email_verified: true }), /not valid|ASCII/);
  refuses(t, token(s, { email: 42, email_verified: true }), /must be a string/);
  // SkipEmailVerification lets a false (but never a garbled) claim through.
  const skip = settings('email', { SkipEmailVerification: true });
  t.is(principalFromToken(token(skip, { email: 'a@example.com', email_verified: false })).name, 'a@example.com');
  refuses(t, token(skip, { email: 'a@example.com', email_verified: 'nope' }), /invalid value/);
});

test('email principal with IssuerClaim certifies the federated issuer from the claim', (t) => {
  const s = settings('email', { IssuerClaim: '$.federated_claims.connector_id' });
  const p = principalFromToken(token(s, { email: 'a@example.com', email_verified: true, federated_claims: { connector_id: 'https://github.com/login/oauth' } }));
  t.deepEqual(p.extensions[0]!.value, Buffer.from('https://github.com/login/oauth'));
  t.deepEqual(p.extensions[1]!.value, utf8('https://github.com/login/oauth'));
  refuses(t, token(s, { email: 'a@example.com', email_verified: true }), /issuer claim .* not found/);
  refuses(t, token(s, { email: 'a@example.com', email_verified: true, federated_claims: { connector_id: 7 } }), /non-empty string/);
});

test('uri principal: sub must have the SubjectDomain scheme and host', (t) => {
  const s = settings('uri', { SubjectDomain: 'https://users.example.com' });
  const p = principalFromToken(token(s, { sub: 'https://users.example.com/alice' }));
  t.is(p.name, 'https://users.example.com/alice');
  t.deepEqual(p.san, { type: 'uri', value: 'https://users.example.com/alice' });
  refuses(t, token(s, { sub: 'https://evil.example.com/alice' }), /must match expected domain/);
  refuses(t, token(s, { sub: 'http://users.example.com/alice' }), /scheme/);
  refuses(t, token(s, { sub: 'alice@users.example.com' }), /should not be an email/);
  refuses(t, token(s, { sub: 'alice' }), /no \/\/host authority/);
  refuses(t, token(s, {}), /missing sub/);
});

test('uri principal: the host is read as Go reads it, never as a lenient parser could read another host in it', (t) => {
  const s = settings('uri', { SubjectDomain: 'https://users.example.com' });
  t.is(principalFromToken(token(s, { sub: 'https://users.example.com:8443/x?y=1#z' })).name, 'https://users.example.com:8443/x?y=1#z');
  // WHATWG URL sees host users.example.com in each; Python's urlsplit sees evil.com in the first; Go refuses most.
  const cases: [string, RegExp][] = [
    ['https://users.example.com\\@evil.com/x', /characters a URI may not/],
    ['https://users.example.com\\.evil.com/', /characters a URI may not/],
    ['https://users.example.com/x y', /characters a URI may not/],
    ['https:users.example.com/x', /no \/\/host authority/],
    ['https://EVIL@users.example.com/', /no user info/],
    ['https://%75sers.example.com/', /no user info, no percent-encoding/],
    ['https://users.example.com./', /must match expected domain/],
  ];
  for (const [sub, message] of cases) refuses(t, token(s, { sub }), message);
});

test('username principal: OtherName sub!SubjectDomain, no ! and no email in the name', (t) => {
  const s = settings('username', { SubjectDomain: 'example.com' });
  const p = principalFromToken(token(s, { sub: 'alice' }));
  t.is(p.name, 'alice');
  t.deepEqual(p.san, { type: 'otherName', value: 'alice!example.com' });
  t.deepEqual(p.extensions.at(-1)!.value, utf8('alice'));
  refuses(t, token(s, { sub: 'al!ce' }), /cannot contain !/);
  refuses(t, token(s, { sub: 'alice@example.com' }), /should not be an email/);
  // UTF8String names beyond ASCII are certified as written, ZWNJ (Persian, Indic scripts) included...
  for (const sub of ['zoë', 'ユーザー', 'می\u200cخواهم']) t.deepEqual(principalFromToken(token(s, { sub })).san, { type: 'otherName', value: `${sub}!example.com` });
  // ...but nothing a reader would not see as written: terminal escapes, bidi overrides, zero-width space, BOM, NUL,
  // C1 controls, and unpaired surrogates (asn1js would certify U+FFFD, another name than the token's).
  const unprintable: [string, RegExp][] = [
    ['\x1b[31mroot', /unprintable character U\+001B/], ['adm\u202enib', /U\+202E/], ['al\u200bice', /U\+200B/],
    ['\ufeffalice', /U\+FEFF/], ['alice\x00', /U\+0000/], ['alice\x85', /U\+0085/], ['al\u2066ice', /U\+2066/],
    ['alice\ud800', /unpaired surrogate/], ['\udc00alice', /unpaired surrogate/],
    // a reviewer's list of what the first version let through
    ['ali\u00adce', /U\+00AD/], ['ali\u061cce', /U\+061C/], ['ali\u180ece', /U\+180E/], ['ali\u2028ce', /U\+2028/], ['ali\u2029ce', /U\+2029/],
    ['alice\u{e0041}', /U\+E0041/], ['ali\ufff9ce', /U\+FFF9/], ['ali\u034fce', /U\+034F/], ['ali\u3164ce', /U\+3164/], ['alice\ufe0f', /U\+FE0F/],
  ];
  for (const [sub, message] of unprintable) refuses(t, token(s, { sub }), message);
});


test('github-workflow principal: SAN and the 1.2-1.6, 1.8-1.22 extensions exactly as Fulcio renders them', (t) => {
  const p = principalFromToken(token(settings('github-workflow'), GITHUB_CLAIMS));
  t.is(p.name, GITHUB_CLAIMS.sub);
  t.deepEqual(p.san, { type: 'uri', value: 'https://github.com/octo-org/octo-automation/.github/workflows/oidc.yml@refs/heads/main' });
  const raw = (s: string) => Buffer.from(s);
  const expected: [string, Buffer][] = [
    [OID.issuerV1, raw(ISS)],
    [OID.githubWorkflowTrigger, raw('push')],
    [OID.githubWorkflowSha, raw('a'.repeat(40))],
    [OID.githubWorkflowName, raw('example-workflow')],
    [OID.githubWorkflowRepository, raw('octo-org/octo-repo')],
    [OID.githubWorkflowRef, raw('refs/heads/main')],
    [OID.issuerV2, utf8(ISS)],
    [OID.buildSignerUri, utf8('https://github.com/octo-org/octo-automation/.github/workflows/oidc.yml@refs/heads/main')],
    [OID.buildSignerDigest, utf8('b'.repeat(40))],
    [OID.runnerEnvironment, utf8('github-hosted')],
    [OID.sourceRepositoryUri, utf8('https://github.com/octo-org/octo-repo')],
    [OID.sourceRepositoryDigest, utf8('a'.repeat(40))],
    [OID.sourceRepositoryRef, utf8('refs/heads/main')],
    [OID.sourceRepositoryIdentifier, utf8('74')],
    [OID.sourceRepositoryOwnerUri, utf8('https://github.com/octo-org')],
    [OID.sourceRepositoryOwnerIdentifier, utf8('65')],
    [OID.buildConfigUri, utf8('https://github.com/octo-org/octo-repo/.github/workflows/example.yml@refs/heads/main')],
    [OID.buildConfigDigest, utf8('c'.repeat(40))],
    [OID.buildTrigger, utf8('push')],
    [OID.runInvocationUri, utf8('https://github.com/octo-org/octo-repo/actions/runs/42/attempts/2')],
    [OID.sourceRepositoryVisibilityAtSigning, utf8('private')],
    [OID.tokenSubject, utf8(GITHUB_CLAIMS.sub)],
  ];
  t.deepEqual(p.extensions.map((e) => [e.oid, e.value]), expected);
});

test('github-workflow principal needs every claim upstream needs, as strings', (t) => {
  const s = settings('github-workflow');
  for (const claim of ['job_workflow_ref', 'sha', 'run_attempt', 'repository_visibility']) {
    refuses(t, token(s, { ...GITHUB_CLAIMS, [claim]: undefined }), new RegExp(`missing ${claim} claim`));
  }
  refuses(t, token(s, { ...GITHUB_CLAIMS, run_id: 42 }), /run_id claim must be a string/);
});

test("goJoinPath reproduces Go's URL.JoinPath(...).String()", (t) => {
  const gh = 'https://github.com';
  t.is(goJoinPath(gh, 'o/r/.github/workflows/w.yml@refs/tags/v1.0'), 'https://github.com/o/r/.github/workflows/w.yml@refs/tags/v1.0');
  t.is(goJoinPath(gh, 'o/r', 'actions/runs', '1', 'attempts', '1'), 'https://github.com/o/r/actions/runs/1/attempts/1');
  t.is(goJoinPath(gh, 'o/../../x//y/./z'), 'https://github.com/x/y/z');
  t.is(goJoinPath(gh, 'o/r w?x#y'), 'https://github.com/o/r%20w%3Fx%23y');
  t.is(goJoinPath(gh, "o/(r)!*'"), "https://github.com/o/(r)!*'");
  t.is(goJoinPath(gh, 'o/%41b'), 'https://github.com/o/%41b');
  t.is(goJoinPath(gh, 'o/%zz'), 'https://github.com/');
  t.is(goJoinPath(gh, 'o/r/'), 'https://github.com/o/r/');
  t.is(goJoinPath(gh, ''), 'https://github.com/');
  t.is(goJoinPath(gh, 'é'), 'https://github.com/%C3%A9');
});

test('fulcio#2023: claim values are written verbatim, never HTML-escaped', (t) => {
  const tricky = 'Build <&> "it" \'now\'';
  const p = principalFromToken(token(settings('github-workflow'), { ...GITHUB_CLAIMS, workflow: tricky, event_name: 'a&b' }));
  t.deepEqual(p.extensions.find((e) => e.oid === OID.githubWorkflowName)!.value, Buffer.from(tricky));
  t.deepEqual(p.extensions.find((e) => e.oid === OID.buildTrigger)!.value, utf8('a&b'));
});
