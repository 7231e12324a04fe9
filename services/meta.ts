import { existsSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Signer } from '../core/signer.ts';
import { writeFileAtomic } from '../core/atomic-file.ts';
import { loadKeyFile } from './keys.ts';

/**
 * Facts fixed when a data folder is first used and never changed after, because signed artefacts
 * depend on them: the Rekor tree id (in every entry UUID and checkpoint origin), the checkpoint signer name
 * (verifiers match it against the trusted root's tlog baseUrl), the public URLs and creation times
 * (the start of each key's validity window in trusted_root.json).
 * `sigstack log rotate` is the one thing that changes `log`: it freezes the active Rekor tree into
 * `inactiveShards` and starts a new tree with a new key (`treeId`, `activeSince`, `dbFile`, `keyFile`).
 */
export interface DeploymentMeta {
  version: 1;
  log?: {
    /** The active Rekor tree (the one appended to). */
    treeId: string;
    /** Checkpoint signer name: host[:port] of the log's public URL at creation. */
    signerName: string;
    baseUrl: string;
    /** When the log was created (the first tree's key and the CT key start here). */
    createdAt: string;
    ctBaseUrl: string;
    /** When the active tree's key started; absent before any rotation (then createdAt). */
    activeSince?: string;
    /** The active tree's database and key, relative to the data folder; absent before any rotation (then the legacy names). */
    dbFile?: string;
    keyFile?: string;
    /** Frozen earlier trees, oldest first: their entries come before the active tree's in the global index. */
    inactiveShards?: InactiveShardMeta[];
  };
  ca?: { baseUrl: string; createdAt: string };
}

/** A Rekor tree frozen by `sigstack log rotate`: read-only, its key kept only to serve its entries. */
export interface InactiveShardMeta {
  treeId: string;
  dbFile: string;
  keyFile: string;
  /** Final size and root (hex), and the checkpoint of that tree signed with the shard's own key at rotation. */
  treeSize: number;
  rootHash: string;
  checkpoint: string;
  /** The shard key's validity window (trusted_root.json): from its start to the rotation. */
  start: string;
  end: string;
}

/** Where one Rekor tree lives, active or frozen. */
export interface RekorTreeFiles {
  treeId: string;
  dbFile: string;
  keyFile: string;
}

export const LEGACY_REKOR_DB = 'log/rekor.db';
export const LEGACY_REKOR_KEY = 'keys/rekor.key.pem';

/** The active tree's files: the names recorded by the last rotation, or the names of a never-rotated log. */
export function activeRekorTree(log: NonNullable<DeploymentMeta['log']>): RekorTreeFiles {
  return { treeId: log.treeId, dbFile: log.dbFile ?? LEGACY_REKOR_DB, keyFile: log.keyFile ?? LEGACY_REKOR_KEY };
}

/**
 * The active tree's key of a recorded log: it must exist (verifiers were given it). Only the log's first start,
 * before meta.json records it, creates one (services/log-service.ts).
 */
export function activeRekorKey(dataDir: string, log: NonNullable<DeploymentMeta['log']>): Signer {
  const tree = activeRekorTree(log);
  return loadKeyFile(join(dataDir, tree.keyFile), `the Rekor key of tree ${tree.treeId}`);
}

/** Tree-id-specific file names, given to every tree a rotation creates or freezes. */
export function rekorTreeFiles(treeId: string): RekorTreeFiles {
  return { treeId, dbFile: `log/rekor-${treeId}.db`, keyFile: `keys/rekor-${treeId}.key.pem` };
}

function metaFile(dataDir: string): string {
  return join(dataDir, 'meta.json');
}

export function readMeta(dataDir: string): DeploymentMeta {
  const file = metaFile(dataDir);
  if (!existsSync(file)) return { version: 1 };
  let meta: DeploymentMeta;
  try {
    meta = JSON.parse(readFileSync(file, 'utf8')) as DeploymentMeta;
  } catch (err) {
    throw new Error(`${file} is not valid JSON (${(err as Error).message}): restore it from a backup (sigstack log backup)`);
  }
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) throw new Error(`${file}: expected a JSON object`);
  if (meta.version !== 1) throw new Error(`${file}: ${meta.version === undefined ? 'no version' : `unsupported version ${JSON.stringify(meta.version)}`}`);
  for (const [part, fields] of [['log', ['treeId', 'signerName', 'baseUrl', 'ctBaseUrl', 'createdAt']], ['ca', ['baseUrl', 'createdAt']]] as const) {
    const value = meta[part] as Record<string, unknown> | undefined;
    if (value === undefined) continue;
    if (typeof value !== 'object' || value === null) throw new Error(`${file}: ${part} must be an object`);
    for (const f of fields) if (typeof value[f] !== 'string') throw new Error(`${file}: ${part}.${f} must be a string`);
  }
  const log = meta.log;
  if (log) {
    // file names come from our own rotation: anything else (absolute, `..`) is a hand edit we refuse to follow
    const shards = log.inactiveShards ?? [];
    for (const f of [log.dbFile, log.keyFile, ...shards.flatMap((s) => [s.dbFile, s.keyFile])]) {
      if (f !== undefined && !/^(?:log|keys)\/[A-Za-z0-9._-]+$/.test(f)) throw new Error(`${file}: unexpected file name ${JSON.stringify(f)}`);
    }
    for (const s of shards) {
      if (!Number.isSafeInteger(s.treeSize) || s.treeSize < 0 || !/^[0-9a-f]{64}$/.test(s.rootHash) || typeof s.checkpoint !== 'string') {
        throw new Error(`${file}: inactive shard ${String(s.treeId)} has no valid size, root and checkpoint`);
      }
    }
  }
  return meta;
}

export function writeMeta(dataDir: string, meta: DeploymentMeta): void {
  writeFileAtomic(metaFile(dataDir), `${JSON.stringify(meta, null, 2)}\n`, 0o644);
}

/** A random positive int64 as a decimal string, as Trillian tree ids are. */
export function newTreeId(): string {
  for (;;) {
    const id = randomBytes(8).readBigUInt64BE() >> 1n;
    if (id > 0n) return id.toString();
  }
}

export function signerNameFor(url: string): string {
  return new URL(url).host;
}
