/**
 * `serve ca` embeds the SCT its CT log (another process, --log-url) answers. That SCT is checked first: it must
 * come from a CT log key of the trusted root the CA serves and cover exactly this precertificate; otherwise the
 * CA answers 503 and issues nothing, instead of certificates no verifier accepts (a reviewer's impostor log at
 * --log-url got 200s). The answer's size is capped.
 */
import test from 'ava';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import { UnavailableError } from '../../core/errors.ts';
import { generateSigner, type Signer } from '../../core/signer.ts';
import { ENTRY_TYPE_PRECERT, HASH_SHA256, SIG_ECDSA, sctSignedData, sctToJson } from '../../core/sct.ts';
import { ctLogKey, httpSctSource } from '../../services/sct-http.ts';
import { TestPki } from '../client/pki-fixture.ts';

const pki = new TestPki();
const own = { tbsWithoutPoisonDer: Buffer.from('the precertificate TBS without its poison') };
const chain = [Buffer.from('precertificate'), pki.intermediateDer, pki.rootDer];
const issuerKeyHash = createHash('sha256').update(pki.intermediate.publicKeyDer).digest();

function sct(signer: Signer, tbs = own.tbsWithoutPoisonDer) {
  const timestamp = BigInt(Date.now());
  const signature = signer.sign(sctSignedData(timestamp, { type: ENTRY_TYPE_PRECERT, issuerKeyHash, tbsCertificate: tbs }));
  return sctToJson({ version: 0, logId: signer.keyId, timestamp, extensions: Buffer.alloc(0), hashAlgorithm: HASH_SHA256, signatureAlgorithm: SIG_ECDSA, signature });
}

/** A CT log answering add-pre-chain with `answer()`, counting the calls. */
async function fakeLog(t: import('ava').ExecutionContext, answer: () => string): Promise<string> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(answer()));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test('an SCT from the trusted CT log key over this precertificate is embedded; an impostor\'s, another entry\'s or a huge answer is a 503', async (t) => {
  const trusted = generateSigner();
  let refreshes = 0;
  const ctLogKeys = async (refresh: boolean) => {
    if (refresh) refreshes++;
    return [ctLogKey(trusted.publicKeyDer)];
  };
  const good = httpSctSource(await fakeLog(t, () => JSON.stringify(sct(trusted))), { ctLogKeys });
  t.deepEqual((await good.addPreChain(chain, own)).logId, trusted.keyId);
  t.is(refreshes, 0);

  const cases: [string, () => string, RegExp][] = [
    ['an impostor key', () => JSON.stringify(sct(generateSigner())), /answered an SCT from log id [0-9a-f]{64}, which is not a CT log of the trusted root/],
    ['another precertificate', () => JSON.stringify(sct(trusted, Buffer.from('some other TBS'))), /SCT whose signature does not cover this precertificate/],
    ['a megabyte', () => JSON.stringify({ ...sct(trusted), extensions: 'A'.repeat(1 << 20) }), /answered more than 65536 bytes/],
    ['not an SCT', () => '{"sct_version": 7}', /returned a malformed SCT/],
  ];
  for (const [what, answer, message] of cases) {
    const source = httpSctSource(await fakeLog(t, answer), { ctLogKeys });
    const err = await t.throwsAsync(source.addPreChain(chain, own), { instanceOf: UnavailableError }, what);
    t.regex(err!.message, message, what);
  }
  t.is(refreshes, 1, 'an unknown log id made the keys be read again once (the log may have a new key)');
});
