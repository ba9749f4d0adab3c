/**
 * The one error class of pai-secrets. Every failure that crosses a module boundary is a PaiError
 * with a code; the HTTP status, the status of an Envoy denial and the metric `reason` label all
 * come from the table below, keyed by code. Messages name what is wrong (which secret, which key,
 * which field) and never carry a secret value.
 */

export const ERROR_TABLE = {
  // Input that cannot be parsed at all (malformed JSON, wrong content type, bad protobuf).
  bad_request: { status: 400 },
  // Input that parses but is not valid (names, keys, schema violations).
  invalid: { status: 422 },
  unauthenticated: { status: 401 },
  forbidden: { status: 403 },
  not_found: { status: 404 },
  method_not_allowed: { status: 405 },
  already_exists: { status: 409 },
  // A compare-and-set lost a race: someone else wrote in between.
  conflict: { status: 409 },
  // The secret is referenced by resources and the operation would break them.
  referenced: { status: 409 },
  too_large: { status: 413 },
  // The Host header names a server this admin API is not (DNS rebinding protection).
  misdirected_request: { status: 421 },
  unsupported_media_type: { status: 415 },
  broken_reference: { status: 422 },
  // A sealed record failed authentication: tampered with, or moved to another name or version.
  integrity: { status: 500 },
  store_unavailable: { status: 503 },
  internal: { status: 500 },
  // Injector decisions (denials returned to the agent through Envoy).
  no_identity: { status: 403 },
  unknown_agent: { status: 403 },
  // Shared-injector mode: the request names an agent other than its client certificate's SPIFFE ID.
  identity_mismatch: { status: 403 },
  not_bound: { status: 403 },
  egress_denied: { status: 403 },
  bad_host: { status: 400 },
  secret_missing: { status: 500 },
  key_missing: { status: 500 },
  needs_ext_proc: { status: 500 },
  bad_header_value: { status: 500 },
  body_too_large: { status: 413 },
  token_endpoint_failed: { status: 503 },
  // A matched host that still gets no credential: a credential-minting endpoint, a service or region
  // outside the Provider's config, a customer-owned host (details.reason says which).
  credential_withheld: { status: 403 },
  // The Provider's policy (httpRules, actions, scope) refuses the request (details: provider, action, rule, resource).
  policy_denied: { status: 403 },
} as const satisfies Record<string, { status: number }>;

export type ErrorCode = keyof typeof ERROR_TABLE;

/** Structured, value-free details attached to an error (broken references, referrers, fields). */
export type ErrorDetails = Readonly<Record<string, unknown>>;

export class PaiError extends Error {
  override readonly name = 'PaiError';
  readonly code: ErrorCode;
  readonly details: ErrorDetails | undefined;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; details?: ErrorDetails }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options?.details;
  }

  /** The HTTP status (and Envoy denial status) for this error's code. */
  get status(): number {
    return ERROR_TABLE[this.code].status;
  }
}

/** True when `err` is a PaiError, optionally with the given code. */
export function isPaiError(err: unknown, code?: ErrorCode): err is PaiError {
  return err instanceof PaiError && (code === undefined || err.code === code);
}

/**
 * Wraps anything thrown into a PaiError. Unknown errors become `internal` with a generic message:
 * their own message may come from a dependency and is not trusted to be value-free.
 */
export function toPaiError(err: unknown): PaiError {
  if (err instanceof PaiError) return err;
  return new PaiError('internal', 'internal error', { cause: err });
}

/** The JSON error body of the admin API and of injector denials. */
export function errorBody(err: PaiError): { error: { code: ErrorCode; message: string } & ErrorDetails } {
  return { error: { code: err.code, message: err.message, ...(err.details ?? {}) } };
}
