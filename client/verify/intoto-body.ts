/**
 * An intoto v0.0.2 log entry body as upstream Rekor stores it (pkg/types/intoto/v0.0.2/entry.go Canonicalize),
 * for DSSE bundles whose entry is of that kind (sigstore-js with entryType 'intoto', npm provenance, older cosign):
 *   { apiVersion: "0.0.2", kind: "intoto", spec: { content: {
 *       envelope: { payloadType, signatures: [{ keyid?, publicKey: b64 PEM, sig: b64 of the DSSE b64 text }] },
 *       hash: { algorithm: sha256, value }, payloadHash: { algorithm: sha256, value } } } }
 * `sig` is decoded twice, as @sigstore/verify's tlog/intoto does: a body holding the signature once-encoded
 * (what Sigstack wrote before it matched upstream) is refused, since no upstream log ever stores that.
 * `hash` (the envelope hash) is read for its shape only: upstream copies it from the client unchecked, so it
 * binds nothing (sigstore-go#611). The payload hash, signature and key bind the entry to the bundle instead.
 */
import { readLoggedBody, sha256Field } from './tlog-body.ts';
import type { LoggedEnvelope } from './dsse.ts';
import { array, base64, literal, object, shape, ShapeError, string } from './strict-json.ts';

const MAX_SIG_BYTES = 1024;

/** Throws VerificationError('TLOG_BODY') for anything but an upstream-shaped body with exactly one signature. */
export function parseIntotoBody(body: Buffer): LoggedEnvelope {
  return shape(() => readLoggedBody(body, 'intoto', '0.0.2', (v) => {
    const content = object(object(v, 'spec', ['content']).content, 'spec.content', ['envelope', 'hash', 'payloadHash']);
    const env = object(content.envelope, 'spec.content.envelope', ['payloadType', 'signatures']);
    // One signature (TOB-SIGSTORE-9): which of several vouches for the bundle would be left to chance.
    const sigs = array(env.signatures, 'spec.content.envelope.signatures', 16);
    if (sigs.length !== 1) throw new ShapeError(`spec.content.envelope.signatures: expected exactly one, got ${sigs.length}`);
    const s = object(sigs[0], 'spec.content.envelope.signatures[0]', ['keyid', 'publicKey', 'sig'], ['publicKey', 'sig']);
    // upstream omits an empty keyid (omitempty), so a logged "" was not written by Rekor
    const keyid = s.keyid === undefined ? undefined : string(s.keyid, 'spec.content.envelope.signatures[0].keyid', 1024);
    if (keyid === '') throw new ShapeError('spec.content.envelope.signatures[0].keyid: empty (Rekor omits an empty keyid)');
    sha256Field(content.hash, 'spec.content.hash'); // shape only: the client's value, never compared
    // The outer decode gives the DSSE base64 text, which must itself be canonical base64 of a signature.
    const outer = base64(s.sig, 'spec.content.envelope.signatures[0].sig', { max: 4 * Math.ceil(MAX_SIG_BYTES / 3) });
    const sigText = outer.toString('latin1');
    base64(sigText, 'spec.content.envelope.signatures[0].sig (decoded once: the signature is base64-encoded twice in an intoto entry)', { max: MAX_SIG_BYTES });
    const logged: LoggedEnvelope = {
      kind: 'intoto 0.0.2',
      payloadType: string(env.payloadType, 'spec.content.envelope.payloadType', 256),
      payloadHash: sha256Field(content.payloadHash, 'spec.content.payloadHash'),
      signature: sigText,
      keyid: keyid ?? null,
      verifier: base64(s.publicKey, 'spec.content.envelope.signatures[0].publicKey', { max: 32 * 1024 }).toString('utf8'),
    };
    return logged;
  }), 'TLOG_BODY', 'tlog entry body');
}
