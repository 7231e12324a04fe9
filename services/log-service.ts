import { PublishedSizeError } from '../log/published-size.ts';
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
import { createKeyFile, loadKeyFile, probeKey } from './keys.ts';
import { activeRekorKey, activeRekorTree, newTreeId, readMeta, signerNameFor, writeMeta, type DeploymentMeta, type InactiveShardMeta } from './meta.ts';
import { checkLogFolder, checkNoLogYet, CT_DB, CT_KEY, databaseMessage, removeUnrecorded } from './data-folder.ts';
import { DataFolderError, RESTORE_ADVICE } from './startup-errors.ts';
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
  // The log's first start is the one that finds no log in meta.json: it makes the keys and databases, then records
  // the log (the commit point). Any later start must find every one of them: none is ever made again.
  const first = !meta.log;
  const logMeta: NonNullable<DeploymentMeta['log']> = meta.log ?? {
    treeId: newTreeId(),
    signerName: signerNameFor(opts.publicUrl),
    baseUrl: opts.publicUrl,
    ctBaseUrl: opts.publicUrl,
    createdAt: new Date().toISOString(),
  };
  if (first) checkNoLogYet(opts.dataDir);
  else checkLogFolder(opts.dataDir, logMeta);
  const active = activeRekorTree(logMeta);
  const rekorDbPath = join(opts.dataDir, active.dbFile);
  const ctDbPath = join(opts.dataDir, CT_DB);
  const made = first ? [join(opts.dataDir, active.keyFile), join(opts.dataDir, CT_KEY), rekorDbPath, ctDbPath] : [];
  const observe = opts.observe ?? ((log: MerkleLog) => log);
  const opened: MerkleLog[] = [];
  let recorded = !first;
  try {
    const rekorKey = first ? createKeyFile(made[0]!) : activeRekorKey(opts.dataDir, logMeta);
    const ctKey = first ? createKeyFile(made[1]!) : loadKeyFile(join(opts.dataDir, CT_KEY), 'the CT log\'s key');
    mkdirSync(join(opts.dataDir, 'log'), { recursive: true });
    const frozen = (logMeta.inactiveShards ?? []).map((s) => {
      const shard = openFrozenShard(opts.dataDir, logMeta.signerName, s);
      opened.push(shard.log);
      return shard;
    });
    const rekorEngine = openLogDatabase(rekorDbPath, `the Rekor log's active tree ${active.treeId}`, first);
    opened.push(rekorEngine);
    const rekor = observe(rekorEngine, 'rekor');
    const ctEngine = openLogDatabase(ctDbPath, 'the CT log', first, ctLeafIndexKeys);
    opened.push(ctEngine);
    const ctTree = observe(ctEngine, 'ct');
    if (first) {
      writeMeta(opts.dataDir, { ...meta, log: logMeta });
      recorded = true;
    }
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
    // a first start that failed before recording the log leaves nothing of it behind: the next start is a first one
    const unrecorded = recorded ? [] : made;
    void Promise.allSettled(opened.map((l) => l.close())).then(() => removeUnrecorded(unrecorded));
    throw err;
  }
}

/** A log database that checkLogFolder has seen (or a first start creates), opened; a failure names the file. */
function openLogDatabase(path: string, what: string, create = false, indexKeys: (leaf: Buffer) => string[] = rekorIndexKeys): IndexedMerkleLog {
  try {
    return openMerkleLog({ path, indexKeys });
  } catch (err) {
    const why = (err as Error).message;
    // the engine's own rollback refusal names both files and the restore route already
    if (err instanceof PublishedSizeError) throw new DataFolderError(`${what}: ${why}`);
    throw new DataFolderError(create ? `cannot create ${path} (${what}): ${why}` : databaseMessage(path, what, `cannot be opened as a log database (${why})`));
  }
}

/**
 * A tree frozen by a rotation, checked before it is served: its database must still hold exactly the tree whose
 * checkpoint its key signed at rotation (a swapped or truncated file is refused, not served).
 */
function openFrozenShard(dataDir: string, signerName: string, s: InactiveShardMeta): FrozenShardOptions & { log: IndexedMerkleLog } {
  const signer = loadKeyFile(join(dataDir, s.keyFile), `the key of the frozen Rekor tree ${s.treeId}`);
  const log = openLogDatabase(join(dataDir, s.dbFile), `the frozen Rekor tree ${s.treeId}`);
  try {
    const signed = verifyCheckpoint(s.checkpoint, [{ name: signerName, publicKey: signer.publicKey, keyId: signer.keyId }]);
    if (signed.origin !== `${signerName} - ${s.treeId}`) throw new Error(`its checkpoint is for ${signed.origin}`);
    if (signed.size !== s.treeSize || !signed.rootHash.equals(Buffer.from(s.rootHash, 'hex'))) throw new Error('its checkpoint is not the size and root recorded in meta.json');
    if (log.size() !== s.treeSize) throw new Error(`${s.dbFile} holds ${log.size()} entries, the tree was frozen at ${s.treeSize}`);
    if (!log.rootHash(s.treeSize).equals(signed.rootHash)) throw new Error(`${s.dbFile} does not hold the tree its checkpoint signs`);
  } catch (err) {
    void log.close();
    throw new DataFolderError(`inactive Rekor tree ${s.treeId}: ${(err as Error).message}: ${RESTORE_ADVICE}`);
  }
  return { log, signer, treeId: s.treeId, treeSize: s.treeSize, checkpoint: s.checkpoint };
}
