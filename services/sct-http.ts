import type { SctSource } from '../ca/sct-source.ts';
import { UnavailableError } from '../core/errors.ts';
import { sctFromJson, type SctJson, type SignedCertificateTimestamp } from '../core/sct.ts';

/** The CA's SctSource when the CT log runs in another process: RFC 6962 add-pre-chain over HTTP. */
export function httpSctSource(logUrl: string, timeoutMs = 10_000): SctSource {
  return {
    async addPreChain(chainDer: Buffer[]): Promise<SignedCertificateTimestamp> {
      let res: Response;
      try {
        res = await fetch(`${logUrl}/ct/v1/add-pre-chain`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ chain: chainDer.map((d) => d.toString('base64')) }),
          signal: AbortSignal.timeout(timeoutMs),
          redirect: 'error',
        });
      } catch (err) {
        throw new UnavailableError(`CT log at ${logUrl} unreachable: ${(err as Error).message}`);
      }
      const text = await res.text();
      if (!res.ok) throw new UnavailableError(`CT log refused the precertificate (${res.status}): ${text.slice(0, 200)}`);
      try {
        return sctFromJson(JSON.parse(text) as SctJson);
      } catch (err) {
        throw new UnavailableError(`CT log returned a malformed SCT: ${(err as Error).message}`);
      }
    },
  };
}
