import type Router from '@koa/router';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { openMerkleLog, type IndexedMerkleLog } from '../log/merkle-log.ts';
import { rekorRouter } from '../log/rekor/routes.ts';
import type { FrozenShardOptions } from '../log/rekor/shards.ts';
import { createCanonicalizePool } from '../log/kinds/canonicalize-pool.ts';
import { rekorIndexKeys } from '../log/kinds/index-keys.ts';
import { CtLog, ctLeafIndexKeys } from '../log/ct/ct-log.ts';
import { ctRouter } from '../log/ct/routes.ts';
import { verifyCheckpoint } from '../log/checkpoint.ts';
import type { MerkleLog } from '../log/types.ts';
import { loadKeyFile, loadOrCreateKey, probeKey } from './keys.ts';
import { activeRekorKey, activeRekorTree, newTreeId, readMeta, signerNameFor, writeMeta, type DeploymentMeta, type InactiveShardMeta } from './meta.ts';
import { logParts, type TrustParts } from './trust.ts';

export interface LogService {
  routers: Router[];
  ct: CtLog;
  /** The active Rekor tree. */
  rekor: MerkleLog;
  trust: Pick<TrustParts, 'tlog' | 'ctlog'>;
  meta: NonNullable<DeploymentMeta['log']>;
  /** Readiness: each signing key (Rekor, CT) signs a probe that verifies with the key the trusted root publishes. */
  probeKeys(): string;
  close(): Promise<void>;
}

/**
 * The transparency side: the Rekor v1 API and the RFC 6962 CT log, each its own tree, SQLite file and key.
 * After `sigstack log rotate`, the Rekor API also serves the frozen trees (read-only, each with its own key).
 * `caRoots` are the roots whose chains the CT log accepts (our CA's).
 * While it runs, every database is open in WAL mode, which holds a shared lock on each file: that is what
 * `log rotate` tests for to refuse running beside a server (services/log-rotation.ts).
 */
export function createLogService(opts: {
  dataDir: string;
  publicUrl: string;
  caRoots: Buffer[];
  /** Wraps each tree before the faces get it (metrics: append and proof latency, size). */
  observe?: (log: MerkleLog, name: 'rekor' | 'ct') => MerkleLog;
}): LogService {
  const meta = readMeta(opts.dataDir);
  if (!meta.log) {
    meta.log = {
      treeId: newTreeId(),
      signerName: signerNameFor(opts.publicUrl),
      baseUrl: opts.publicUrl,
      ctBaseUrl: opts.publicUrl,
      createdAt: new Date().toISOString(),
    };
    writeMeta(opts.dataDir, meta);
  }
  const logMeta = meta.log;
  const active = activeRekorTree(logMeta);
  const rekorKey = activeRekorKey(opts.dataDir, logMeta);
  const ctKey = loadOrCreateKey(opts.dataDir, 'ct').signer;
  mkdirSync(join(opts.dataDir, 'log'), { recursive: true });
  const observe = opts.observe ?? ((log: MerkleLog) => log);
  const opened: MerkleLog[] = [];
  try {
    const frozen = (logMeta.inactiveShards ?? []).map((s) => {
      const shard = openFrozenShard(opts.dataDir, logMeta.signerName, s);
      opened.push(shard.log);
      return shard;
    });
    const rekorEngine = openMerkleLog({ path: join(opts.dataDir, active.dbFile), indexKeys: rekorIndexKeys });
    opened.push(rekorEngine);
    const rekor = observe(rekorEngine, 'rekor');
    const ctTree = observe(openMerkleLog({ path: join(opts.dataDir, 'log', 'ct.db'), indexKeys: ctLeafIndexKeys }), 'ct');
    opened.push(ctTree);
    const ct = new CtLog({ log: ctTree, signer: ctKey, roots: opts.caRoots });
    // entry signature checks on worker threads, so the main thread keeps sequencing and answering
    const pool = createCanonicalizePool();
    return {
      routers: [
        rekorRouter({ log: rekor, signer: rekorKey, treeId: logMeta.treeId, signerName: logMeta.signerName, canonicalize: pool.canonicalize, index: rekorEngine, inactiveShards: frozen }),
        ctRouter(ct),
      ],
      ct,
      rekor,
      trust: logParts(logMeta, rekorKey, ctKey, frozen.map((f, i) => ({ signer: f.signer, shard: logMeta.inactiveShards![i]! }))),
      meta: logMeta,
      probeKeys: () => {
        probeKey('rekor', rekorKey);
        probeKey('ct', ctKey);
        return 'rekor and ct keys sign and verify';
      },
      close: async () => {
        await pool.close();
        await Promise.all([rekor.close(), ctTree.close(), ...frozen.map((f) => f.log.close())]);
      },
    };
  } catch (err) {
    for (const l of opened) void l.close();
    throw err;
  }
}

/**
 * A tree frozen by a rotation, checked before it is served: its database must still hold exactly the tree whose
 * checkpoint its key signed at rotation (a swapped or truncated file is refused, not served).
 */
function openFrozenShard(dataDir: string, signerName: string, s: InactiveShardMeta): FrozenShardOptions & { log: IndexedMerkleLog } {
  const signer = loadKeyFile(join(dataDir, s.keyFile));
  const log = openMerkleLog({ path: join(dataDir, s.dbFile), indexKeys: rekorIndexKeys });
  try {
    const signed = verifyCheckpoint(s.checkpoint, [{ name: signerName, publicKey: signer.publicKey, keyId: signer.keyId }]);
    if (signed.origin !== `${signerName} - ${s.treeId}`) throw new Error(`its checkpoint is for ${signed.origin}`);
    if (signed.size !== s.treeSize || !signed.rootHash.equals(Buffer.from(s.rootHash, 'hex'))) throw new Error('its checkpoint is not the size and root recorded in meta.json');
    if (log.size() !== s.treeSize) throw new Error(`${s.dbFile} holds ${log.size()} entries, the tree was frozen at ${s.treeSize}`);
    if (!log.rootHash(s.treeSize).equals(signed.rootHash)) throw new Error(`${s.dbFile} does not hold the tree its checkpoint signs`);
  } catch (err) {
    void log.close();
    throw new Error(`inactive Rekor tree ${s.treeId}: ${(err as Error).message}`);
  }
  return { log, signer, treeId: s.treeId, treeSize: s.treeSize, checkpoint: s.checkpoint };
}
