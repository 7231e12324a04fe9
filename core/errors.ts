/**
 * Typed errors shared by every layer. Domain code (ca/, log/, client/) throws these; only
 * services/errors.ts turns them into HTTP responses, and the CLI turns them into exit codes.
 * Each carries an HTTP status and a stable machine-readable `code`, as sigstore-js does.
 */
export class SigstackError extends Error {
  /** HTTP status this error maps to when it crosses an HTTP boundary. */
  readonly status: number;
  /** Stable identifier for tests and callers, e.g. `INVALID_SIGNATURE`. */
  readonly code: string;
  /** Extra response headers (e.g. `Location` for a duplicate log entry). */
  readonly headers: Record<string, string>;

  constructor(status: number, code: string, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.name = new.target.name;
    this.status = status;
    this.code = code;
    this.headers = headers;
  }
}

/** 400: the request is malformed or fails validation. Nothing was issued or logged. */
export class BadRequestError extends SigstackError {
  constructor(message: string, code = 'BAD_REQUEST') {
    super(400, code, message);
  }
}

/** 401: the credential (OIDC token) could not be authenticated. */
export class UnauthenticatedError extends SigstackError {
  constructor(message: string, code = 'UNAUTHENTICATED') {
    super(401, code, message);
  }
}

/** 403: authenticated, but policy forbids it. */
export class ForbiddenError extends SigstackError {
  constructor(message: string, code = 'FORBIDDEN') {
    super(403, code, message);
  }
}

/** 404: the entry, proof or resource does not exist. */
export class NotFoundError extends SigstackError {
  constructor(message: string, code = 'NOT_FOUND') {
    super(404, code, message);
  }
}

/** 409: the entry already exists; `location` points at it. */
export class ConflictError extends SigstackError {
  constructor(message: string, location?: string, code = 'CONFLICT') {
    super(409, code, message, location ? { Location: location } : {});
  }
}

/** 413: the request body is over the configured limit. */
export class PayloadTooLargeError extends SigstackError {
  constructor(message: string) {
    super(413, 'PAYLOAD_TOO_LARGE', message);
  }
}

/** 422: well-formed but unprocessable (Rekor uses it for search limits). */
export class UnprocessableError extends SigstackError {
  constructor(message: string, code = 'UNPROCESSABLE') {
    super(422, code, message);
  }
}

/** 503: a dependency (JWKS endpoint, CT log) could not be reached. */
export class UnavailableError extends SigstackError {
  constructor(message: string, code = 'UNAVAILABLE') {
    super(503, code, message);
  }
}

/**
 * Verification failed. Used by the offline verifier; `code` names the check that failed
 * (CHAIN, SCT, TLOG_INCLUSION, CHECKPOINT, SET, SIGNATURE, IDENTITY, ISSUER, BUNDLE, TIME).
 */
export class VerificationError extends SigstackError {
  constructor(code: string, message: string) {
    super(400, code, message);
  }
}
