/**
 * The offline Sigstack verifier. createVerifier() builds the trust material once; verify() runs every check
 * on one bundle and either returns what was verified or throws VerificationError whose `code` names the
 * failed check. Nothing here opens a socket or a file: verification is offline by construction.
 *
 * Order: the cheap binding checks first (digest, tlog body), then the SET (only after it verifies is the
 * integrated time used for anything), the time checks, the inclusion proof and checkpoint, the certificate
 * chain and SCTs at the integrated time, the signature, and the identity policy last.
 */
import { VerificationError } from '../../core/errors.ts';
import { parseBundle, type ParsedBundle } from '../bundle.ts';
import { parseTrustedRoot, type TrustMaterial } from '../trusted-root.ts';
import { BoundedCache } from './cache.ts';
import { verifyChain } from './chain.ts';
import { certificateIdentity, compilePolicy, verifyIdentity, type CompiledPolicy, type Policy } from './identity.ts';
import { loadLeaf, type LeafState } from './leaf.ts';
import { verifyScts } from './sct.ts';
import { artifactDigest, checkArtifact, verifyMessageDigest, verifyMessageSignature, type ArtifactInput } from './signature.ts';
import { shape } from './strict-json.ts';
import { verifyTlogBody } from './tlog-body.ts';
import { checkIntegratedTime, findLog, verifyInclusion, verifySet, type VerifiedCheckpoint } from './tlog.ts';
import { failClosed } from './fail-closed.ts';
import { verifyKeyBundle, type KeyVerificationResult, type KeyVerifyRequest } from './key-bundle.ts';

export type { Policy, KeyVerifyRequest, KeyVerificationResult, ArtifactInput };
export { VerificationError };

export interface VerifyRequest {
  /** The artifact's bytes, or its SHA-256 as `{ sha256 }` (32 bytes) for a file streamed through the hash. */
  artifact: ArtifactInput;
  /** The bundle: parsed JSON, JSON text or bytes. */
  bundle: unknown;
  policy: Policy;
}

export interface VerificationResult {
  /** The certificate's subject alternative name. */
  identity: string;
  /** The certificate's OIDC issuer. */
  issuer: string;
  /** Seconds since the epoch, from the verified SET. */
  integratedTime: number;
  logIndex: number;
  /** One line per check performed, in order. */
  checks: string[];
}

export interface Verifier {
  readonly trust: TrustMaterial;
  /** A keyless bundle (certificate): chain, SCTs and the identity policy. A key-based bundle is refused. */
  verify(request: VerifyRequest): VerificationResult;
  /** A bundle signed with a managed key, checked against exactly `publicKey`. A certificate bundle is refused. */
  verifyWithKey(request: KeyVerifyRequest): KeyVerificationResult;
}

export interface VerifierOptions {
  /** The clock, for "integrated time not in the future" (ms since the epoch). */
  now?: () => number;
  /**
   * How many certificates and checkpoints to remember. Without it, verifiers of the same trust material share
   * one memo of 1024 each; with it, this verifier gets its own.
   */
  cacheSize?: number;
}

function parse(bundle: unknown): ParsedBundle {
  return shape(() => parseBundle(bundle), 'BUNDLE', 'bundle');
}

/** What the verifier remembers; valid only for the trust material it was learned with. */
interface Memo {
  leaves: BoundedCache<string, LeafState>;
  checkpoints: BoundedCache<string, VerifiedCheckpoint>;
}

function newMemo(size: number): Memo {
  return { leaves: new BoundedCache(size), checkpoints: new BoundedCache(size) };
}

const memoByTrust = new WeakMap<TrustMaterial, Memo>();

function sharedMemo(trust: TrustMaterial): Memo {
  let memo = memoByTrust.get(trust);
  if (!memo) {
    memo = newMemo(1024);
    memoByTrust.set(trust, memo);
  }
  return memo;
}

class OfflineVerifier implements Verifier {
  readonly #leaves: BoundedCache<string, LeafState>;
  readonly #checkpoints: BoundedCache<string, VerifiedCheckpoint>;
  readonly #policies = new BoundedCache<string, CompiledPolicy>(64);
  readonly #now: () => number;

  constructor(readonly trust: TrustMaterial, opts: VerifierOptions) {
    this.#now = opts.now ?? Date.now;
    const memo = opts.cacheSize === undefined ? sharedMemo(trust) : newMemo(opts.cacheSize);
    this.#leaves = memo.leaves;
    this.#checkpoints = memo.checkpoints;
  }

