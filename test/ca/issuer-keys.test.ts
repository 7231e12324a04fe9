import 'reflect-metadata'; // @peculiar/x509 (tsyringe) needs the Reflect metadata API
import test from 'ava';
import { generateKeyPairSync, webcrypto } from 'node:crypto';
import https from 'node:https';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import * as x509 from '@peculiar/x509';
import { exportJWK, SignJWT } from 'jose';
import { parseIssuerConfig } from '../../ca/issuers.ts';
import { TokenVerifier } from '../../ca/token.ts';
import { startOidcIssuer } from '../helpers/oidc.ts';

/** Where an issuer's keys come from: a static JWKS file (no network at all), or HTTPS behind a private CA (CACert). */

test('JWKSFile: tokens verify against the static keys with the issuer unreachable; other keys are refused', async (t) => {
  const oidc = await startOidcIssuer();
  const jwks = await (await fetch(`${oidc.issuer}/jwks`)).json();
  const good = await oidc.mint({ sub: 'alice' });
  const forged = await oidc.mint({ sub: 'alice' }, { signWith: 'stranger' });
  await oidc.close(); // from here on the issuer cannot be reached
  const dir = mkdtempSync(join(tmpdir(), 'sigstack-jwks-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'issuer.jwks.json'), JSON.stringify(jwks));
  const config = parseIssuerConfig(
    `oidc-issuers:\n  ${oidc.issuer}:\n    issuer-url: ${oidc.issuer}\n    client-id: sigstore\n    type: uri\n    subject-domain: http://127.0.0.1\n    jwks-file: issuer.jwks.json\n`,
    'f.yaml', { readFile: (p) => readFileSync(join(dir, p), 'utf8') },
  );
  const verifier = new TokenVerifier(config);
  t.is((await verifier.verify(good)).claims.sub, 'alice');
  await t.throwsAsync(verifier.verify(forged), { message: /signature verification failed/ });
  t.deepEqual(oidc.requests.filter((r) => !r.endsWith('/jwks')), []);
  // a JWKS file with a private or symmetric key is refused at start
  writeFileSync(join(dir, 'bad.json'), JSON.stringify({ keys: [{ kty: 'oct', k: 'c2VjcmV0' }] }));
  t.throws(() => parseIssuerConfig(JSON.stringify({ OIDCIssuers: { 'https://a.example.com': { IssuerURL: 'https://a.example.com', ClientID: 'x', Type: 'email', JWKSFile: 'bad.json' } } }), 'f.json',
    { readFile: (p) => readFileSync(join(dir, p), 'utf8') }), { message: /public keys only/ });
});

async function privateCaServer(): Promise<{ url: string; caPem: string; close: () => Promise<void>; mint: (claims: Record<string, unknown>) => Promise<string> }> {
  x509.cryptoProvider.set(webcrypto as unknown as Crypto);
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const caKeys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']) as CryptoKeyPair;
  const notBefore = new Date(Date.now() - 3600_000);
  const notAfter = new Date(Date.now() + 86400_000);
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01', name: 'CN=Private Test CA', notBefore, notAfter, signingAlgorithm: alg, keys: caKeys,
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true)],
  });
  const serverKeys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']) as CryptoKeyPair;
  const leaf = await x509.X509CertificateGenerator.create({
    serialNumber: '02', subject: 'CN=127.0.0.1', issuer: ca.subject, notBefore, notAfter, signingAlgorithm: alg,
    publicKey: serverKeys.publicKey, signingKey: caKeys.privateKey,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'ip', value: '127.0.0.1' }])],
  });
  const keyPem = x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', serverKeys.privateKey), 'PRIVATE KEY');
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' };
  let url = '';
  const server = https.createServer({ key: keyPem, cert: leaf.toString('pem') }, (req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    if (req.url === '/.well-known/openid-configuration') res.end(JSON.stringify({ issuer: url, jwks_uri: `${url}/jwks`, id_token_signing_alg_values_supported: ['ES256'] }));
    else res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const mint = (claims: Record<string, unknown>) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ aud: 'sigstore', iss: url, ...claims }).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setIssuedAt(now).setExpirationTime(now + 300).sign(privateKey);
  };
  return { url, caPem: ca.toString('pem'), mint, close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

test('CACert: an issuer behind a private TLS CA is reached with that CA, and not without it', async (t) => {
  const issuer = await privateCaServer();
  t.teardown(issuer.close);
  const config = (caCert?: string) => parseIssuerConfig(JSON.stringify({
    OIDCIssuers: { [issuer.url]: { IssuerURL: issuer.url, ClientID: 'sigstore', Type: 'email', ...(caCert ? { CACert: caCert } : {}) } },
  }), 'f.json');
  const token = await issuer.mint({ email: 'a@example.com', email_verified: true, sub: 'a' });
  t.is((await new TokenVerifier(config(issuer.caPem)).verify(token)).claims.email, 'a@example.com');
  const err = await t.throwsAsync(new TokenVerifier(config()).verify(token));
  t.regex(err!.message, /unreachable/);
});
