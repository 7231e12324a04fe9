import { VerificationError } from '../../core/errors.ts';

/**
 * Runs a verification and lets only VerificationError out: anything else (a bug, or an input no check
 * anticipated) becomes a refusal with code MALFORMED, never a stray TypeError (sigstore-js#1722).
 */
export function failClosed<T>(verification: () => T): T {
  try {
    return verification();
  } catch (e) {
    if (e instanceof VerificationError) throw e;
    throw new VerificationError('MALFORMED', `unexpected input: ${(e as Error)?.message ?? String(e)}`);
  }
}
