/**
 * `attest --new-bundle-format`: the signed DSSE attestation as a Sigstore bundle v0.3 (content `dsseEnvelope`,
 * one dsse 0.0.1 tlog entry with its SET and checkpointed inclusion proof), serialized by @sigstore/bundle as
 * sigstore-js does, attached to the image as an OCI 1.1 referrer with the annotations GitHub's attestations and
 * cosign v3 put on it (content kind and predicate type), through the same attachBundle as `sign-image`.
 */
import { BUNDLE_V03_MEDIA_TYPE, bundleToJSON, type Bundle, type SerializedBundle } from '@sigstore/bundle';
import { bundleTlogEntry } from '../bundle.ts';
import type { SignedDsse } from './sign-dsse.ts';

export const ANNOTATION_BUNDLE_CONTENT = 'dev.sigstore.bundle.content';
export const ANNOTATION_BUNDLE_PREDICATE_TYPE = 'dev.sigstore.bundle.predicateType';

/** Keyless only: the bundle's verification material is the signing certificate. */
export function buildDsseBundle(signed: SignedDsse): SerializedBundle {
  if (!signed.leafDer) throw new Error('a DSSE bundle is written for keyless attestations only');
  const bundle: Bundle = {
    mediaType: BUNDLE_V03_MEDIA_TYPE,
    verificationMaterial: {
      content: { $case: 'certificate', certificate: { rawBytes: signed.leafDer } },
      tlogEntries: [bundleTlogEntry({ kind: 'dsse', version: '0.0.1' }, signed)],
      timestampVerificationData: { rfc3161Timestamps: [] },
    },
    content: {
      $case: 'dsseEnvelope',
      dsseEnvelope: { payload: signed.payload, payloadType: signed.payloadType, signatures: [{ keyid: '', sig: signed.signature }] },
    },
  };
  return bundleToJSON(bundle);
}
