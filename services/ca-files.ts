import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { initCa, rotateIntermediate } from '../ca/ceremony.ts';
import { createCaHierarchy } from '../ca/hierarchy.ts';
import { generatePkcs11Key, pkcs11Signer, type Pkcs11Options } from '../ca/pkcs11-signer.ts';
import type { Signer } from '../core/signer.ts';
import { writeFileAtomic } from '../core/atomic-file.ts';
import { keysDir, loadKeyFile, loadOrCreateKey } from './keys.ts';
import { derToPem, pemToDerList } from '../core/pem.ts';
import { readMeta } from './meta.ts';
import { CA_INTERMEDIATE_KEY, checkCaFolder } from './data-folder.ts';
import { ConfigError, DataFolderError, RESTORE_ADVICE } from './startup-errors.ts';

export function caCertPaths(dataDir: string): { dir: string; chain: string; history: string } {
  const dir = join(dataDir, 'ca');
  return { dir, chain: join(dir, 'chain.pem'), history: join(dir, 'history.json') };
}

/**
 * The CA's keys and chain: created on first start (root and intermediate keys 0600, chain.pem = intermediate
 * then root), loaded after. The running CA signs only with the intermediate. After `sigstack ca init` the chain
 * exists and the intermediate key is encrypted (passphrase from the environment): the root key is not here at all.
 */
/**
 * The HSM holding the intermediate key, from SIGSTACK_CA_PKCS11_MODULE, _TOKEN, _PIN and _KEY_LABEL (default
 * `sigstack-ca-intermediate`); undefined when SIGSTACK_CA_PKCS11_MODULE is not set.
 */
export function pkcs11FromEnv(env: NodeJS.ProcessEnv = process.env): Pkcs11Options | undefined {
  if (!env.SIGSTACK_CA_PKCS11_MODULE) return undefined;
  const need = (name: string) => {
    const v = env[name];
    if (!v) throw new ConfigError(`SIGSTACK_CA_PKCS11_MODULE is set, so ${name} is needed too`);
    return v;
  };
  return {
    module: env.SIGSTACK_CA_PKCS11_MODULE,
    tokenLabel: need('SIGSTACK_CA_PKCS11_TOKEN'),
    pin: need('SIGSTACK_CA_PKCS11_PIN'),
    keyLabel: env.SIGSTACK_CA_PKCS11_KEY_LABEL || 'sigstack-ca-intermediate',
  };
}

/** The certificates of a PEM file of the CA's, parsed; a damaged file is named. */
function readCertificates(file: string): Buffer[] {
  try {
    const ders = pemToDerList(readFileSync(file, 'utf8'));
    for (const d of ders) new X509Certificate(d);
    return ders;
  } catch (err) {
    throw new DataFolderError(`${file} holds no readable PEM certificates (${(err as Error).message}): ${RESTORE_ADVICE}`);
  }
}

/**
 * The CA's issuing key and chain. Created only on the CA's first start: no chain yet, and meta.json records no CA
 * (services/data-folder.ts). Once the chain exists its key must too: a lost key is refused, never replaced.
 */