  verify(request: VerifyRequest): VerificationResult {
    return failClosed(() => this.#verify(request));
  }

  verifyWithKey(request: KeyVerifyRequest): KeyVerificationResult {
    return failClosed(() => verifyKeyBundle(this.trust, request, this.#now(), this.#checkpoints));
  }

  #policy(policy: Policy): CompiledPolicy {
    const key = JSON.stringify([policy?.identity, policy?.identityRegexp, policy?.issuer, policy?.issuerRegexp]);
    let compiled = this.#policies.get(key);
    if (!compiled) {
      compiled = compilePolicy(policy);
      this.#policies.set(key, compiled);
    }
    return compiled;
  }

  #leaf(b: ParsedBundle): LeafState {
    let leaf = this.#leaves.get(b.leafBase64);
    if (!leaf) {
      leaf = loadLeaf(b.leafDer);
      this.#leaves.set(b.leafBase64, leaf);
    }
    return leaf;
  }

  #verify({ artifact: given, bundle, policy }: VerifyRequest): VerificationResult {
    const compiled = this.#policy(policy);
    const artifact = checkArtifact(given);
    const b = parse(bundle);
    const entry = b.tlogEntry;
    const checks = [`bundle: ${b.mediaType}, message signature, one hashedrekord 0.0.1 tlog entry, no unknown fields`];

    const digest = artifactDigest(artifact);
    verifyMessageDigest(b.messageDigest, digest);
    checks.push('message digest: equals the SHA-256 of the artifact');
    verifyTlogBody(b, digest);
    checks.push('tlog entry: its digest, signature and certificate are the artifact\'s and the bundle\'s');

    const log = findLog(entry, this.trust);
    verifySet(entry, log);
    checks.push(`inclusion promise (SET): signed by the transparency log ${log.baseUrl}`);
    const leaf = this.#leaf(b);
    const timeMs = checkIntegratedTime(entry, log, this.#now(), leaf.cert);
    checks.push(`integrated time: ${new Date(timeMs).toISOString()}, not in the future, within the log key and certificate validity`);
    verifyInclusion(entry, log, this.#checkpoints);
    checks.push(`inclusion proof: entry ${entry.logIndex} is in the tree of size ${entry.inclusionProof.treeSize}, whose checkpoint the log signed`);

    const { ca, issuer } = verifyChain(leaf, this.trust, timeMs, b.chainDer);
    checks.push(`certificate chain: issued by the trusted CA ${ca.uri}, every certificate valid at the integrated time, code signing`);
    const ctlogs = verifyScts(leaf, issuer, this.trust.ctlogs);
    checks.push(`certificate transparency: embedded SCT verified for ${ctlogs.length} trusted CT log${ctlogs.length > 1 ? 's' : ''}`);

    verifyMessageSignature(artifact, b.signature, leaf.publicKey);
    checks.push('signature: verifies over the artifact with the certificate key');
    const identity = certificateIdentity(leaf);
    verifyIdentity(identity, compiled);
    checks.push(`identity: ${identity.san} matches ${compiled.identity.describe}; issuer ${identity.issuer} matches ${compiled.issuer.describe}`);

    return { identity: identity.san, issuer: identity.issuer, integratedTime: entry.integratedTime, logIndex: entry.logIndex, checks };
  }
}

/**
 * Trust material by the exact text of its trusted root: building it verifies every CA chain and creates every
 * key, which costs more than verifying a bundle, so a program that creates verifiers repeatedly for the same
 * root builds it once. Keyed by content, not by object identity, so a mutated object is never served stale.
 */
const trustByText = new BoundedCache<string, TrustMaterial>(8);

function trustMaterial(trustedRoot: unknown): TrustMaterial {
  let text: string | undefined;
  try {
    text = typeof trustedRoot === 'string' ? trustedRoot : JSON.stringify(trustedRoot);
  } catch {
    text = undefined; // not serializable: parseTrustedRoot will say what is wrong with it
  }
  const cached = text === undefined ? undefined : trustByText.get(text);
  if (cached) return cached;
  const trust = parseTrustedRoot(trustedRoot);
  if (trust.cas.length === 0) throw new VerificationError('TRUSTED_ROOT', 'trusted root: no certificate authority');
  if (trust.tlogs.size === 0) throw new VerificationError('TRUSTED_ROOT', 'trusted root: no transparency log');
  if (trust.ctlogs.size === 0) throw new VerificationError('TRUSTED_ROOT', 'trusted root: no CT log');
  if (text !== undefined) trustByText.set(text, trust);
  return trust;
}

/** Builds a verifier from trusted_root.json (text or parsed). Throws VerificationError('TRUSTED_ROOT'). */
export function createVerifier(trustedRoot: unknown, opts: VerifierOptions = {}): Verifier {
  return new OfflineVerifier(trustMaterial(trustedRoot), opts);
}
