/**
 * The subset of Go's text/template that Fulcio's CIIssuerMetadata templates use: text, `{{ .claim }}`,
 * `{{ index . "odd/key" }}`, `{{if .claim}}`/`{{if eq .claim "value"}}` (also `ne`) with `{{else}}` and `{{end}}`, and the `{{-`/`-}}` trim
 * markers. Executed as upstream does it, with `missingkey=error` and NO HTML escaping (text/template, not
 * html/template: fulcio#2023, a `&` in a claim must reach the certificate as `&`). Anything else is refused
 * when the configuration is parsed, so a template never fails to parse at request time.
 */

type Arg = { kind: 'field'; name: string } | { kind: 'string'; value: string };
type Cond = { op: 'truthy'; arg: Arg } | { op: 'eq' | 'ne'; args: Arg[] };
type Node =
  | { t: 'text'; value: string }
  | { t: 'field'; name: string }
  | { t: 'if'; cond: Cond; then: Node[]; otherwise: Node[] };

export interface GoTemplate {
  source: string;
  /** Renders with `data`; throws an Error naming the missing key when a referenced key is absent. */
  execute(data: Readonly<Record<string, string>>): string;
}

const FIELD = /^\.([A-Za-z_][A-Za-z0-9_]*)$/;
const STRING = /^"((?:[^"\\]|\\.)*)"$/;

/**
 * `index . "oidc.circleci.com/pipeline-id"` (optionally in parentheses) reads a key that is not a Go identifier;
 * it is rewritten to `@"key"` before the action is split into words.
 */
const INDEX = /\(\s*index\s+\.\s+("(?:[^"\\]|\\.)*")\s*\)|index\s+\.\s+("(?:[^"\\]|\\.)*")/g;
const INDEXED = /^@("(?:[^"\\]|\\.)*")$/;

function fieldName(word: string): string | undefined {
  const f = FIELD.exec(word);
  if (f) return f[1]!;
  const i = INDEXED.exec(word);
  return i ? (JSON.parse(i[1]!) as string) : undefined;
}

function parseArg(word: string, source: string): Arg {
  const name = fieldName(word);
  if (name !== undefined) return { kind: 'field', name };
  const s = STRING.exec(word);
  if (s) return { kind: 'string', value: JSON.parse(`"${s[1]}"`) as string };
  throw new Error(`template ${JSON.stringify(source)}: unsupported argument ${word}`);
}

/** Splits an action's words, keeping double-quoted strings whole. */
function words(action: string): string[] {
  return action.match(/"(?:[^"\\]|\\.)*"|\S+/g) ?? [];
}

function parseCond(ws: string[], source: string): Cond {
  if (ws.length === 1) return { op: 'truthy', arg: parseArg(ws[0]!, source) };
  const [fn, ...rest] = ws;
  if ((fn === 'eq' || fn === 'ne') && rest.length >= 2 && (fn === 'eq' || rest.length === 2)) {
    return { op: fn, args: rest.map((w) => parseArg(w, source)) };
  }
  throw new Error(`template ${JSON.stringify(source)}: unsupported condition "${ws.join(' ')}"`);
}

export function parseGoTemplate(source: string): GoTemplate {
  // Tokenise into text and actions, applying trim markers as Go does (whitespace next to the marker goes).
  const tokens: ({ text: string } | { action: string })[] = [];
  let rest = source;
  while (rest.length > 0) {
    const open = rest.indexOf('{{');
    if (open < 0) {
      tokens.push({ text: rest });
      break;
    }
    let text = rest.slice(0, open);
    const close = rest.indexOf('}}', open + 2);
    if (close < 0) throw new Error(`template ${JSON.stringify(source)}: unclosed action`);
    let inner = rest.slice(open + 2, close);
    if (inner.startsWith('- ')) {
      text = text.trimEnd();
      inner = inner.slice(2);
    }
    let trimAfter = false;
    if (inner.endsWith(' -')) {
      trimAfter = true;
      inner = inner.slice(0, -2);
    }
    tokens.push({ text }, { action: inner.trim() });
    rest = rest.slice(close + 2);
    if (trimAfter) rest = rest.trimStart();
  }

  let i = 0;
  const parseList = (inIf: boolean): { nodes: Node[]; end: 'else' | 'end' | 'eof' } => {
    const nodes: Node[] = [];
    for (; i < tokens.length; i++) {
      const tok = tokens[i]!;
      if ('text' in tok) {
        if (tok.text) nodes.push({ t: 'text', value: tok.text });
        continue;
      }
      const ws = words(tok.action.replace(INDEX, (_m, a?: string, b?: string) => `@${a ?? b}`));
      if (ws.length === 0) throw new Error(`template ${JSON.stringify(source)}: empty action`);
      if (ws[0] === 'end' || ws[0] === 'else') {
        if (!inIf || ws.length !== 1) throw new Error(`template ${JSON.stringify(source)}: unexpected {{${tok.action}}}`);
        return { nodes, end: ws[0] };
      }
      if (ws[0] === 'if') {
        i++;
        const cond = parseCond(ws.slice(1), source);
        const then = parseList(true);
        let otherwise: Node[] = [];
        if (then.end === 'else') {
          i++;
          const e = parseList(true);
          if (e.end !== 'end') throw new Error(`template ${JSON.stringify(source)}: {{if}} without {{end}}`);
          otherwise = e.nodes;
        } else if (then.end !== 'end') {
          throw new Error(`template ${JSON.stringify(source)}: {{if}} without {{end}}`);
        }
        nodes.push({ t: 'if', cond, then: then.nodes, otherwise });
        continue;
      }
      const name = ws.length === 1 ? fieldName(ws[0]!) : undefined;
      if (name === undefined) throw new Error(`template ${JSON.stringify(source)}: unsupported action {{${tok.action}}}`);
      nodes.push({ t: 'field', name });
    }
    return { nodes, end: 'eof' };
  };
  const root = parseList(false);

  const lookup = (data: Readonly<Record<string, string>>, name: string): string => {
    if (!Object.hasOwn(data, name)) throw new Error(`map has no entry for key "${name}"`);
    return data[name]!;
  };
  const value = (data: Readonly<Record<string, string>>, a: Arg) => (a.kind === 'string' ? a.value : lookup(data, a.name));
  const holds = (data: Readonly<Record<string, string>>, c: Cond): boolean => {
    if (c.op === 'truthy') return value(data, c.arg) !== '';
    const [first, ...others] = c.args.map((a) => value(data, a));
    const equal = others.some((o) => o === first);
    return c.op === 'eq' ? equal : !equal;
  };
  const run = (nodes: Node[], data: Readonly<Record<string, string>>): string => {
    let out = '';
    for (const n of nodes) {
      if (n.t === 'text') out += n.value;
      else if (n.t === 'field') out += lookup(data, n.name);
      else out += run(holds(data, n.cond) ? n.then : n.otherwise, data);
    }
    return out;
  };
  return { source, execute: (data) => run(root.nodes, data) };
}
