import type { FulcioExtensionValues } from './extensions.ts';
import { parseGoTemplate, type GoTemplate } from './identity/go-template.ts';
import { isRecord } from '../core/json-text.ts';

/**
 * Fulcio's `CIIssuerMetadata` (YAML `ci-issuer-metadata`): per CI provider name, default values, a template per
 * certificate extension and a template for the SAN, used by `ci-provider` issuers. A template containing `{{`
 * is a Go text/template; anything else is the NAME of a claim (or default) whose value is copied, as upstream's
 * applyTemplateOrReplace does. Everything is parsed here, once, when the configuration is loaded.
 */

/** A template, or a claim name to copy. */
export type ValueTemplate = { kind: 'template'; template: GoTemplate } | { kind: 'claim'; name: string };

export interface CiIssuerMetadata {
  defaults: Readonly<Record<string, string>>;
  extensions: Partial<Record<ExtensionField, ValueTemplate>>;
  san: ValueTemplate;
}

type ExtensionField = Exclude<keyof FulcioExtensionValues, 'issuer' | 'tokenSubject'>;

/** certificate.Extensions field names: JSON spelling, YAML spelling, our field (undefined: Issuer/Subject, always the token's). */
const EXTENSION_KEYS: [string, string, ExtensionField | undefined][] = [
  ['Issuer', 'issuer', undefined],
  ['GithubWorkflowTrigger', 'github-workflow-trigger', 'githubWorkflowTrigger'],
  ['GithubWorkflowSHA', 'github-workflow-sha', 'githubWorkflowSha'],
  ['GithubWorkflowName', 'github-workflow-name', 'githubWorkflowName'],
  ['GithubWorkflowRepository', 'github-workflow-repository', 'githubWorkflowRepository'],
  ['GithubWorkflowRef', 'github-workflow-ref', 'githubWorkflowRef'],
  ['BuildSignerURI', 'build-signer-uri', 'buildSignerUri'],
  ['BuildSignerDigest', 'build-signer-digest', 'buildSignerDigest'],
  ['RunnerEnvironment', 'runner-environment', 'runnerEnvironment'],
  ['SourceRepositoryURI', 'source-repository-uri', 'sourceRepositoryUri'],
  ['SourceRepositoryDigest', 'source-repository-digest', 'sourceRepositoryDigest'],
  ['SourceRepositoryRef', 'source-repository-ref', 'sourceRepositoryRef'],
  ['SourceRepositoryIdentifier', 'source-repository-identifier', 'sourceRepositoryIdentifier'],
  ['SourceRepositoryOwnerURI', 'source-repository-owner-uri', 'sourceRepositoryOwnerUri'],
  ['SourceRepositoryOwnerIdentifier', 'source-repository-owner-identifier', 'sourceRepositoryOwnerIdentifier'],
  ['BuildConfigURI', 'build-config-uri', 'buildConfigUri'],
  ['BuildConfigDigest', 'build-config-digest', 'buildConfigDigest'],
  ['BuildTrigger', 'build-trigger', 'buildTrigger'],
  ['RunInvocationURI', 'run-invocation-uri', 'runInvocationUri'],
  ['SourceRepositoryVisibilityAtSigning', 'source-repository-visibility-at-signing', 'sourceRepositoryVisibilityAtSigning'],
  ['DeploymentEnvironment', 'deployment-environment', 'deploymentEnvironment'],
  ['Subject', 'subject', undefined],
];

const METADATA_KEYS: Record<string, string> = {
  defaulttemplatevalues: 'DefaultTemplateValues', 'default-template-values': 'DefaultTemplateValues',
  extensiontemplates: 'ExtensionTemplates', 'extension-templates': 'ExtensionTemplates',
  subjectalternativenametemplate: 'SubjectAlternativeNameTemplate', 'subject-alternative-name-template': 'SubjectAlternativeNameTemplate',
};

function valueTemplate(text: string, where: string): ValueTemplate {
  if (!text.includes('{{')) return { kind: 'claim', name: text };
  try {
    return { kind: 'template', template: parseGoTemplate(text) };
  } catch (err) {
    throw new Error(`${where}: ${(err as Error).message}`);
  }
}

