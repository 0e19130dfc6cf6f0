import { maskKnownSecrets } from "./known-secrets.ts";
import { renderSuggestions } from "./suggestions.ts";

/**
 * One error type for the whole proxy, with a stable `code` that callers branch on (never the message).
 * `message` says what went wrong; `hint` says what to do next. The CLI maps codes to exit codes
 * (src/cli/exit-codes.ts) and the HTTP face maps them to HTTP status and JSON-RPC errors.
 */
export type ErrorCode =
  // The user gave us something we cannot use.
  | "USAGE"
  /** The config file is missing, not JSON, or an entry is wrong (the message names the file, server and key). */
  | "CONFIG_INVALID"
  | "INVALID_URL"
  | "UNSAFE_URL"
  // Sign-in.
  | "SIGN_IN_REQUIRED"
  | "SIGN_IN_TIMEOUT"
  | "SIGN_IN_DENIED"
  | "SIGN_IN_IN_PROGRESS"
  | "STATE_MISMATCH"
  | "ISSUER_MISMATCH"
  | "CALLBACK_PORT_IN_USE"
  // The authorization server or its metadata.
  | "DISCOVERY_FAILED"
  | "RESOURCE_MISMATCH"
  | "PKCE_UNSUPPORTED"
  | "REGISTRATION_FAILED"
  | "AS_ERROR"
  | "INVALID_GRANT"
  | "INSUFFICIENT_SCOPE"
  // Transport.
  | "NETWORK"
  | "UPSTREAM_ERROR"
  | "UPSTREAM_TIMEOUT"
  | "UPSTREAM_SESSION_EXPIRED"
  // The proxy is at a configured limit (streams, sessions): try again later.
  | "PROXY_BUSY"
  /** An upstream's configured rate limit is reached (HTTP 429 with Retry-After): try again after it. */
  | "RATE_LIMITED"
  // Local state.
  | "STORE_ERROR"
  /** A compare-and-set write found the record changed since it was read (another process wrote it): read it again. */
  | "STORE_CONFLICT"
  /** A token-store path that is a symbolic link or owned by another user: refused, never followed or tightened. */
  | "STORE_UNSAFE"
  /** An encrypted record and no store key given (MCP_PROXY_STORE_KEY, --store-key-file): nothing read or changed. */
  | "STORE_KEY_MISSING"
  /** An encrypted record sealed with another store key than the one given (the message names both key ids). */
  | "STORE_KEY_WRONG"
  | "INTERNAL";

export class ProxyError extends Error {
  override readonly name = "ProxyError";
  readonly code: ErrorCode;
  /** What the user should do next, one sentence. */
  readonly hint: string | undefined;
  /** Extra machine-readable detail, e.g. the sign-in URL. Never secrets. */
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { hint?: string; cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    // Messages often quote what an upstream or authorization server said: never a secret this process holds.
    super(maskKnownSecrets(message), { cause: options.cause });
    this.code = code;
    // Suggested commands in the hint are written for the running invocation (suggestions.ts; set by the CLI).
    this.hint = options.hint === undefined ? undefined : maskKnownSecrets(renderSuggestions(options.hint));
    this.details = options.details;
  }

  /** "message. hint" on one line, for people. */
  toLine(): string {
    return this.hint ? `${this.message} ${this.hint}` : this.message;
  }
}

export function isProxyError(value: unknown, code?: ErrorCode): value is ProxyError {
  return value instanceof ProxyError && (code === undefined || value.code === code);
}

/** The message of any thrown value, for logs (callers redact before logging anything that came off the wire). */
export function describeError(error: unknown): string {
  if (error instanceof ProxyError) return error.toLine();
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? ` (${error.cause.message})` : "";
    return `${error.message}${cause}`;
  }
  return String(error);
}
