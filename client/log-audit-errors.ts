/**
 * The three ways `log audit` ends badly, each with its exit code, so a script can tell "the log is bad" (alert
 * someone) from "you called me wrong" (fix the call) and "the log could not be read" (retry later).
 */

/** The log does not match what it signed, or rewrote its history: exit 1. */
export class AuditFailure extends Error {
  readonly exitCode = 1;
}

/** A flag or file given is wrong, or the URL is not a Sigstack log: exit 2, as every usage error. */
export class AuditInputError extends Error {
  readonly exitCode = 2;
}

/** The log could not be read (unreachable, timed out, answered an error status): exit 3. */
export class AuditUnavailable extends Error {
  readonly exitCode = 3;
}
