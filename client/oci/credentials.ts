/**
 * Registry credentials: from the command line, or from docker's config.json (`$DOCKER_CONFIG/config.json`,
 * else `~/.docker/config.json`). An `auths` key is matched to the registry by EXACT host[:port] after removing
 * a scheme and a path: a substring match (sigstore-js#1718) would hand the credentials of `registry.example.com`
 * to `registry.example.com.attacker.net`.
 *
 * Credential helpers, as docker and cosign (go-containerregistry) use them: a `credHelpers` entry for exactly
 * this host, else `credsStore`, names a program `docker-credential-<name>` that is run with `get` and the server
 * address on stdin and answers `{"ServerURL","Username","Secret"}`. When a helper applies, `auths` is not used
 * for that registry (docker's native store overrides the file store). "credentials not found" means anonymous;
 * a helper that is missing or fails is an error, not a silent anonymous pull.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface Credentials {
  username: string;
  password: string;
}

const MAX_CONFIG = 1024 * 1024;

/** `https://host:port/v1/` -> `host:port`; lower-cased, as host names compare. */
export function normalizeAuthKey(key: string): string {
  let k = key.trim();
  k = k.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  const slash = k.indexOf('/');
  if (slash >= 0) k = k.slice(0, slash);
  return k.toLowerCase();
}

function decodeEntry(entry: unknown): Credentials | undefined {
  if (typeof entry !== 'object' || entry === null) return undefined;
  const e = entry as Record<string, unknown>;
  if (typeof e.auth === 'string' && e.auth !== '') {
    const text = Buffer.from(e.auth, 'base64').toString('utf8');
    const colon = text.indexOf(':');
    if (colon <= 0) return undefined;
    return { username: text.slice(0, colon), password: text.slice(colon + 1) };
  }
  if (typeof e.username === 'string' && typeof e.password === 'string' && e.username !== '') return { username: e.username, password: e.password };
  return undefined;
}

export class CredentialHelperError extends Error {}

/** What a helper is asked for: docker's server address, which for Docker Hub is its v1 index URL. */
export function helperServerAddress(registry: string): string {
  return registry === 'index.docker.io' || registry === 'docker.io' ? 'https://index.docker.io/v1/' : registry;
}

const MAX_HELPER_OUTPUT = 64 * 1024;
/** docker's helpers answer in milliseconds; a cloud helper fetching a token in a few seconds. */
export const HELPER_TIMEOUT_MS = 10_000;

interface HelperRun {
  error?: NodeJS.ErrnoException;
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/**
 * The child runs asynchronously: a slow or hung helper must not stop the event loop (the admission webhook
 * answers other requests meanwhile). It is killed at the deadline or when it writes more than any helper does.
 */
function runHelperProcess(program: string, input: string, timeoutMs: number): Promise<HelperRun> {
  return new Promise((resolve) => {
    // Its own process group, so a kill reaches what a helper script started too (a shell's `sleep` would
    // otherwise hold the pipes open after the shell is gone).
    const child = spawn(program, ['get'], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let size = 0;
    let error: NodeJS.ErrnoException | undefined;
    let settled = false;
    const finish = (status: number | null, signal: NodeJS.Signals | null, timedOut: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ error, status, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), timedOut });
    };
    const killGroup = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL'); // the group is gone already, or was never made
      }
      child.stdout.destroy();
      child.stderr.destroy();
    };
    const timer = setTimeout(() => {
      killGroup();
      finish(null, 'SIGKILL', true);
    }, timeoutMs);
    const collect = (into: Buffer[]) => (c: Buffer) => {
      size += c.length;
      if (size > MAX_HELPER_OUTPUT) {
        error ??= Object.assign(new Error(`wrote more than ${MAX_HELPER_OUTPUT} bytes`), { code: 'EOVERFLOW' });
        killGroup();
        finish(null, 'SIGKILL', false);
      } else into.push(c);
    };
    child.stdout.on('data', collect(out));
    child.stderr.on('data', collect(err));
    child.stdin.on('error', () => {}); // a helper that exits without reading its input
    child.on('error', (e: NodeJS.ErrnoException) => {
      error ??= e;
      finish(null, null, false);
    });
    child.on('close', (status, signal) => finish(status, signal, false));
    child.stdin.end(input);
  });
}

