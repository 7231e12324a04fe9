import { performance } from 'node:perf_hooks';
import { bundleFromJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import { createVerifier } from '../client/verify/index.ts';
import { EMAIL, ISSUER, TestPki } from '../test/client/pki-fixture.ts';
import type { Row } from './table.ts';

/**
 * Offline verification of the same 1,000 bundles by our verifier (client/verify, what `sigstack verify`
 * runs) and by @sigstore/verify (the stock library, the baseline). The bundles come from
 * test/client/pki-fixture.ts: real v0.3 bundles (Fulcio-shaped leaf with an embedded SCT, root and
 * intermediate, hashedrekord body, SET, inclusion proof and signed checkpoint), each with its own leaf key
 * and artifact, which @sigstore/verify accepts as it accepts a live stack's (test/client/verify-cert.test.ts).
 * Each verifier is built once, as a CLI verifying many files or an admission webhook would.
 */
export function verifyRows(quick: boolean): Row[] {
  const count = quick ? 200 : 1000;
  const pki = new TestPki();
  const items = Array.from({ length: count }, (_, i) => {
    const artifact = Buffer.from(`artifact ${i}`);
    return { artifact, bundle: pki.sign(artifact, { padding: 0 }) };
  });
  const ours = createVerifier(pki.trustedRoot(), { now: () => pki.now, cacheSize: 4 * count });
  const stock = new Verifier(toTrustMaterial(TrustedRoot.fromJSON(pki.trustedRoot())), { ctlogThreshold: 1, tlogThreshold: 1 });
  const policy = { identity: EMAIL, issuer: ISSUER };

  let t = performance.now();
  for (const { artifact, bundle } of items) ours.verify({ artifact, bundle, policy });
  const oursRate = count / ((performance.now() - t) / 1000);
  t = performance.now();
  for (const { artifact, bundle } of items) {
    stock.verify(toSignedEntity(bundleFromJSON(bundle), artifact), { subjectAlternativeName: EMAIL, extensions: { issuer: ISSUER } });
  }
  const stockRate = count / ((performance.now() - t) / 1000);
  return [{
    name: `offline verification of ${count} bundles, client/verify`, value: oursRate, unit: 'bundles/s',
    baseline: stockRate, baselineName: '@sigstore/verify, same bundles',
  }];
}
