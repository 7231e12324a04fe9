import test from 'ava';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { Command } from 'commander';
import { registerBackupCommands } from '../../client/commands/log-backup.ts';
import { backupDataDir, readManifest, restoreDataDir, type BackupManifest } from '../../services/backup.ts';
import { generateSigner } from '../../core/signer.ts';
import { parseCheckpointBody, parseSignedNote, signCheckpoint } from '../../log/checkpoint.ts';
import { startServer } from '../helpers/cli.ts';
import { hashedRekordProposal } from '../helpers/rekord.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'sigstack-backup-'));

/** `sigstack log <args>` as the lead wires it: the `log` group with our commands registered. */
async function logCommand(args: string[]): Promise<void> {
  const program = new Command().exitOverride();
  registerBackupCommands(program.command('log'));
  await program.parseAsync(['log', ...args], { from: 'user' });
}

function splitArchive(file: string): { manifest: BackupManifest; files: Map<string, Buffer> } {
  const { manifest, offset } = readManifest(file);
  const bytes = readFileSync(file);
  const files = new Map<string, Buffer>();
  let at = offset;
  for (const f of manifest.files) {
    files.set(f.path, bytes.subarray(at, at + f.size));
    at += f.size;
  }
  return { manifest, files };
}

function writeArchive(file: string, manifest: BackupManifest, files: Map<string, Buffer>): void {
  const m = { ...manifest, files: manifest.files.map((f) => ({ path: f.path, size: files.get(f.path)!.length, sha256: createHash('sha256').update(files.get(f.path)!).digest('hex') })) };
  writeFileSync(file, Buffer.concat([Buffer.from(`SIGSTACK-BACKUP 1\n${JSON.stringify(m)}\n`), ...m.files.map((f) => files.get(f.path)!)]));
}

test('backup under load, restore, and audit the restored log against checkpoints taken before', async (t) => {
  const dataDir = tmp();
  const server = await startServer(['--data-dir', dataDir]);
  const acked: string[] = [];
  let stop = false;
  const writer = async () => {
    while (!stop) {
      const res = await fetch(`${server.url}/api/v1/log/entries`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(hashedRekordProposal().proposal) });
      if (res.status === 201) acked.push(Object.keys(await res.json() as object)[0]!);
    }
  };
  const writers = Array.from({ length: 8 }, writer);
  const checkpoints: { treeSize: number; rootHash: string; signedTreeHead: string }[] = [];
  const archive = join(tmp(), 'log.sigstack-backup');
  let ackedBeforeBackup: string[] = [];
  try {
    while (acked.length < 50) await new Promise((r) => setTimeout(r, 20));
    checkpoints.push(await (await fetch(`${server.url}/api/v1/log`)).json() as never);
    while (acked.length < 100) await new Promise((r) => setTimeout(r, 20));
    checkpoints.push(await (await fetch(`${server.url}/api/v1/log`)).json() as never);
    ackedBeforeBackup = [...acked];
    await logCommand(['backup', '--data-dir', dataDir, '--to', archive]); // while the writers keep writing
    const afterBackup = acked.length;
    while (acked.length < afterBackup + 20) await new Promise((r) => setTimeout(r, 20));
  } finally {
    stop = true;
    await Promise.all(writers);
    server.child.kill('SIGTERM');
    await once(server.child, 'exit');
  }
  t.is(statSync(archive).mode & 0o777, 0o600, 'the archive holds private keys');
  const { manifest } = readManifest(archive);
  const backedUp = parseCheckpointBody(parseSignedNote(manifest.checkpoints.rekor).body).size;
  t.true(backedUp >= ackedBeforeBackup.length, 'everything acknowledged before the backup started is in it');

  const restored = join(tmp(), 'restored');
  await logCommand(['restore', '--from', archive, '--data-dir', restored]);
  t.is(statSync(join(restored, 'keys', 'rekor.key.pem')).mode & 0o777, 0o600);
  const again = await startServer(['--data-dir', restored]);
  try {
    const info = await (await fetch(`${again.url}/api/v1/log`)).json() as { treeSize: number; signedTreeHead: string };
    t.is(info.treeSize, backedUp);
    for (const c of checkpoints) {
      // the restored tree has, at every earlier checkpoint's size, that checkpoint's root
      const proof = await (await fetch(`${again.url}/api/v1/log/proof?firstSize=1&lastSize=${c.treeSize}`)).json() as { rootHash: string };
      t.is(proof.rootHash, c.rootHash, `root at size ${c.treeSize}`);
      const consistency = await fetch(`${again.url}/api/v1/log/proof?firstSize=${c.treeSize}&lastSize=${info.treeSize}`);
      t.is(consistency.status, 200);
    }
    // the same log identity: the restored log signs under the name of the checkpoints taken before
    const resigned = await (await fetch(`${again.url}/api/v1/log/entries?logIndex=${checkpoints[0]!.treeSize - 1}`)).json() as Record<string, { verification: { inclusionProof: { checkpoint: string } } }>;
    t.is(parseSignedNote(Object.values(resigned)[0]!.verification.inclusionProof.checkpoint).signatures[0]!.name, parseSignedNote(checkpoints[0]!.signedTreeHead).signatures[0]!.name);
    for (const uuid of ackedBeforeBackup) t.is((await fetch(`${again.url}/api/v1/log/entries/${uuid}`)).status, 200, uuid);
  } finally {
    again.child.kill('SIGTERM');
    await once(again.child, 'exit');
  }
});

