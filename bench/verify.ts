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
 * Each verifier is built once, as a CLI verifying many files or an admission webhook would. Every bundle has its
 * own leaf certificate, so our per-certificate cache never hits: this is the cost of an unseen bundle.
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

  // Interleaved in slices, so that a change in the machine's load (other work on the same cores) falls on both
  // verifiers alike instead of on whichever happened to run during it: the ratio is the figure that matters.
  const SLICE = 50;
  let oursMs = 0;
  let stockMs = 0;
  for (let start = 0; start < count; start += SLICE) {
    const slice = items.slice(start, start + SLICE);
    let t = performance.now();
    for (const { artifact, bundle } of slice) ours.verify({ artifact, bundle, policy });
    oursMs += performance.now() - t;
    t = performance.now();
    for (const { artifact, bundle } of slice) {
      stock.verify(toSignedEntity(bundleFromJSON(bundle), artifact), { subjectAlternativeName: EMAIL, extensions: { issuer: ISSUER } });
    }
    stockMs += performance.now() - t;
  }
  const oursRate = count / (oursMs / 1000);
  const stockRate = count / (stockMs / 1000);
  return [{
    name: `offline verification of ${count} bundles, client/verify`, value: oursRate, unit: 'bundles/s',
    baseline: stockRate, baselineName: '@sigstore/verify, same bundles',
  }];
}