export function loadOrCreateCa(dataDir: string): { intermediate: Signer; chainDer: Buffer[]; created: boolean } {
  const paths = caCertPaths(dataDir);
  const hsm = pkcs11FromEnv();
  checkCaFolder(dataDir, readMeta(dataDir), hsm !== undefined);
  if (hsm && !existsSync(paths.chain)) throw new Error(`${paths.chain} is missing: with a PKCS#11 key, run "sigstack ca init" first`);
  if (existsSync(paths.chain)) {
    const keyFile = join(dataDir, CA_INTERMEDIATE_KEY);
    const intermediate = hsm ? pkcs11Signer(hsm) : loadKeyFile(keyFile, 'the CA\'s issuing key');
    const chainDer = readCertificates(paths.chain);
    if (chainDer.length < 2) throw new DataFolderError(`${paths.chain} must hold the intermediate and the root certificates: ${RESTORE_ADVICE}`);
    if (!new X509Certificate(chainDer[0]!).publicKey.export({ type: 'spki', format: 'der' }).equals(intermediate.publicKeyDer)) {
      throw new DataFolderError(`${paths.chain} does not start with the certificate of ${hsm ? `the PKCS#11 key "${hsm.keyLabel}"` : keyFile}: ${RESTORE_ADVICE}`);
    }
    return { intermediate, chainDer, created: false };
  }
  // keys a killed first start left behind were never certified (no chain): reused, as nothing names them
  const intermediate = loadOrCreateKey(dataDir, 'ca-intermediate').signer;
  const root = loadOrCreateKey(dataDir, 'ca-root').signer;
  const { rootDer, intermediateDer } = createCaHierarchy({ rootSigner: root, intermediateSigner: intermediate });
  mkdirSync(paths.dir, { recursive: true });
  writeFileAtomic(paths.chain, derToPem(intermediateDer) + derToPem(rootDer), 0o644);
  return { intermediate, chainDer: [intermediateDer, rootDer], created: true };
}

/** Earlier intermediates (after `ca rotate`), each with the window in which it issued, and when the current one began. */
export interface CaHistory {
  currentStart?: string;
  previous: { chainDer: Buffer[]; start: string; end: string }[];
}

export function loadCaHistory(dataDir: string): CaHistory {
  const file = caCertPaths(dataDir).history;
  if (!existsSync(file)) return { previous: [] };
  try {
    const doc = JSON.parse(readFileSync(file, 'utf8')) as { currentStart?: string; previous?: { chainPem: string; start: string; end: string }[] };
    return { currentStart: doc.currentStart, previous: (doc.previous ?? []).map((p) => ({ chainDer: pemToDerList(p.chainPem), start: p.start, end: p.end })) };
  } catch (err) {
    throw new DataFolderError(`${file} (the CA's earlier intermediates) is damaged (${(err as Error).message}): ${RESTORE_ADVICE}`);
  }
}

/** `sigstack ca init`: refuses an initialised folder; the root key goes to `rootKeyOut`, never into the data folder's keys. */
export function initCaFiles(opts: { dataDir: string; rootKeyOut: string; passphrase: string; organization?: string; pkcs11?: Pkcs11Options }): { rootDer: Buffer; intermediateDer: Buffer; files: string[] } {
  const paths = caCertPaths(opts.dataDir);
  const intermediateKey = join(keysDir(opts.dataDir), 'ca-intermediate.key.pem');
  for (const f of [paths.chain, intermediateKey, join(keysDir(opts.dataDir), 'ca-root.key.pem'), opts.rootKeyOut]) {
    if (existsSync(f)) throw new Error(`${f} already exists: this CA is already initialised (use "sigstack ca rotate" for a new intermediate)`);
  }
  let hsmIntermediate: (Signer & { close(): void }) | undefined;
  if (opts.pkcs11) {
    generatePkcs11Key(opts.pkcs11);
    hsmIntermediate = pkcs11Signer(opts.pkcs11);
  }
  const result = initCa({ passphrase: opts.passphrase, organization: opts.organization, hsmIntermediate });
  hsmIntermediate?.close();
  mkdirSync(keysDir(opts.dataDir), { recursive: true, mode: 0o700 });
  mkdirSync(paths.dir, { recursive: true });
  mkdirSync(dirname(opts.rootKeyOut), { recursive: true, mode: 0o700 });
  writeFileAtomic(opts.rootKeyOut, result.rootKeyPem, 0o600);
  if (result.intermediateKeyPem) writeFileAtomic(intermediateKey, result.intermediateKeyPem, 0o600);
  writeFileAtomic(join(paths.dir, 'root.pem'), derToPem(result.rootDer), 0o644);
  writeFileAtomic(paths.chain, derToPem(result.intermediateDer) + derToPem(result.rootDer), 0o644);
  const keyPlace = opts.pkcs11 ? `PKCS#11 token "${opts.pkcs11.tokenLabel}" key "${opts.pkcs11.keyLabel}"` : intermediateKey;
  return { rootDer: result.rootDer, intermediateDer: result.intermediateDer, files: [opts.rootKeyOut, keyPlace, paths.chain] };
}

/**
 * Leaf certificates live 10 minutes: one issued just before a rotation may still be logged a little after it,
 * so the old intermediate's window ends this long after the rotation.
 */
const LEAF_GRACE_MS = 10 * 60 * 1000;

/** `sigstack ca rotate`: a new intermediate under the same root; the old chain moves to history.json with its window. */
export function rotateCaFiles(opts: { dataDir: string; rootKeyPem: string; passphrase: string; organization?: string; now?: Date }): { intermediateDer: Buffer; previousDer: Buffer } {
  const paths = caCertPaths(opts.dataDir);
  if (!existsSync(paths.chain)) throw new Error(`${paths.chain} is missing: run "sigstack ca init" first`);
  const oldChain = pemToDerList(readFileSync(paths.chain, 'utf8'));
  const rootDer = oldChain.at(-1)!;
  const now = opts.now ?? new Date();
  const { intermediateDer, intermediateKeyPem } = rotateIntermediate({ rootKeyPem: opts.rootKeyPem, rootDer, passphrase: opts.passphrase, organization: opts.organization, now });
  const history = loadCaHistory(opts.dataDir);
  const start = history.currentStart ?? new Date(new X509Certificate(rootDer).validFrom).toISOString();
  const doc = {
    currentStart: new Date(Math.floor(now.getTime() / 1000) * 1000).toISOString(),
    previous: [
      ...history.previous.map((p) => ({ chainPem: p.chainDer.map((d) => derToPem(d)).join(''), start: p.start, end: p.end })),
      { chainPem: oldChain.map((d) => derToPem(d)).join(''), start, end: new Date(now.getTime() + LEAF_GRACE_MS).toISOString() },
    ],
  };
  // history first: a crash between the two writes leaves the old chain current and listed, never lost
  writeFileAtomic(paths.history, `${JSON.stringify(doc, null, 2)}\n`, 0o644);
  writeFileAtomic(join(keysDir(opts.dataDir), 'ca-intermediate.key.pem'), intermediateKeyPem, 0o600);
  writeFileAtomic(paths.chain, derToPem(intermediateDer) + derToPem(rootDer), 0o644);
  return { intermediateDer, previousDer: oldChain[0]! };
}
