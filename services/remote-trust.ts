import type { Logger } from 'pino';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import type { TrustParts } from './trust.ts';

/**
 * Split deployments: the log service learns which CA roots its CT log accepts from the CA's trust bundle, and
 * the CA service learns the log's keys from the log's trusted root. Both are operator-configured URLs; the
 * service retries for a minute at start so containers may come up in any order.
 */
export async function fetchRemoteTrust(url: string, logger: Logger, deadlineMs = 60_000): Promise<{ caRoots: Buffer[]; logParts: Pick<TrustParts, 'tlog' | 'ctlog'> }> {
  const until = Date.now() + deadlineMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fetchOnce(url);
    } catch (err) {
      if (Date.now() > until) throw new Error(`could not read trust material from ${url}: ${(err as Error).message}`);
      logger.warn({ url, attempt, err: (err as Error).message }, 'peer not ready, retrying');
      await new Promise((r) => setTimeout(r, Math.min(5000, 250 * attempt)));
    }
  }
}

async function fetchOnce(url: string): Promise<{ caRoots: Buffer[]; logParts: Pick<TrustParts, 'tlog' | 'ctlog'> }> {
  const res = await fetch(`${url}/sigstack/v1/trusted_root.json`, { signal: AbortSignal.timeout(5000), redirect: 'error' });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  const root = TrustedRoot.fromJSON(await res.json());
  const caRoots = root.certificateAuthorities
    .map((ca) => ca.certChain?.certificates.at(-1)?.rawBytes)
    .filter((b): b is Buffer => b !== undefined)
    .map((b) => Buffer.from(b));
  const logPart = (l: (typeof root.tlogs)[number] | undefined): NonNullable<TrustParts['tlog']> | undefined =>
    l?.publicKey?.rawBytes && l.logId
      ? { baseUrl: l.baseUrl, publicKeyDer: Buffer.from(l.publicKey.rawBytes), keyId: Buffer.from(l.logId.keyId), createdAt: l.publicKey.validFor?.start?.toISOString() ?? new Date(0).toISOString() }
      : undefined;
  // The log lists its active Rekor key first and the keys of trees frozen by `log rotate` after it, each with
  // its window: carry them all, or the CA's trusted root would drop the keys older bundles were logged under.
  const tlog = logPart(root.tlogs[0]);
  if (tlog) {
    tlog.validFrom = tlog.createdAt;
    tlog.previous = root.tlogs.slice(1).flatMap((l) => {
      const part = logPart(l);
      const end = l.publicKey?.validFor?.end?.toISOString();
      return part && end ? [{ publicKeyDer: part.publicKeyDer, keyId: part.keyId, start: part.createdAt, end }] : [];
    });
  }
  return { caRoots, logParts: { tlog, ctlog: logPart(root.ctlogs[0]) } };
}

/**
 * `serve log`: the CA roots its CT log accepts, from the CA's Fulcio trust bundle (`/api/v2/trustBundle`). Not
 * from the CA's trusted_root.json: in a split deployment that document needs the log's keys, so the log asking
 * for it at start would wait on itself. Retries like fetchRemoteTrust.
 */
export async function fetchCaRoots(url: string, logger: Logger, deadlineMs = 60_000): Promise<Buffer[]> {
  const until = Date.now() + deadlineMs;
  for (let attempt = 1; ; attempt++) {
    try {
      const res = await fetch(`${url}/api/v2/trustBundle`, { signal: AbortSignal.timeout(5000), redirect: 'error' });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const body = (await res.json()) as { chains?: { certificates?: unknown[] }[] };
      const roots = (body.chains ?? [])
        .map((c) => c.certificates?.at(-1))
        .filter((pem): pem is string => typeof pem === 'string' && pem.includes('-----BEGIN CERTIFICATE-----'))
        .map((pem) => Buffer.from(pem.replace(/-----(BEGIN|END) CERTIFICATE-----|\s+/g, ''), 'base64'));
      if (roots.length === 0) throw new Error('the trust bundle holds no certificate chain');
      return roots;
    } catch (err) {
      if (Date.now() > until) throw new Error(`could not read the CA roots from ${url}: ${(err as Error).message}`);
      logger.warn({ url, attempt, err: (err as Error).message }, 'CA not ready, retrying');
      await new Promise((r) => setTimeout(r, Math.min(5000, 250 * attempt)));
    }
  }
}
