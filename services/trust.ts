import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { SigningConfig, TrustedRoot, ServiceSelector } from '@sigstore/protobuf-specs';
import type { Signer } from '../core/signer.ts';
import { join } from 'node:path';
import { activeRekorKey, readMeta, type DeploymentMeta, type InactiveShardMeta } from './meta.ts';
import { loadKeyFile } from './keys.ts';
import { CA_CHAIN, CT_KEY } from './data-folder.ts';
import { caCertPaths, loadCaHistory } from './ca-files.ts';
import { pemToDerList } from '../core/pem.ts';
import { RESTORE_ADVICE } from './startup-errors.ts';

export const TRUSTED_ROOT_MEDIA_TYPE = 'application/vnd.dev.sigstore.trustedroot+json;version=0.1';
export const SIGNING_CONFIG_MEDIA_TYPE = 'application/vnd.dev.sigstore.signingconfig.v0.2+json';

/** What a deployment's trust documents are made of; each part is optional so one service can describe its half. */
export interface TrustParts {
  ca?: {
    baseUrl: string;
    chainDer: Buffer[] /* intermediate .. root */;
    /** When the current intermediate began issuing (after `ca rotate`); the root's notBefore otherwise. */
    validFrom?: string;
    /** Earlier intermediates (`ca rotate`), listed with their windows so their bundles still verify. */
    previous?: { chainDer: Buffer[]; start: string; end: string }[];
  };
  tlog?: {
    baseUrl: string;
    publicKeyDer: Buffer;
    keyId: Buffer;
    createdAt: string;
    /** When the active tree's key began (after `log rotate`); createdAt otherwise. */
    validFrom?: string;
    /** Keys of the trees frozen by `log rotate`, each with its window, so bundles they logged still verify. */
    previous?: { publicKeyDer: Buffer; keyId: Buffer; start: string; end: string }[];
  };
  ctlog?: { baseUrl: string; publicKeyDer: Buffer; keyId: Buffer; createdAt: string };
}

/**
 * Log times are whole seconds (integratedTime) and verifiers compare them with validFor.start: a start with
 * milliseconds would make entries of the log's first second fall before its key's validity.
 */
function wholeSeconds(iso: string): string {
  return new Date(Math.floor(Date.parse(iso) / 1000) * 1000).toISOString();
}

function logInstance(baseUrl: string, l: { publicKeyDer: Buffer; keyId: Buffer }, validFor: { start: string; end?: string }) {
  // An end is compared with whole-second integrated times too: the rotation's second stays in the old window.
  const window = { start: wholeSeconds(validFor.start), ...(validFor.end ? { end: wholeSeconds(validFor.end) } : {}) };
  return {
    baseUrl,
    hashAlgorithm: 'SHA2_256',
    publicKey: { rawBytes: l.publicKeyDer.toString('base64'), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: window },
    logId: { keyId: l.keyId.toString('base64') },
  };
}

/**
 * Every Rekor tree's key is its own tlog, as the public-good trusted root lists Rekor's shards: the active one
 * first (split deployments read tlogs[0] as the log's current key), then the frozen ones, each ending at its rotation.
 */
function tlogInstances(l: NonNullable<TrustParts['tlog']>) {
  return [
    logInstance(l.baseUrl, l, { start: l.validFrom ?? l.createdAt }),
    ...(l.previous ?? []).map((p) => logInstance(l.baseUrl, p, { start: p.start, end: p.end })),
  ];
}

function caInstance(baseUrl: string, chainDer: Buffer[], validFor: { start: string; end?: string }) {
  return {
    subject: { organization: 'sigstack', commonName: 'sigstack' },
    uri: baseUrl,
    certChain: { certificates: chainDer.map((d) => ({ rawBytes: d.toString('base64') })) },
    validFor,
  };
}

/**
 * trusted_root.json: the file an air-gapped site hands to its verifiers. Built from keys, never fetched
 * from a log at verification time. The CA's validity window is its root certificate's.
 */
