import { isMap, isScalar, type Document } from 'yaml';

/** Field readers and checks shared by the issuer-configuration parsers; errors name the key they are about. */

/** Renames keys to their canonical JSON spelling; unknown or duplicated keys are errors, since they are typos. */
export function canonicalKeys(obj: Record<string, unknown>, names: Record<string, string>, where: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(obj)) {
    const canonical = names[key.toLowerCase()];
    if (!canonical) throw new Error(`${where}: unknown key "${key}"`);
    if (canonical in out) throw new Error(`${where}: "${key}" is given twice`);
    out[canonical] = value;
  }
  return out;
}

/** Parses an http(s) issuer URL; refuses credentials, queries and fragments, which have no place in an issuer. */
export function checkHttpUrl(value: string, where: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`${where}: "${value}" is not a valid URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`${where}: "${value}" must be an http(s) URL`);
  if (url.username || url.password || url.search || url.hash) {
    throw new Error(`${where}: "${value}" must not carry credentials, a query or a fragment`);
  }
  return url;
}

/** Fulcio's validateAllowedDomain: equal hosts, or equal top- and second-level labels. */
export function checkAllowedDomain(subjectHost: string, issuerHost: string, where: string): void {
  if (subjectHost === issuerHost) return;
  const s = subjectHost.split('.');
  const i = issuerHost.split('.');
  if (s.length < 2) throw new Error(`${where}: hostname too short: ${subjectHost}`);
  if (i.length < 2) throw new Error(`${where}: hostname too short: ${issuerHost}`);
  if (s.at(-1) !== i.at(-1) || s.at(-2) !== i.at(-2)) {
    throw new Error(`${where}: SubjectDomain ${subjectHost} and issuer ${issuerHost} do not share their top- and second-level domains`);
  }
}

export function optionalString(fields: Record<string, unknown>, name: string, where: string): string | undefined {
  const v = fields[name];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw new Error(`${where}: ${name} must be a string`);
  return v;
}

export function requiredString(fields: Record<string, unknown>, name: string, where: string): string {
  const v = optionalString(fields, name, where);
  if (v === undefined) throw new Error(`${where}: ${name} is required`);
  return v;
}

/**
 * The 1-based line of the deepest key of `path` found in a YAML document (keys compared case-insensitively, as the
 * parser reads them), so that a configuration error can say where to look. Undefined when not found.
 */
export function yamlLineOf(doc: Document, text: string, path: string[]): number | undefined {
  let node: unknown = doc.contents;
  let offset: number | undefined;
  for (const key of path) {
    if (!isMap(node)) break;
    const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value).toLowerCase() === key.toLowerCase());
    if (!pair) break;
    offset = isScalar(pair.key) ? pair.key.range?.[0] : undefined;
    node = pair.value;
  }
  if (offset === undefined) return undefined;
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}
