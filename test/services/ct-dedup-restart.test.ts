/**
 * The CT log of a running stack deduplicates for good: the engine is opened with the deduplication index and the
 * metrics wrapper passes the index through, so a precertificate submitted again after a restart gets its first SCT
 * and adds no leaf (before: only the last 4,096 submissions of the current process were remembered).
 */
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogService } from '../../services/log-service.ts';
import { observedMerkleLog } from '../../services/observed-log.ts';
import { createMetrics } from '../../services/metrics.ts';
import { makeIntermediate, makeLeaf, makeRoot } from '../ct/test-pki.ts';

test('a precertificate submitted again after a restart gets its first SCT and adds no leaf, through the metrics wrapper', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'ct-restart-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const root = makeRoot();
  const intermediate = makeIntermediate(root);
  const chain = [makeLeaf(intermediate), intermediate.der, root.der];
  const start = () => {
    const metrics = createMetrics();
    return createLogService({ dataDir, publicUrl: 'http://127.0.0.1:1', caRoots: [root.der], observe: (log, name) => observedMerkleLog(log, name, metrics) });
  };
  let service = start();
  const first = await service.ct.addPreChain(chain);
  const size = service.ct.signedTreeHead().treeSize;
  await service.close();
  service = start();
  t.teardown(() => service.close());
  const again = await service.ct.addPreChain(chain);
  t.is(again.timestamp, first.timestamp);
  t.is(service.ct.signedTreeHead().treeSize, size);
});