export function buildTrustedRoot(parts: TrustParts): object {
  const json = {
    mediaType: TRUSTED_ROOT_MEDIA_TYPE,
    tlogs: parts.tlog ? tlogInstances(parts.tlog) : [],
    certificateAuthorities: parts.ca
      ? [
          ...(parts.ca.previous ?? []).map((p) => caInstance(parts.ca!.baseUrl, p.chainDer, { start: p.start, end: p.end })),
          caInstance(parts.ca.baseUrl, parts.ca.chainDer, {
            start: parts.ca.validFrom ?? new Date(new X509Certificate(parts.ca.chainDer.at(-1)!).validFrom).toISOString(),
          }),
        ]
      : [],
    ctlogs: parts.ctlog ? [logInstance(parts.ctlog.baseUrl, parts.ctlog, { start: parts.ctlog.createdAt })] : [],
    timestampAuthorities: [],
  };
  // Round trip through the protobuf-specs codec: fails loudly if a field is misspelt or mistyped.
  return TrustedRoot.toJSON(TrustedRoot.fromJSON(json)) as object;
}

/** signing_config.json v0.2: where clients (cosign v3, sigstore-js) find the CA and the log. */
export function buildSigningConfig(parts: { caUrl?: string; rekorUrl?: string; since: string }): object {
  const service = (url: string) => ({ url, majorApiVersion: 1, validFor: { start: parts.since }, operator: 'sigstack' });
  const config = SigningConfig.fromJSON({
    mediaType: SIGNING_CONFIG_MEDIA_TYPE,
    caUrls: parts.caUrl ? [service(parts.caUrl)] : [],
    oidcUrls: [],
    rekorTlogUrls: parts.rekorUrl ? [service(parts.rekorUrl)] : [],
    tsaUrls: [],
    rekorTlogConfig: { selector: 'ANY' },
    tsaConfig: { selector: 'ANY' },
  });
  config.rekorTlogConfig = { selector: ServiceSelector.ANY, count: 0 };
  config.tsaConfig = { selector: ServiceSelector.ANY, count: 0 };
  return SigningConfig.toJSON(config) as object;
}

/** The log's trust parts: the CT key (never rotated) and every Rekor tree's key with its window. */
export function logParts(
  meta: NonNullable<DeploymentMeta['log']>,
  rekor: Signer,
  ct: Signer,
  frozen: { signer: Signer; shard: InactiveShardMeta }[] = [],
): Pick<TrustParts, 'tlog' | 'ctlog'> {
  return {
    tlog: {
      baseUrl: meta.baseUrl,
      publicKeyDer: rekor.publicKeyDer,
      keyId: rekor.keyId,
      createdAt: meta.createdAt,
      validFrom: meta.activeSince,
      previous: frozen.map(({ signer, shard }) => ({ publicKeyDer: signer.publicKeyDer, keyId: signer.keyId, start: shard.start, end: shard.end })),
    },
    ctlog: { baseUrl: meta.ctBaseUrl, publicKeyDer: ct.publicKeyDer, keyId: ct.keyId, createdAt: meta.createdAt },
  };
}

/**
 * Offline: the trust documents of a data folder made by `sigstack serve`, with or without a server running. It only
 * reads: a key the folder's records name and that is missing is refused (never re-created: the documents would
 * publish a key no log signs with).
 */
export async function loadTrustDocuments(dataDir: string): Promise<{ trustedRoot: object; signingConfig: object }> {
  const meta = readMeta(dataDir);
  if (!meta.log && !meta.ca) throw new Error(`${dataDir} holds no Sigstack deployment (no meta.json): start the stack once first`);
  const parts: TrustParts = {};
  if (meta.log) {
    const frozen = (meta.log.inactiveShards ?? []).map((shard) => ({ signer: loadKeyFile(join(dataDir, shard.keyFile), `the key of the frozen Rekor tree ${shard.treeId}`), shard }));
    const active = activeRekorKey(dataDir, meta.log);
    Object.assign(parts, logParts(meta.log, active, loadKeyFile(join(dataDir, CT_KEY), 'the CT log\'s key'), frozen));
  }
  if (meta.ca) {
    const paths = caCertPaths(dataDir);
    if (!existsSync(paths.chain)) throw new Error(`${join(dataDir, CA_CHAIN)} is missing, but this data folder's meta.json records the CA: ${RESTORE_ADVICE}`);
    const history = loadCaHistory(dataDir);
    parts.ca = { baseUrl: meta.ca.baseUrl, chainDer: pemToDerList(readFileSync(paths.chain, 'utf8')), validFrom: history.currentStart, previous: history.previous };
  }
  const since = meta.log?.createdAt ?? meta.ca!.createdAt;
  return {
    trustedRoot: buildTrustedRoot(parts),
    signingConfig: buildSigningConfig({ caUrl: meta.ca?.baseUrl, rekorUrl: meta.log?.baseUrl, since }),
  };
}

