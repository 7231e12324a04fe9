import test from 'ava';
import fc from 'fast-check';
import { lookupIssuer, metaIssuerRegex, parseIssuerConfig } from '../../ca/issuers.ts';

/** Fulcio's issuer configuration: both syntaxes, validation that names the key, anchored wildcards. */

const google = 'https://accounts.google.com';

test('parses Fulcio JSON, with defaults resolved', (t) => {
  const config = parseIssuerConfig(JSON.stringify({
    OIDCIssuers: {
      [google]: { IssuerURL: google, ClientID: 'sigstore', Type: 'email' },
      'https://oauth2.sigstore.dev/auth': { IssuerURL: 'https://oauth2.sigstore.dev/auth', ClientID: 'sigstore', Type: 'email', IssuerClaim: '$.federated_claims.connector_id' },
      'https://token.actions.githubusercontent.com': { IssuerURL: 'https://token.actions.githubusercontent.com', ClientID: 'sigstore', Type: 'github-workflow' },
      'https://accounts.example.com': { IssuerURL: 'https://accounts.example.com', ClientID: 'sigstore', Type: 'uri', SubjectDomain: 'https://users.example.com' },
      'https://id.example.com': { IssuerURL: 'https://id.example.com', ClientID: 'sigstore', Type: 'username', SubjectDomain: 'example.com', ChallengeClaim: 'preferred_username' },
    },
    MetaIssuers: { 'https://oidc.eks.*.amazonaws.com/id/*': { ClientID: 'sigstore', Type: 'uri', SubjectDomain: 'https://example.com' } },
  }), 'fulcio.json');
  t.is(config.issuers.size, 5);
  t.like(config.issuers.get(google), { clientId: 'sigstore', type: 'email', challengeClaim: 'email', skipEmailVerification: false });
  t.is(config.issuers.get('https://token.actions.githubusercontent.com')!.challengeClaim, 'sub');
  t.is(config.issuers.get('https://id.example.com')!.challengeClaim, 'preferred_username');
  t.is(config.metaIssuers.length, 1);
  const eks = 'https://oidc.eks.us-west-2.amazonaws.com/id/B02C93B6A2D30341AD01E1B6D48164CB';
  t.like(lookupIssuer(config, eks), { issuerUrl: eks, type: 'uri', clientId: 'sigstore' });
  t.is(lookupIssuer(config, google)!.issuerUrl, google);
  t.is(lookupIssuer(config, 'https://evil.example.com'), undefined);
});

test('parses the YAML spelling and JSON keys in any case (as Go does)', (t) => {
  const yaml = parseIssuerConfig([
    'oidc-issuers:',
    `  ${google}:`,
    `    issuer-url: ${google}`,
    '    client-id: sigstore',
    '    type: email',
    '    skip-email-verification: true',
    'meta-issuers:',
    '  https://tenants.example.com/*:',
    '    client-id: sigstore',
    '    type: email',
  ].join('\n'), 'fulcio.yaml');
  t.true(yaml.issuers.get(google)!.skipEmailVerification);
  t.is(yaml.metaIssuers[0]!.pattern, 'https://tenants.example.com/*');
  const lower = parseIssuerConfig(JSON.stringify({ oidcissuers: { [google]: { issuerurl: google, clientid: 'sigstore', TYPE: 'email' } } }), 'x.json');
  t.is(lower.issuers.get(google)!.clientId, 'sigstore');
});

function refuses(t: any, config: unknown, message: RegExp) {
  t.throws(() => parseIssuerConfig(typeof config === 'string' ? config : JSON.stringify(config), 'bad.json'), { message });
}

const issuer = (fields: Record<string, unknown>) => ({ OIDCIssuers: { [google]: { IssuerURL: google, ClientID: 'sigstore', Type: 'email', ...fields } } });

