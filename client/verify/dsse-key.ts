/**
 * DSSE attestations signed with a managed key (`attest --key`, `cosign attest --key`): stored in the `.att` layout
 * with the SET bundle annotation and no certificate. As for certificates (dsse.ts) but the verifier is GIVEN the
 * key: the logged dsse entry must be about exactly this envelope, payload and signature and name exactly that
 * public key as its verifier; the one DSSE signature must verify with it; the SET must verify before its time
 * is used, and that time must be inside the log key's validity; then the statement's subject and predicate type.
 */
import { createHash, type KeyObject } from 'node:crypto';
import { VerificationError } from '../../core/errors.ts';
import { pemPublicKey } from './tlog-body.ts';
import type { TrustMaterial } from '../trusted-root.ts';
import { checkStatement, parseDsseBody, preAuthEncoding, readSignedEnvelope, type AttestationExpectation, type VerifiedAttestation } from './dsse.ts';
import { verifyManagedKeyEntry } from './tlog.ts';
import { failClosed } from './fail-closed.ts';
import { managedKeyDer, signatureVerifies } from './signature.ts';

export function verifyDsseKeyAttestation(trust: TrustMaterial, att: { envelope: Buffer; bundle?: string }, expect: AttestationExpectation, publicKey: KeyObject, nowMs = Date.now()): VerifiedAttestation {
  return failClosed(() => {
    const expectedKeyDer = managedKeyDer(publicKey);
    const { entry, env } = readSignedEnvelope(att);
    const logged = parseDsseBody(entry.canonicalizedBody);
    const fail = (m: string): never => {
      throw new VerificationError('TLOG_BODY', `tlog entry body: ${m}`);
    };
    if (!logged.envelopeHash.equals(createHash('sha256').update(att.envelope).digest())) fail('the logged envelope hash is not this envelope\'s');
    if (!logged.payloadHash.equals(createHash('sha256').update(env.payload).digest())) fail('the logged payload hash is not this payload\'s');
    if (logged.signature !== env.sigText) fail('the logged signature is not the envelope\'s');
    const loggedKey = pemPublicKey(logged.verifier);
    if (!loggedKey) fail('the logged verifier is not a single PEM public key (a certificate is not a managed key)');
    if (!loggedKey!.equals(expectedKeyDer)) fail('the logged verifier is not the given key');
    if (!signatureVerifies(preAuthEncoding(env.payloadType, env.payload), publicKey, env.signature)) throw new VerificationError('SIGNATURE', 'the DSSE signature does not verify with the given key');
    const { log, timeMs } = verifyManagedKeyEntry(entry, trust, nowMs);
    const statement = checkStatement(env.payload, expect);
    return {
      identity: 'key', issuer: '', integratedTime: entry.integratedTime, logIndex: entry.logIndex, statement,
      checks: [
        'tlog entry: a dsse 0.0.1 entry of this envelope, payload and signature, naming exactly the given key; the one DSSE signature verifies with it',
        `inclusion promise (SET): signed by the transparency log ${log.baseUrl} (verified offline)`,
        `integrated time: ${new Date(timeMs).toISOString()}, not in the future, within the log key's validity`,
        `in-toto statement: predicate type ${statement.predicateType}, a subject with digest sha256:${expect.sha256}`,
      ],
    };
  });
}
