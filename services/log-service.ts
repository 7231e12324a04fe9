import type Router from '@koa/router';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { openMerkleLog } from '../log/merkle-log.ts';
import { rekorRouter } from '../log/rekor/routes.ts';
import { createCanonicalizePool } from '../log/kinds/canonicalize-pool.ts';
import { rekorIndexKeys } from '../log/rekor/index-keys.ts';
import { CtLog } from '../log/ct/ct-log.ts';
import { ctRouter } from '../log/ct/routes.ts';
import type { MerkleLog } from '../log/types.ts';
import { loadOrCreateKey } from './keys.ts';
import { newTreeId, readMeta, signerNameFor, writeMeta, type DeploymentMeta } from './meta.ts';
import { logParts, type TrustParts } from './trust.ts';

export interface LogService {
  routers: Router[];
  ct: CtLog;
  rekor: MerkleLog;
  trust: Pick<TrustParts, 'tlog' | 'ctlog'>;
  meta: NonNullable<DeploymentMeta['log']>;
  close(): Promise<void>;
}

/**
 * The transparency side: the Rekor v1 API and the RFC 6962 CT log, each its own tree, SQLite file and key.
 * `caRoots` are the roots whose chains the CT log accepts (our CA's).
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
  const rekorKey = loadOrCreateKey(opts.dataDir, 'rekor').signer;
  const ctKey = loadOrCreateKey(opts.dataDir, 'ct').signer;
  const dbDir = join(opts.dataDir, 'log');
  mkdirSync(dbDir, { recursive: true });
  const observe = opts.observe ?? ((log: MerkleLog) => log);
  const rekorEngine = openMerkleLog({ path: join(dbDir, 'rekor.db'), indexKeys: rekorIndexKeys });
  const rekor = observe(rekorEngine, 'rekor');
  const ctTree = observe(openMerkleLog({ path: join(dbDir, 'ct.db') }), 'ct');
  const ct = new CtLog({ log: ctTree, signer: ctKey, roots: opts.caRoots });
  // entry signature checks on worker threads, so the main thread keeps sequencing and answering
  const pool = createCanonicalizePool();
  return {
    routers: [rekorRouter({ log: rekor, signer: rekorKey, treeId: logMeta.treeId, signerName: logMeta.signerName, canonicalize: pool.canonicalize, index: rekorEngine }), ctRouter(ct)],
    ct,
    rekor,
    trust: logParts(logMeta, rekorKey, ctKey),
    meta: logMeta,
    close: async () => {
      await pool.close();
      await Promise.all([rekor.close(), ctTree.close()]);
    },
  };
}