test('refuses bad configurations with a message naming the file and the key', (t) => {
  refuses(t, '{ not json', /^bad\.json: not valid JSON or YAML/);
  refuses(t, '[1]', /must be a mapping/);
  refuses(t, {}, /no OIDCIssuers or MetaIssuers/);
  refuses(t, { OIDCIssuer: {} }, /bad\.json: unknown key "OIDCIssuer"/);
  refuses(t, issuer({ Type: 'spiffe' }), /OIDCIssuers\["https:\/\/accounts\.google\.com"\]: spiffe issuer must have SPIFFETrustDomain set/);
  refuses(t, issuer({ Type: 'buildkite' }), /unknown issuer type "buildkite"/);
  refuses(t, issuer({ Type: 'e-mail' }), /unknown issuer type "e-mail"/);
  refuses(t, issuer({ Type: undefined }), /accounts\.google\.com"\]: Type is required/);
  refuses(t, issuer({ ClientID: undefined }), /ClientID is required/);
  refuses(t, issuer({ ClientID: 7 }), /ClientID must be a string/);
  refuses(t, issuer({ IssuerURL: undefined }), /IssuerURL is required/);
  refuses(t, issuer({ IssuerURL: 'https://other.example.com' }), /differs from its key/);
  refuses(t, issuer({ ClientId: 'x' }), /"ClientId" is given twice/);
  refuses(t, issuer({ Colour: 'blue' }), /unknown key "Colour"/);
  refuses(t, issuer({ SkipEmailVerification: 'yes' }), /SkipEmailVerification must be a boolean/);
  refuses(t, issuer({ CACert: '-----BEGIN CERTIFICATE-----' }), /CACert holds a certificate that cannot be parsed|CACert holds no PEM/);
  refuses(t, issuer({ IssuerClaim: '$..x' }), /IssuerClaim .* must look like/);
  refuses(t, { OIDCIssuers: { 'ftp://x.example.com': { IssuerURL: 'ftp://x.example.com', ClientID: 'a', Type: 'email' } } }, /must be an http\(s\) URL/);
  refuses(t, { OIDCIssuers: { 'not a url': { IssuerURL: 'not a url', ClientID: 'a', Type: 'email' } } }, /is not a valid URL/);
  refuses(t, { OIDCIssuers: { 'https://x.example.com/?q': { IssuerURL: 'https://x.example.com/?q', ClientID: 'a', Type: 'email' } } }, /query or a fragment/);
  refuses(t, { MetaIssuers: { 'https://x.example.com/': { ClientID: 'a', Type: 'email' } } }, /MetaIssuers\["https:\/\/x\.example\.com\/"\]: a meta issuer URL must contain a \* wildcard/);
});

test('fulcio#606: IssuerClaim is only for email issuers', (t) => {
  refuses(t, issuer({ Type: 'github-workflow', IssuerClaim: '$.iss2' }), /only email issuers can use IssuerClaim/);
  refuses(t, { MetaIssuers: { 'https://*.example.com': { ClientID: 'a', Type: 'uri', SubjectDomain: 'https://example.com', IssuerClaim: '$.x' } } }, /only email issuers/);
});

test('uri and username issuers must have a SubjectDomain the issuer can speak for', (t) => {
  const uri = (domain: string | undefined, url = 'https://accounts.example.com') => ({ OIDCIssuers: { [url]: { IssuerURL: url, ClientID: 'a', Type: 'uri', SubjectDomain: domain } } });
  refuses(t, uri(undefined), /uri issuer must have SubjectDomain set/);
  refuses(t, uri('example.com'), /must be a URL with a scheme/);
  refuses(t, uri('http://example.com'), /schemes do not match/);
  refuses(t, uri('https://example.org'), /do not share their top- and second-level domains/);
  t.notThrows(() => parseIssuerConfig(JSON.stringify(uri('https://users.example.com')), 'ok.json'));
  const username = (domain: string | undefined) => ({ OIDCIssuers: { 'https://accounts.example.com': { IssuerURL: 'https://accounts.example.com', ClientID: 'a', Type: 'username', SubjectDomain: domain } } });
  refuses(t, username(undefined), /username issuer must have SubjectDomain set/);
  refuses(t, username('https://example.com'), /without scheme/);
  refuses(t, username('example.org'), /do not share/);
  refuses(t, username('com'), /hostname too short/);
  t.notThrows(() => parseIssuerConfig(JSON.stringify(username('example.com')), 'ok.json'));
});

test('GHSA-59jp-pj84-45mr: meta issuer regexes are anchored and * never crosses . / ? # :', (t) => {
  const re = metaIssuerRegex('https://oidc.eks.*.amazonaws.com/id/*');
  t.true(re.test('https://oidc.eks.us-west-2.amazonaws.com/id/B02C93B6'));
  t.false(re.test('http://localhost:3000?https://oidc.eks.us-west-2.amazonaws.com/id/B02C93B6'));
  t.false(re.test('https://oidc.eks.us-west-2.amazonaws.com/id/B02C93B6/extra'));
  t.false(re.test('https://oidc.eks.a.b.amazonaws.com/id/x'));
  t.false(re.test('https://oidcXeks.a.amazonaws.com/id/x'));
  t.false(re.test('https://oidc.eks.a.amazonaws.com/id/x\n'));
  fc.assert(fc.property(fc.string(), fc.string(), (prefix, suffix) => {
    const candidate = `${prefix}https://oidc.eks.r.amazonaws.com/id/x${suffix}`;
    // Whatever surrounds a matching URL, the whole must still be exactly pattern-shaped.
    return !re.test(candidate) || (prefix === '' && /^[-_a-zA-Z0-9]*$/.test(suffix));
  }));
});
