import test from 'ava';
import Database from 'better-sqlite3';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { generateSigner } from '../../core/signer.ts';
import { leafHash } from '../../log/merkle/hash.ts';
import { runCli } from '../helpers/cli.ts';
import { tempDbPath } from '../log-engine/temp-dir.ts';
import { post, proposal, startIndexedRekor } from './rekor-server.ts';

test('log fill + log audit: a clean log passes and the checkpoint is saved; a database edited behind the server is caught, naming the index', async (t) => {
  const path = tempDbPath(t);
  let rekor = await startIndexedRekor(path);
  t.teardown(() => rekor.close());
  const saved = join(dirname(path), 'saved-checkpoint.txt');

  const filled = await runCli(['log', 'fill', '--url', rekor.url, '--count', '300', '--concurrency', '8']);
  t.is(filled.code, 0, filled.stderr);
  t.is(rekor.log.size(), 300);

  const first = await runCli(['log', 'audit', '--url', rekor.url, '--checkpoint', saved]);
  t.is(first.code, 0, first.stderr);
  t.regex(first.stdout, /Audit OK: 300 entries/);
  t.regex(first.stderr, /entries\/s, ETA/);
  t.regex(readFileSync(saved, 'utf8'), /\n300\n/);

  // more entries: the saved checkpoint must be consistent with the new one
  for (let i = 0; i < 3; i++) t.is((await post(rekor.url, '/api/v1/log/entries', proposal(generateSigner()).body)).status, 201);

  // someone edits entry 7's body in the database; the tree and the checkpoint still say otherwise
  const db = new Database(path);
  t.teardown(() => db.close());
  const original = db.prepare('SELECT leaf FROM entries WHERE idx = 7').pluck().get() as Buffer;
  db.prepare('UPDATE entries SET leaf = ? WHERE idx = 7').run(Buffer.from(original.toString().replace('sha256', 'sha512')));
  const caught = await runCli(['log', 'audit', '--url', rekor.url, '--checkpoint', saved]);
  t.is(caught.code, 1);
  t.regex(caught.stderr, /Audit FAILED: entry 7:/);
  t.regex(readFileSync(saved, 'utf8'), /\n300\n/, 'a failed audit does not replace the saved checkpoint');

  // A careful forger also rewrites the leaf hash where the store keeps it (schema 2: level 0 lives in the 64-leaf
  // tile rows, entry 7 at byte 7 * 32 of row 0) and restarts the server, so that no cache holds the honest row: the
  // bodies match the hash tiles again, and the server's root still comes from the untouched level-8 node. Only the
  // history check can catch it: the first 300 entries no longer hash to the saved root.
  const tileRow = () => db.prepare('SELECT hashes FROM tiles WHERE tile = 0').pluck().get() as Buffer;
  const setLeafHash = async (hash: Buffer) => {
    await rekor.close();
    const row = Buffer.from(tileRow());
    hash.copy(row, 7 * 32);
    t.is(db.prepare('UPDATE tiles SET hashes = ? WHERE tile = 0').run(row).changes, 1);
    rekor = await startIndexedRekor(path, rekor.signer);
  };
  await setLeafHash(leafHash(db.prepare('SELECT leaf FROM entries WHERE idx = 7').pluck().get() as Buffer));
  const { audit } = await import('../../client/commands/log.ts');
  const err = await t.throwsAsync(audit({ url: rekor.url, checkpoint: saved }));
  t.is(err!.message, 'the first 300 entries (up to index 299) no longer hash to the root of the saved checkpoint: history was rewritten');

  db.prepare('UPDATE entries SET leaf = ? WHERE idx = 7').run(original);
  await setLeafHash(leafHash(original));
  const ok = await audit({ url: rekor.url, checkpoint: saved });
  t.is(ok.size, 303);
  t.regex(readFileSync(saved, 'utf8'), /\n303\n/);
});

test('log audit checks the checkpoint signature against the log key of a trusted root or a PEM file', async (t) => {
  const path = tempDbPath(t);
  const rekor = await startIndexedRekor(path);
  t.teardown(rekor.close);
  await rekor.log.append(Buffer.from('an entry'));
  const { audit } = await import('../../client/commands/log.ts');
  const dir = dirname(path);
  const trustedRoot = join(dir, 'trusted_root.json');
  const tlog = (der: Buffer) => ({ baseUrl: rekor.url, publicKey: { rawBytes: der.toString('base64') } });
  writeFileSync(trustedRoot, JSON.stringify({ tlogs: [tlog(rekor.signer.publicKeyDer)] }));
  t.is((await audit({ url: rekor.url, trustedRoot })).size, 1);
  const stranger = join(dir, 'stranger.pem');
  writeFileSync(stranger, generateSigner().publicKey.export({ type: 'spki', format: 'pem' }));
  const err = await t.throwsAsync(audit({ url: rekor.url, publicKey: stranger }));
  t.regex(err!.message, /checkpoint signature does not verify/);
});
