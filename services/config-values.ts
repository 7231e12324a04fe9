import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { createSecureContext } from 'node:tls';
import { dirname, resolve } from 'node:path';
import { ConfigError } from './startup-errors.ts';

/**
 * The checks behind services/config.ts, one per kind of value. Each takes the setting's name as the message must
 * give it (`--tls-cert`, `SIGSTACK_TLS_CERT`, `sigstack.yaml: tls.cert`) and throws a ConfigError that names it and
 * the file or value at fault, never a bare errno or OpenSSL code.
 */

/** Why a file could not be read, in words (the errno code kept for searching). */
function reason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  const words: Record<string, string> = { ENOENT: 'no such file', EACCES: 'permission denied', EPERM: 'permission denied', EISDIR: 'it is a folder, not a file', ENOTDIR: 'a part of the path is not a folder', ELOOP: 'too many symbolic links' };
  return code ? `${words[code] ?? (err as Error).message} (${code})` : (err as Error).message;
}

/** A file a setting names, read whole as UTF-8. */
export function readSettingFile(name: string, value: string): { path: string; text: string } {
  const path = resolve(value);
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    throw new ConfigError((err as NodeJS.ErrnoException).code === 'ENOENT' ? `${name}: no file at ${path}` : `${name}: cannot read ${path}: ${reason(err)}`);
  }
  if (!st.isFile()) throw new ConfigError(`${name}: ${path} is ${st.isDirectory() ? 'a folder' : 'not a regular file'}, not a file`);
  try {
    return { path, text: readFileSync(path, 'utf8') };
  } catch (err) {
    throw new ConfigError(`${name}: cannot read ${path}: ${reason(err)}`);
  }
}

/**
 * A base URL (public URL, log URL, CA URL): http(s), no credentials (they would be recorded in meta.json for good
 * and published in every trust document), no query or fragment (paths are appended to it), no white space.
 */
export function parseBaseUrl(name: string, value: string): string {
  if (/[\s\u0000-\u001f\u007f]/.test(value)) throw new ConfigError(`${name}: "${value}" must not contain white space or control characters`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`${name}: "${value}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(`${name}: "${value}" must be http or https`);
  // the WHATWG parser drops an empty user (`http://@host`) and an empty `?` or `#`: the raw text is checked too
  if (url.username || url.password || /^[a-z][a-z0-9+.-]*:\/*[^/?#]*@/i.test(value)) {
    throw new ConfigError(`${name}: "${value.replace(/\/\/[^/?#]*@/, '//***@')}" must not carry credentials (user:password@): a base URL is published in every trust document`);
  }
  if (url.search || url.hash || /[?#]/.test(value)) throw new ConfigError(`${name}: "${value}" must not have a query or fragment`);
  return value.replace(/\/+$/, '');
}

/** --host: an IP address or a host name, syntactically; whether it resolves is checkHost's. */
export function parseHost(name: string, value: string): string {
  if (isIP(value)) return value;
  // all digits and dots is meant as an IPv4 address (999.1.1.1, 10.0.0): say so rather than ask DNS about it
  if (/^[0-9.]+$/.test(value)) throw new ConfigError(`${name}: "${value}" is not a valid IPv4 address`);
  if (!/^[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?$/.test(value) || value.length > 253) {
    throw new ConfigError(`${name}: "${value}" is not an IP address or host name (give the address only: no scheme, port or path)`);
  }
  return value;
}

/** The bind address resolves (serve checks it before binding, config check too); the name only, not the port. */
export async function checkHost(name: string, host: string): Promise<void> {
  if (isIP(host)) return;
  try {
    await lookup(host);
  } catch (err) {
    throw new ConfigError(`${name}: "${host}" does not resolve to an address of this machine (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/**
 * The HTTPS pair, checked as the server will load it: a certificate OpenSSL parses, a private key it parses (not
 * encrypted: there is no passphrase setting), and the key being the certificate's.
 */
export function checkTlsPair(names: { cert: string; key: string }, cert: { path: string; text: string }, key: { path: string; text: string }): void {
  if (!cert.text.includes('-----BEGIN CERTIFICATE-----')) throw new ConfigError(`${names.cert}: ${cert.path} holds no PEM certificate`);
  if (!/-----BEGIN (EC |RSA |)PRIVATE KEY-----/.test(key.text)) throw new ConfigError(`${names.key}: ${key.path} holds no PEM private key (an encrypted key cannot be used)`);
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert.text);
  } catch (err) {
    throw new ConfigError(`${names.cert}: ${cert.path} holds no readable PEM certificate (${(err as Error).message})`);
  }
  try {
    createPrivateKey(key.text);
  } catch (err) {
    throw new ConfigError(`${names.key}: ${key.path} holds no readable PEM private key (${(err as Error).message})`);
  }
  if (!leaf.checkPrivateKey(createPrivateKey(key.text))) {
    throw new ConfigError(`${names.key}: ${key.path} is not the private key of the certificate in ${cert.path} (${names.cert})`);
  }
  try {
    createSecureContext({ cert: cert.text, key: key.text });
  } catch (err) {
    throw new ConfigError(`${names.cert} / ${names.key}: ${cert.path} and ${key.path} cannot serve HTTPS (${(err as Error).message})`);
  }
}

/**
 * The data folder: an existing folder this user can write, or a path that can be created (its nearest existing
 * parent is a folder this user can write). Nothing is created here.
 */
export function checkDataDir(name: string, path: string): void {
  let existing = path;
  for (;;) {
    let st;
    try {
      st = statSync(existing);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw new ConfigError(`${name}: cannot use ${path}: ${reason(err)}`);
      if (dirname(existing) === existing) throw new ConfigError(`${name}: cannot use ${path}: no part of it exists`);
      existing = dirname(existing);
      continue;
    }
    if (!st.isDirectory()) {
      throw new ConfigError(existing === path ? `${name}: ${path} is a file, not a folder` : `${name}: cannot create ${path}: ${existing} is a file, not a folder`);
    }
    break;
  }
  try {
    accessSync(existing, constants.R_OK | constants.W_OK | constants.X_OK);
  } catch {
    const uid = process.getuid?.();
    throw new ConfigError(existing === path
      ? `${name}: ${path} is not writable by this user${uid === undefined ? '' : ` (uid ${uid})`}: the server keeps its keys, log databases and lock there`
      : `${name}: cannot create ${path}: ${existing} is not writable by this user${uid === undefined ? '' : ` (uid ${uid})`}`);
  }
}

/**
 * A bind that fails, as a refusal naming the setting at fault and its source rather than the bare errno: the port
 * taken or privileged, the address not this machine's. Anything else is returned as it is.
 */
export function listenError(err: NodeJS.ErrnoException, names: { host: string; port: string }, host: string, port: number): Error {
  switch (err.code) {
    case 'EADDRINUSE': return new ConfigError(`${names.port}: ${host}:${port} is already in use (another server is listening there)`);
    case 'EACCES': return new ConfigError(`${names.port}: this user may not listen on ${host}:${port} (ports below 1024 need privileges)`);
    case 'EADDRNOTAVAIL': return new ConfigError(`${names.host}: ${host} is not an address of this machine`);
    case 'ENOTFOUND': case 'EAI_AGAIN': return new ConfigError(`${names.host}: "${host}" does not resolve (${err.code})`);
    default: return err;
  }
}
