/**
 * The admission policy file (YAML or JSON):
 *
 *   policies:
 *     - namespaces: [prod, "team-*"]         # globs; default every namespace
 *       images: ["registry.internal/app/**"]  # globs on registry/repository; `*` = one path segment, `**` = any
 *                                             # (matched against every spelling of the registry: registryAliases)
 *       identity: ci@example.com              # or identityRegexp
 *       issuer: https://issuer.example.com    # or issuerRegexp
 *       attestations: [slsaprovenance]        # predicate types that must also be attested (optional)
 *   unmatched: deny                           # or allow: images no rule covers
 *
 * The first rule whose namespace and image patterns both match decides. Per-pod annotations
 * (`subject.cosign.sigstore.dev/<container>`, `issuer.cosign.sigstore.dev/<container>`) can only NARROW a rule:
 * the annotated value must itself satisfy the rule, and then becomes the exact identity required.
 */
import { parse as parseYaml } from 'yaml';
import { predicateTypeUri } from '../client/oci/attest.ts';
import type { Policy } from '../client/verify/identity.ts';

export interface PolicyRule {
  namespaces: string[];
  images: string[];
  policy: Policy;
  attestations: string[];
  /** Stable text of the rule: part of the verdict cache key. */
  key: string;
}

export interface AdmissionPolicy {
  rules: PolicyRule[];
  unmatched: 'deny' | 'allow';
}

export class PolicyError extends Error {}

function globToRegExp(glob: string, segment: boolean): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      re += '.*';
      i++;
    } else if (c === '*') {
      re += segment ? '[^/]*' : '.*';
    } else if (c === '?') {
      re += '[^/]';
    } else {
      re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
  }
  return new RegExp(`^${re}$`);
}

function strings(v: unknown, what: string, fallback: string[]): string[] {
  if (v === undefined) return fallback;
  if (!Array.isArray(v) || v.length === 0 || !v.every((s) => typeof s === 'string' && s !== '')) throw new PolicyError(`${what}: a non-empty list of strings`);
  return v as string[];
}

function optionalString(v: unknown, what: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v === '') throw new PolicyError(`${what}: a non-empty string`);
  return v;
}

export function parsePolicy(text: string): AdmissionPolicy {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new PolicyError(`policy file: not YAML/JSON (${(e as Error).message})`);
  }
  if (typeof doc !== 'object' || doc === null) throw new PolicyError('policy file: expected an object with "policies"');
  const d = doc as Record<string, unknown>;
  for (const k of Object.keys(d)) if (!['policies', 'unmatched'].includes(k)) throw new PolicyError(`policy file: unknown field "${k}"`);
  if (!Array.isArray(d.policies)) throw new PolicyError('policy file: "policies" must be a list');
  const unmatched = d.unmatched ?? 'deny';
  if (unmatched !== 'deny' && unmatched !== 'allow') throw new PolicyError('policy file: "unmatched" is deny or allow');
  const rules = d.policies.map((r: unknown, i: number): PolicyRule => {
    const w = `policies[${i}]`;
    if (typeof r !== 'object' || r === null) throw new PolicyError(`${w}: expected an object`);
    const o = r as Record<string, unknown>;
    const allowed = ['namespaces', 'images', 'identity', 'identityRegexp', 'issuer', 'issuerRegexp', 'attestations'];
    for (const k of Object.keys(o)) if (!allowed.includes(k)) throw new PolicyError(`${w}: unknown field "${k}"`);
    const policy: Policy = {
      identity: optionalString(o.identity, `${w}.identity`),
      identityRegexp: optionalString(o.identityRegexp, `${w}.identityRegexp`),
      issuer: optionalString(o.issuer, `${w}.issuer`),
      issuerRegexp: optionalString(o.issuerRegexp, `${w}.issuerRegexp`),
    };
    if ((policy.identity === undefined) === (policy.identityRegexp === undefined)) throw new PolicyError(`${w}: give exactly one of identity and identityRegexp`);
    if ((policy.issuer === undefined) === (policy.issuerRegexp === undefined)) throw new PolicyError(`${w}: give exactly one of issuer and issuerRegexp`);
    for (const re of [policy.identityRegexp, policy.issuerRegexp]) {
      if (re === undefined) continue;
      try {
        new RegExp(re);
      } catch {
        throw new PolicyError(`${w}: ${re} is not a regular expression`);
      }
    }
    const attestations = strings(o.attestations, `${w}.attestations`, []).map((t) => {
      try {
        predicateTypeUri(t);
      } catch (e) {
        throw new PolicyError(`${w}.attestations: ${(e as Error).message}`);
      }
      return t;
    });
    const namespaces = strings(o.namespaces, `${w}.namespaces`, ['*']);
    // Registry hosts compare without case and repositories are lower case only, so the patterns are too.
    const images = strings(o.images, `${w}.images`, ['**']).map((g) => g.toLowerCase());
    return { namespaces, images, policy, attestations, key: JSON.stringify([i, namespaces, images, policy, attestations]) };
  });
  return { rules, unmatched };
}

/**
 * The first rule for this namespace that covers any spelling of the image repository (`registry/repository`,
 * see registryAliases), if any: an image written another way still meets the rule that covers it.
 */
export function findRule(p: AdmissionPolicy, namespace: string, repositories: string[]): PolicyRule | undefined {
  return p.rules.find((r) => r.namespaces.some((g) => globToRegExp(g, false).test(namespace)) && r.images.some((g) => repositories.some((repo) => globToRegExp(g, true).test(repo))));
}

/**
 * Applies the pod's annotations for one container: each must satisfy the rule's own matcher, and then replaces
 * it by an exact match on that value, so an annotation can only make the rule stricter.
 */
export function narrow(policy: Policy, subject: string | undefined, issuer: string | undefined): Policy {
  const satisfies = (exact: string | undefined, re: string | undefined, v: string) => (exact !== undefined ? exact === v : new RegExp(`^(?:${re})$`).test(v));
  const out = { ...policy };
  if (subject !== undefined) {
    if (!satisfies(policy.identity, policy.identityRegexp, subject)) throw new PolicyError(`annotation subject ${JSON.stringify(subject)} is outside the namespace policy (annotations may only narrow it)`);
    out.identity = subject;
    out.identityRegexp = undefined;
  }
  if (issuer !== undefined) {
    if (!satisfies(policy.issuer, policy.issuerRegexp, issuer)) throw new PolicyError(`annotation issuer ${JSON.stringify(issuer)} is outside the namespace policy (annotations may only narrow it)`);
    out.issuer = issuer;
    out.issuerRegexp = undefined;
  }
  return out;
}