export function parseCiIssuerMetadata(raw: unknown, where: string): Map<string, CiIssuerMetadata> {
  const out = new Map<string, CiIssuerMetadata>();
  if (raw === undefined || raw === null) return out;
  if (!isRecord(raw)) throw new Error(`${where}: CIIssuerMetadata must be a mapping`);
  for (const [provider, entry] of Object.entries(raw)) {
    const at = `${where}: CIIssuerMetadata["${provider}"]`;
    if (!isRecord(entry)) throw new Error(`${at}: must be a mapping`);
    const fields: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(entry)) {
      const canonical = METADATA_KEYS[k.toLowerCase()];
      if (!canonical) throw new Error(`${at}: unknown key "${k}"`);
      fields[canonical] = v;
    }
    const defaults: Record<string, string> = {};
    const rawDefaults = fields.DefaultTemplateValues ?? {};
    if (!isRecord(rawDefaults)) throw new Error(`${at}: DefaultTemplateValues must be a mapping`);
    for (const [k, v] of Object.entries(rawDefaults)) {
      if (typeof v !== 'string') throw new Error(`${at}: DefaultTemplateValues["${k}"] must be a string`);
      defaults[k] = v;
    }
    const extensions: CiIssuerMetadata['extensions'] = {};
    const rawExt = fields.ExtensionTemplates ?? {};
    if (!isRecord(rawExt)) throw new Error(`${at}: ExtensionTemplates must be a mapping`);
    for (const [k, v] of Object.entries(rawExt)) {
      const known = EXTENSION_KEYS.find(([json, yaml]) => json.toLowerCase() === k.toLowerCase() || yaml === k);
      if (!known) throw new Error(`${at}: ExtensionTemplates: unknown extension "${k}"`);
      if (typeof v !== 'string') throw new Error(`${at}: ExtensionTemplates["${k}"] must be a string`);
      // Issuer and Subject always come from the token (upstream skips their templates): accepted, unused.
      if (known[2] && v.trim() !== '') extensions[known[2]] = valueTemplate(v, `${at}: ExtensionTemplates["${k}"]`);
    }
    const san = fields.SubjectAlternativeNameTemplate;
    if (typeof san !== 'string' || san.trim() === '') throw new Error(`${at}: SubjectAlternativeNameTemplate is required`);
    out.set(provider, { defaults, extensions, san: valueTemplate(san, `${at}: SubjectAlternativeNameTemplate`) });
  }
  return out;
}

/** How deep a claim value may nest before it is refused: far beyond any real token, far below the stack's limit. */
export const MAX_CLAIM_DEPTH = 64;

/**
 * Go's fmt %v of a decoded JSON value, and strconv.FormatFloat(v, 'f', -1, 64) for numbers (mapValuesToString).
 * A value nested deeper than MAX_CLAIM_DEPTH throws RangeError instead of overflowing the stack (a ~14 KB token
 * claim nested 5,000 deep did, and the CA answered 500).
 */
export function goClaimString(v: unknown, depth = 0): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') {
    if (Number.isInteger(v)) return BigInt(v).toString();
    const s = String(v);
    return s.includes('e') ? v.toFixed(20).replace(/0+$/, '') : s;
  }
  if (typeof v === 'boolean') return String(v);
  if (v === null || v === undefined) return '<nil>';
  if (depth >= MAX_CLAIM_DEPTH) throw new RangeError(`a claim nested more than ${MAX_CLAIM_DEPTH} deep`);
  if (Array.isArray(v)) return `[${v.map((x) => goClaimString(x, depth + 1)).join(' ')}]`;
  const obj = v as Record<string, unknown>;
  return `map[${Object.keys(obj).sort().map((k) => `${k}:${goClaimString(obj[k], depth + 1)}`).join(' ')}]`;
}

/** Renders one value: claims override the defaults (upstream copies the claims last). */
export function renderValue(t: ValueTemplate, data: Readonly<Record<string, string>>, what: string): string {
  if (t.kind === 'template') {
    try {
      return t.template.execute(data);
    } catch (err) {
      throw new Error(`${what}: ${(err as Error).message}`);
    }
  }
  if (!Object.hasOwn(data, t.name)) throw new Error(`${what}: value <${t.name}> not present in either claims or defaults`);
  return data[t.name]!;
}
