/**
 * The rotated stack that test/rekor/rotation.test.ts reads: signed on, rotated with `sigstack log rotate`,
 * restarted and signed on again. Its state is exported as live bindings, set by setUpRotatedStack.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleToJSON } from '@sigstore/bundle';
import { FulcioSigner, MessageSignatureBundleBuilder, RekorWitness } from '@sigstore/sign';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toTrustMaterial, Verifier } from '@sigstore/verify';
import { signArtifact } from '../../client/sign.ts';
import { readMeta } from '../../services/meta.ts';
import { rotateRekorLog } from '../../services/log-rotation.ts';
import { runCli } from '../helpers/cli.ts';
import { audit } from '../../client/commands/log.ts';
import { startStack, type TestStack } from '../helpers/stack.ts';

export type Json = Record<string, any>;
export const dataDir = mkdtempSync(join(tmpdir(), 'sigstack-rotation-'));
export const artifactA = Buffer.from('signed before the rotation\n');
export const artifactB = Buffer.from('signed after the rotation\n');
export let stack: TestStack;
export let issuerA: string;
export let bundleA: Json;
export let extraA: Json;
export let bundleB: Json;
export let stockBundle: Json;
export const stockArtifact = Buffer.from('signed by sigstore-js after the rotation');
export let rotateOut: string;
export let oldTree: string;
export let oldKeyPem: string;
export let refusedWhileRunning: string;
export let treeBeforeRotation: string;
export const savedCheckpoint = join(dataDir, 'audit-checkpoint.txt');

export async function sign(s: TestStack, artifact: Buffer): Promise<Json> {
  return (await signArtifact({ artifact, identityToken: await s.mintToken(), fulcioUrl: s.url, rekorUrl: s.url })) as Json;
}

/** Signs on a stack, audits, stops it, rotates the log, restarts on the same folder and signs again (two clients). */
export async function setUpRotatedStack(): Promise<void> {
  const first = await startStack({ dataDir });
  try {
    issuerA = first.issuer;
    bundleA = await sign(first, artifactA);
    extraA = await sign(first, Buffer.from('a second entry in the old tree'));
    await audit({ url: first.url, checkpoint: savedCheckpoint });
    // a server is running on the folder: rotation refuses and changes nothing
    treeBeforeRotation = readMeta(dataDir).log!.treeId;
    refusedWhileRunning = await rotateRekorLog(dataDir).then(() => 'rotated', (err: Error) => err.message);
  } finally {
    await first.close();
  }
  oldTree = readMeta(dataDir).log!.treeId;
  const r = await runCli(['log', 'rotate', '--data-dir', dataDir]);
  if (r.code !== 0) throw new Error(`log rotate failed: ${r.stderr}`);
  rotateOut = r.stdout + r.stderr;
  oldKeyPem = readFileSync(join(dataDir, `keys/rekor-${oldTree}.key.pem`), 'utf8');
  stack = await startStack({ dataDir });
  bundleB = await sign(stack, artifactB);
  const token = await stack.mintToken();
  const builder = new MessageSignatureBundleBuilder({
    signer: new FulcioSigner({ fulcioBaseURL: stack.url, identityProvider: { getToken: async () => token } }),
    witnesses: [new RekorWitness({ rekorBaseURL: stack.url })],
  });
  stockBundle = bundleToJSON(await builder.create({ data: stockArtifact })) as Json;
}

export async function tearDownRotatedStack(): Promise<void> {
  await stack?.close();
  rmSync(dataDir, { recursive: true, force: true });
}

export const tlogEntry = (b: Json): Json => b.verificationMaterial.tlogEntries[0];
export const get = async (path: string): Promise<{ status: number; json: any; text: string }> => {
  const res = await fetch(`${stack.url}${path}`);
  const text = await res.text();
  let json: unknown;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, json, text };
};
export const post = async (path: string, body: unknown) => {
  const res = await fetch(`${stack.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as any };
};
export const stock = () => new Verifier(toTrustMaterial(TrustedRoot.fromJSON(stack.trustedRoot)), { ctlogThreshold: 1, tlogThreshold: 1 });