/** Runs `docker-credential-<helper> get` with the server address on stdin; undefined when it has none. */
export async function runCredentialHelper(helper: string, serverAddress: string, timeoutMs = HELPER_TIMEOUT_MS): Promise<Credentials | undefined> {
  // A name, not a path: the program is looked up on PATH as docker does, never a file named by the config.
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(helper)) throw new CredentialHelperError(`credential helper name ${JSON.stringify(helper.slice(0, 100))} is not a plain name`);
  const program = `docker-credential-${helper}`;
  const r = await runHelperProcess(program, serverAddress, timeoutMs);
  if (r.timedOut) throw new CredentialHelperError(`credential helper ${program} did not answer within ${timeoutMs / 1000} s`);
  if (r.error) {
    throw new CredentialHelperError(r.error.code === 'ENOENT' ? `credential helper ${program} is not on PATH` : `credential helper ${program} failed: ${r.error.message}`);
  }
  const out = r.stdout.trim();
  if (r.status !== 0) {
    // The message every docker-credential-helpers program prints for an unknown server.
    if (/credentials not found/i.test(out)) return undefined;
    throw new CredentialHelperError(`credential helper ${program} exited with ${r.status ?? r.signal}: ${(out || r.stderr.trim()).slice(0, 300)}`);
  }
  let json: { Username?: unknown; Secret?: unknown };
  try {
    json = JSON.parse(out);
  } catch {
    throw new CredentialHelperError(`credential helper ${program} did not answer JSON`);
  }
  if (typeof json?.Username !== 'string' || typeof json.Secret !== 'string') throw new CredentialHelperError(`credential helper ${program} answered without Username and Secret`);
  // "<token>" marks an OAuth2 identity (refresh) token, which needs a token exchange this client does not do.
  if (json.Username === '<token>') throw new CredentialHelperError(`credential helper ${program} gave an identity token; only user name and password credentials are supported`);
  if (json.Username === '' && json.Secret === '') return undefined;
  return { username: json.Username, password: json.Secret };
}

/** The helper config.json names for this registry: its `credHelpers` entry, else `credsStore`. */
export function credentialHelperFor(config: unknown, registry: string): string | undefined {
  if (typeof config !== 'object' || config === null) return undefined;
  const c = config as { credHelpers?: unknown; credsStore?: unknown };
  if (typeof c.credHelpers === 'object' && c.credHelpers !== null) {
    const wanted = normalizeAuthKey(helperServerAddress(registry.toLowerCase()));
    for (const [key, name] of Object.entries(c.credHelpers)) {
      if (normalizeAuthKey(key) === wanted && typeof name === 'string' && name !== '') return name;
    }
  }
  return typeof c.credsStore === 'string' && c.credsStore !== '' ? c.credsStore : undefined;
}

/**
 * The credentials config.json gives for exactly this registry (host[:port]), if any: through its credential
 * helper when one applies, else from `auths`. Throws CredentialHelperError when a helper applies and fails.
 */
export async function credentialsFromDockerConfig(config: unknown, registry: string, runHelper: typeof runCredentialHelper = runCredentialHelper): Promise<Credentials | undefined> {
  if (typeof config !== 'object' || config === null) return undefined;
  const helper = credentialHelperFor(config, registry);
  if (helper !== undefined) return runHelper(helper, helperServerAddress(registry.toLowerCase()));
  const auths = (config as { auths?: unknown }).auths;
  if (typeof auths !== 'object' || auths === null) return undefined;
  const wanted = registry.toLowerCase();
  for (const [key, entry] of Object.entries(auths)) {
    if (normalizeAuthKey(key) === wanted) return decodeEntry(entry);
  }
  return undefined;
}

export function dockerConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.DOCKER_CONFIG ?? join(homedir(), '.docker'), 'config.json');
}

/** Reads the docker config; a missing or unreadable file means no credentials, not an error. */
export function loadDockerConfig(path = dockerConfigPath()): unknown {
  try {
    const text = readFileSync(path);
    if (text.length > MAX_CONFIG) return undefined;
    return JSON.parse(text.toString('utf8'));
  } catch {
    return undefined;
  }
}