test('restore refuses an archive whose log does not match its signed checkpoint, a corrupt file, a foreign signature, a non-empty folder', async (t) => {
  const dataDir = tmp();
  const server = await startServer(['--data-dir', dataDir]);
  const small = join(tmp(), 'small.bak');
  const big = join(tmp(), 'big.bak');
  try {
    const post = () => fetch(`${server.url}/api/v1/log/entries`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(hashedRekordProposal().proposal) });
    for (let i = 0; i < 3; i++) await post();
    await backupDataDir(dataDir, small);
    for (let i = 0; i < 3; i++) await post();
    await backupDataDir(dataDir, big);
  } finally {
    server.child.kill('SIGTERM');
    await once(server.child, 'exit');
  }
  const target = () => join(tmp(), 'restore-here');

  // the later archive's checkpoints with the earlier rekor.db: the tree is not the one that was signed
  const a = splitArchive(small);
  const b = splitArchive(big);
  const swapped = join(tmp(), 'swapped.bak');
  writeArchive(swapped, b.manifest, new Map([...b.files, ['log/rekor.db', a.files.get('log/rekor.db')!]]));
  const d1 = target();
  await t.throwsAsync(restoreDataDir(swapped, d1), { message: /the rekor log has 3 entries, its signed checkpoint 6/ });
  t.false(existsSync(d1), 'a refused restore leaves nothing behind');

  // a checkpoint signed by someone else's key
  const signer = generateSigner();
  const body = parseCheckpointBody(parseSignedNote(b.manifest.checkpoints.rekor).body);
  const name = parseSignedNote(b.manifest.checkpoints.rekor).signatures[0]!.name;
  const forged = join(tmp(), 'forged.bak');
  writeArchive(forged, { ...b.manifest, checkpoints: { ...b.manifest.checkpoints, rekor: signCheckpoint(body, name, signer) } }, b.files);
  await t.throwsAsync(restoreDataDir(forged, target()), { message: /rekor checkpoint is not signed by the backed-up rekor key/ });

  // one flipped byte, manifest untouched
  const bytes = readFileSync(big);
  bytes[bytes.length - 10] ^= 0xff;
  const corrupt = join(tmp(), 'corrupt.bak');
  writeFileSync(corrupt, bytes);
  await t.throwsAsync(restoreDataDir(corrupt, target()), { message: /is corrupt \(SHA-256 differs/ });

  const busy = target();
  mkdirSync(busy);
  writeFileSync(join(busy, 'x'), 'x');
  await t.throwsAsync(restoreDataDir(big, busy), { message: /is not empty/ });
  await t.throwsAsync(restoreDataDir(dataDir + '/meta.json', target()), { message: /is not a sigstack backup/ });

  const ok = target();
  t.deepEqual(await restoreDataDir(big, ok), { rekor: 6, ct: 0 });
});
