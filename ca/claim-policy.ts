import { ForbiddenError } from '../core/errors.ts';
import { goClaimString } from './ci-metadata.ts';

/**
 * Issuance policy by claims (sigstore/fulcio#1989, which upstream lacks): per issuer, rules that a verified token's
 * claims must ALL satisfy before a certificate is issued, so that a token from the right issuer but the wrong
 * organisation gets 403 naming the rule, and nothing is signed. Config (YAML spelling; JSON is PascalCase):
 *
 *   issuance-policy:
 *     - name: acme-only              # optional; "rule N" otherwise
 *       claim: repository_owner      # a top-level claim, or a list of names for a nested one: [kubernetes.io, namespace]
 *       in: [acme, acme-labs]        # exactly one of: in (exact values), matches (regexp, whole value), email-domain
 */

export interface ClaimRule {
  name: string;
  claim: string[];
  test: (value: string) => boolean;
  /** For messages: `repository_owner in ["acme"]`. */
  describe: string;
}

const RULE_KEYS: Record<string, string> = {
  name: 'Name', claim: 'Claim', in: 'In', matches: 'Matches', emaildomain: 'EmailDomain', 'email-domain': 'EmailDomain',
};

function stringList(v: unknown, where: string): string[] {
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || list.length === 0 || !list.every((x) => typeof x === 'string' && x !== '')) {
    throw new Error(`${where} must be a non-empty string or list of strings`);
  }
  return list as string[];
}

export function parseClaimPolicy(raw: unknown, where: string): ClaimRule[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw new Error(`${where}: IssuancePolicy must be a list of rules`);
  return raw.map((entry, i) => {
    const at = `${where}: IssuancePolicy[${i}]`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw new Error(`${at}: a rule must be a mapping`);
    const f: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(entry)) {
      const canonical = RULE_KEYS[k.toLowerCase()] ?? RULE_KEYS[k];
      if (!canonical) throw new Error(`${at}: unknown key "${k}"`);
      f[canonical] = v;
    }
    if (f.Name !== undefined && typeof f.Name !== 'string') throw new Error(`${at}: Name must be a string`);
    const name = (f.Name as string | undefined) ?? `rule ${i + 1}`;
    const claim = stringList(f.Claim, `${at}: Claim`);
    const kinds = ['In', 'Matches', 'EmailDomain'].filter((k) => f[k] !== undefined);
    if (kinds.length !== 1) throw new Error(`${at}: give exactly one of In, Matches and EmailDomain`);
    const claimName = claim.join('.');
    if (kinds[0] === 'In') {
      const values = stringList(f.In, `${at}: In`);
      return { name, claim, test: (v) => values.includes(v), describe: `${claimName} in ${JSON.stringify(values)}` };
    }
    if (kinds[0] === 'Matches') {
      if (typeof f.Matches !== 'string' || f.Matches === '') throw new Error(`${at}: Matches must be a regular expression`);
      let re: RegExp;
      try {
        // Anchored: the WHOLE value must match, else "acme" would also admit "acme-evil" and "evil/acme".
        re = new RegExp(`^(?:${f.Matches})$`);
      } catch (err) {
        throw new Error(`${at}: Matches is not a valid regular expression (${(err as Error).message})`);
      }
      return { name, claim, test: (v) => re.test(v), describe: `${claimName} matches /${f.Matches}/` };
    }
    const domains = stringList(f.EmailDomain, `${at}: EmailDomain`).map((d) => d.toLowerCase());
    const test = (v: string) => {
      const at = v.lastIndexOf('@');
      return at > 0 && v.indexOf('@') === at && domains.includes(v.slice(at + 1).toLowerCase());
    };
    return { name, claim, test, describe: `${claimName} in email domain ${JSON.stringify(domains)}` };
  });
}

function claimValue(claims: Record<string, unknown>, path: string[]): string | undefined {
  let node: unknown = claims;
  for (const member of path) {
    if (typeof node !== 'object' || node === null || Array.isArray(node) || !Object.hasOwn(node, member)) return undefined;
    node = (node as Record<string, unknown>)[member];
  }
  if (typeof node === 'string' || typeof node === 'number' || typeof node === 'boolean') return goClaimString(node);
  return undefined; // objects, lists and null never satisfy a rule
}

/** Throws ForbiddenError (403) naming the first rule the claims do not satisfy. */
export function enforceClaimPolicy(rules: readonly ClaimRule[], claims: Record<string, unknown>, issuer: string): void {
  for (const rule of rules) {
    const value = claimValue(claims, rule.claim);
    if (value === undefined || !rule.test(value)) {
      const got = value === undefined ? 'absent' : JSON.stringify(value.slice(0, 200));
      throw new ForbiddenError(`issuance policy of ${issuer} refused the token: rule "${rule.name}" (${rule.describe}) not met, claim is ${got}`, 'POLICY_DENIED');
    }
  }
}
