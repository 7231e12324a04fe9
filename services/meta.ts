import { existsSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { writeFileAtomic } from './keys.ts';

/**
 * Facts fixed when a data folder is first used and never changed after, because signed artefacts
 * depend on them: the Rekor tree id (in every entry UUID and checkpoint origin), the checkpoint signer name
 * (verifiers match it against the trusted root's tlog baseUrl), the public URLs and creation times
 * (the start of each key's validity window in trusted_root.json).
 */
export interface DeploymentMeta {
  version: 1;
  log?: {
    treeId: string;
    /** Checkpoint signer name: host[:port] of the log's public URL at creation. */
    signerName: string;
    baseUrl: string;
    createdAt: string;
    ctBaseUrl: string;
  };
  ca?: { baseUrl: string; createdAt: string };
}

function metaFile(dataDir: string): string {
  return join(dataDir, 'meta.json');
}

export function readMeta(dataDir: string): DeploymentMeta {
  const file = metaFile(dataDir);
  if (!existsSync(file)) return { version: 1 };
  const meta = JSON.parse(readFileSync(file, 'utf8')) as DeploymentMeta;
  if (meta.version !== 1) throw new Error(`${file}: unsupported meta version ${String(meta.version)}`);
  return meta;
}

export function writeMeta(dataDir: string, meta: DeploymentMeta): void {
  writeFileAtomic(metaFile(dataDir), `${JSON.stringify(meta, null, 2)}\n`);
}

/** A random positive int64 as a decimal string, as Trillian tree ids are. */
export function newTreeId(): string {
  return (randomBytes(8).readBigUInt64BE() >> 1n).toString();
}

export function signerNameFor(url: string): string {
  return new URL(url).host;
}
