import type { MerkleLog } from '../log/types.ts';
import type { IndexedMerkleLog } from '../log/merkle-log.ts';
import type { StackMetrics } from './metrics.ts';

/**
 * The Merkle engine with timings: append latency (to durable commit) and proof latency go to the stack's
 * metrics. A wrapper rather than a hook in log/, which must not know about Prometheus.
 */
export function observedMerkleLog(log: MerkleLog, name: string, metrics: StackMetrics): MerkleLog {
  metrics.watchLogSize(name, () => log.size());
  const seconds = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e9;
  const observed: MerkleLog & Partial<Pick<IndexedMerkleLog, 'searchIndex'>> = {
    async append(leaf, extra, indexKeys) {
      const t0 = process.hrtime.bigint();
      const result = await log.append(leaf, extra, indexKeys);
      if (!result.duplicate) metrics.appendDuration.observe({ log: name }, seconds(t0));
      return result;
    },
    size: () => log.size(),
    rootHash: (treeSize) => log.rootHash(treeSize),
    getEntry: (index) => log.getEntry(index),
    getEntries: (start, end, limit) => log.getEntries(start, end, limit),
    findByLeafHash: (leafHash) => log.findByLeafHash(leafHash),
    inclusionProof(index, treeSize) {
      const t0 = process.hrtime.bigint();
      const proof = log.inclusionProof(index, treeSize);
      metrics.proofDuration.observe({ log: name, kind: 'inclusion' }, seconds(t0));
      return proof;
    },
    consistencyProof(first, second) {
      const t0 = process.hrtime.bigint();
      const proof = log.consistencyProof(first, second);
      metrics.proofDuration.observe({ log: name, kind: 'consistency' }, seconds(t0));
      return proof;
    },
    close: () => log.close(),
  };
  // the CT log deduplicates through the engine's search index: pass it on when there is one
  const indexed = log as Partial<Pick<IndexedMerkleLog, 'searchIndex'>>;
  if (typeof indexed.searchIndex === 'function') observed.searchIndex = (key, limit) => indexed.searchIndex!(key, limit);
  return observed;
}
