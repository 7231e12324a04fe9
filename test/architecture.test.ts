import test from 'ava';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT } from './helpers/cli.ts';

/** Every .ts file under a top folder, with its import specifiers. */
function sources(top: string): { file: string; imports: string[] }[] {
  const out: { file: string; imports: string[] }[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.ts')) {
        const text = readFileSync(path, 'utf8');
        const imports = [...text.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)].map((m) => m[1]!);
        out.push({ file: relative(ROOT, path), imports });
      }
    }
  };
  walk(join(ROOT, top));
  return out;
}

/** The top folder (or log/merkle-style sub-folder) an import resolves into, for relative imports. */
function target(file: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  return relative(ROOT, join(ROOT, file, '..', spec));
}

function violations(top: string, forbidden: (dest: string, spec: string) => boolean): string[] {
  const bad: string[] = [];
  for (const { file, imports } of sources(top)) {
    for (const spec of imports) {
      const dest = target(file, spec) ?? spec;
      if (forbidden(dest, spec)) bad.push(`${file} imports ${spec}`);
    }
  }
  return bad;
}

const under = (dest: string, ...tops: string[]) => tops.some((t) => dest === t || dest.startsWith(`${t}/`));

test('arrows run downwards: core imports no other layer', (t) => {
  t.deepEqual(violations('core', (d) => under(d, 'ca', 'log', 'services', 'client')), []);
});

test('arrows run downwards: ca and log never import each other, services or client', (t) => {
  t.deepEqual(violations('ca', (d) => under(d, 'log', 'services', 'client')), []);
  t.deepEqual(violations('log', (d) => under(d, 'ca', 'services', 'client')), []);
});

test('arrows run downwards: services never imports client', (t) => {
  t.deepEqual(violations('services', (d) => under(d, 'client')), []);
});

test('the verifier is offline by construction: client/verify uses only pure code', (t) => {
  const impure = ['koa', '@koa/router', 'better-sqlite3', 'node:http', 'node:https', 'node:net', 'node:tls', 'undici', 'node:fs'];
  t.deepEqual(violations('client/verify', (d, spec) =>
    impure.includes(spec) || under(d, 'services', 'ca') || (under(d, 'log') && !under(d, 'log/merkle') && d !== 'log/checkpoint.ts')), []);
});

test('pure cores import no server machinery', (t) => {
  const servers = ['koa', '@koa/router', 'better-sqlite3', 'node:http', 'node:https'];
  for (const top of ['log/merkle', 'ca/identity']) {
    t.deepEqual(violations(top, (_d, spec) => servers.includes(spec)), [], top);
  }
});
