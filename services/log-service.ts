import type Router from '@koa/router';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { openMerkleLog } from '../log/merkle-log.ts';
import { rekorRouter } from '../log/rekor/routes.ts';
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
export function createLogService(opts: { dataDir: string; publicUrl: string; caRoots: Buffer[] }): LogService {
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
  const rekor = openMerkleLog({ path: join(dbDir, 'rekor.db') });
  const ctTree = openMerkleLog({ path: join(dbDir, 'ct.db') });
  const ct = new CtLog({ log: ctTree, signer: ctKey, roots: opts.caRoots });
  return {
    routers: [rekorRouter({ log: rekor, signer: rekorKey, treeId: logMeta.treeId, signerName: logMeta.signerName }), ctRouter(ct)],
    ct,
    rekor,
    trust: logParts(logMeta, rekorKey, ctKey),
    meta: logMeta,
    close: async () => {
      await Promise.all([rekor.close(), ctTree.close()]);
    },
  };
}
