import test from 'ava';
import { generateKeyPairSync, sign, X509Certificate } from 'node:crypto';
import { createCaHierarchy } from '../../ca/hierarchy.ts';
import { CertificateAuthority, type CertificateIssuer } from '../../ca/issue.ts';
import { parseIssuerConfig } from '../../ca/issuers.ts';
import { TokenVerifier } from '../../ca/token.ts';
import { SigstackError, UnavailableError } from '../../core/errors.ts';
import { generateSigner } from '../../core/signer.ts';
import { createIssuingPool, type IssuingPool } from '../../services/ca-workers.ts';
import { HonestCtLog, verifyEmbeddedScts } from '../ca/fixtures.ts';
import { startOidcIssuer, type OidcIssuer } from '../helpers/oidc.ts';

// The issuing pool (services/ca-workers.ts): whole CAs on worker threads, SCTs from this thread's CT log.
// Every answer and every error must be what the CA on this thread gives for the same request.

let idp: OidcIssuer;
let pool: IssuingPool;
let inline: CertificateAuthority;
let ctLog: HonestCtLog;
let chain: { rootDer: Buffer; intermediateDer: Buffer };

test.before(async () => {
  idp = await startOidcIssuer();
  const rootSigner = generateSigner();
  const intermediateSigner = generateSigner();
  chain = createCaHierarchy({ rootSigner, intermediateSigner, organization: 'sigstack-test' });
  const config = parseIssuerConfig(JSON.stringify({ OIDCIssuers: { [idp.issuer]: { IssuerURL: idp.issuer, ClientID: 'sigstore', Type: 'email' } } }), 'test-config.json');
  ctLog = new HonestCtLog(chain.rootDer);
  const chainDer = [chain.intermediateDer, chain.rootDer];
  inline = new CertificateAuthority({
    tokens: new TokenVerifier(config), issuerConfig: config, intermediate: { signer: intermediateSigner, certDer: chain.intermediateDer }, chainDer, sctSource: ctLog,
  });
  pool = createIssuingPool({ size: 2, issuerConfig: config, intermediateKey: intermediateSigner.privateKey, chainDer, sctSource: ctLog, inline });
});

test.after.always(async () => {
  await pool?.close();
  await idp?.close();
});

function request(token: string, subject = 'alice@example.com') {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    credentials: { oidcIdentityToken: token },
    publicKeyRequest: {
      publicKey: { algorithm: 'ECDSA', content: publicKey.export({ type: 'spki', format: 'pem' }) },
      proofOfPossession: sign('sha256', Buffer.from(subject), privateKey).toString('base64'),
    },
  };
}

async function failure(issuer: CertificateIssuer, body: unknown): Promise<{ status: number; code: string; message: string }> {
  try {
    await issuer.issue(body);
  } catch (e) {
    if (!(e instanceof SigstackError)) throw e;
    return { status: e.status, code: e.code, message: e.message };
  }
  throw new Error('issued');
}

test.serial('certificates issued on the workers carry an SCT the CT log on this thread signed, for the precertificate of the same TBS', async (t) => {
  const token = await idp.mint({ email: 'alice@example.com', email_verified: true });
  const before = ctLog.received.length;
  const issued = await Promise.all(Array.from({ length: 8 }, () => pool.issue(request(token))));
  t.is(ctLog.received.length - before, 8);
  const serials = new Set<string>();
  for (const { chainPem, issuer, issuerType } of issued) {
    t.is(issuer, idp.issuer);
    t.is(issuerType, 'email');
    const leaf = new X509Certificate(chainPem[0]!);
    serials.add(leaf.serialNumber);
    t.is(leaf.subjectAltName, 'email:alice@example.com');
    t.true(leaf.verify(new X509Certificate(chain.intermediateDer).publicKey));
    t.true(verifyEmbeddedScts(leaf.raw, chain.intermediateDer, ctLog.signer));
    t.deepEqual(chainPem.slice(1).map((p) => new X509Certificate(p).raw), [chain.intermediateDer, chain.rootDer]);
  }
  t.is(serials.size, 8);
  // (HonestCtLog refuses a first certificate without the critical poison: each of these was a precertificate)
  for (const sent of ctLog.received.slice(before)) {
    t.is(sent.length, 3);
    t.deepEqual(sent.slice(1), [chain.intermediateDer, chain.rootDer]);
  }
});

test.serial('refusals come back with the status, code and message the CA on this thread gives', async (t) => {
  const token = await idp.mint({ email: 'alice@example.com', email_verified: true });
  const cases: unknown[] = [
    request('not-a-jwt'),
    request(await idp.mint({ email: 'alice@example.com', email_verified: true }, { signWith: 'stranger' })),
    request(await idp.mint({ email: 'alice@example.com', email_verified: false })),
    request(token, 'mallory@example.com'),
    { credentials: { oidcIdentityToken: token } },
    [1, 2],
  ];
  const sent = ctLog.received.length;
  for (const body of cases) t.deepEqual(await failure(pool, body), await failure(inline, body));
  t.is(ctLog.received.length, sent, 'nothing refused reached the CT log');
});

test.serial('a CT log that fails gives the same 503 through the workers, and nothing is issued', async (t) => {
  const token = await idp.mint({ email: 'alice@example.com', email_verified: true });
  try {
    for (const err of [new UnavailableError('the log is down'), new Error('disk full')]) {
      ctLog.failWith = err;
      const viaPool = await failure(pool, request(token));
      t.is(viaPool.status, 503);
      t.deepEqual(viaPool, await failure(inline, request(token)));
    }
  } finally {
    ctLog.failWith = undefined;
  }
});
