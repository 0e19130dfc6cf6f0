import type { ServerResponse } from "node:http";
import type { ErrorCode, ProxyError } from "../lib/errors.ts";
import { mcpServer, serverError } from "../lib/messages.ts";
import { maskKnownSecrets, maskKnownSecretsDeep, redactText } from "../lib/redact.ts";
import { urlElicitationErrorOf } from "./url-elicitation.ts";

/**
 * The one mapping from ProxyError codes to what an HTTP client of the proxy sees: an HTTP status and a JSON-RPC
 * error object. Used by the HTTP face (relay and routes); the CLI maps the same codes to exit codes.
 *
 * JSON-RPC codes live in the implementation-defined server range (JSON-RPC 2.0 §5.1), clear of the ones MCP and
 * the SDKs already use (-32000 connection closed, -32001 request timeout, -32002 resource not found, -32020..-32022
 * 2026-07-28 header/version errors, -32042 URL elicitation).
 */
export const JSON_RPC_ERROR = {
  /** The user must sign in (or finish signing in) to the upstream; `data.signInUrl` says where. */
  SIGN_IN_REQUIRED: -32050,
  /** The upstream or its authorization server refused (scope, grant, registration). */
  AUTH_FAILED: -32051,
  /** The upstream could not be reached or answered 5xx. */
  UPSTREAM_UNAVAILABLE: -32052,
  /** The upstream did not answer in time. */
  UPSTREAM_TIMEOUT: -32053,
  /** The proxy is at one of its limits (open streams, sessions); retry later. */
  PROXY_BUSY: -32054,
  /** An upstream's rate limit (config `rateLimit`) is reached; `data.retryAfterSeconds` says when to retry. */
  RATE_LIMITED: -32055,
  /** Something inside the proxy went wrong. */
  INTERNAL: -32603,
  /** The request itself is unusable (too large, unknown legacy session). */
  INVALID_REQUEST: -32600,
} as const;

export type JsonRpcId = string | number | null;

interface ErrorMapping {
  status: number;
  rpc: number;
}

const SIGN_IN: ErrorMapping = { status: 503, rpc: JSON_RPC_ERROR.SIGN_IN_REQUIRED };
const AUTH_FAILED: ErrorMapping = { status: 502, rpc: JSON_RPC_ERROR.AUTH_FAILED };

/**
 * HTTP status per code. Sign-in needed is 503 (+ Retry-After), not 401: a 401 from the proxy would make MCP
 * clients start their own OAuth discovery against the proxy, which has no authorization server to offer.
 */
const MAPPING: Record<ErrorCode, ErrorMapping> = {
  USAGE: { status: 400, rpc: JSON_RPC_ERROR.INVALID_REQUEST },
  CONFIG_INVALID: { status: 500, rpc: JSON_RPC_ERROR.INTERNAL },
  INVALID_URL: { status: 400, rpc: JSON_RPC_ERROR.INVALID_REQUEST },
  UNSAFE_URL: AUTH_FAILED,
  SIGN_IN_REQUIRED: SIGN_IN,
  SIGN_IN_TIMEOUT: SIGN_IN,
  SIGN_IN_DENIED: SIGN_IN,
  SIGN_IN_IN_PROGRESS: SIGN_IN,
  STATE_MISMATCH: SIGN_IN,
  ISSUER_MISMATCH: AUTH_FAILED,
  CALLBACK_PORT_IN_USE: { status: 500, rpc: JSON_RPC_ERROR.INTERNAL },
  DISCOVERY_FAILED: AUTH_FAILED,
  RESOURCE_MISMATCH: AUTH_FAILED,
  PKCE_UNSUPPORTED: AUTH_FAILED,
  REGISTRATION_FAILED: AUTH_FAILED,
  AS_ERROR: AUTH_FAILED,
  INVALID_GRANT: SIGN_IN,
  INSUFFICIENT_SCOPE: { status: 403, rpc: JSON_RPC_ERROR.AUTH_FAILED },
  NETWORK: { status: 502, rpc: JSON_RPC_ERROR.UPSTREAM_UNAVAILABLE },
  UPSTREAM_ERROR: { status: 502, rpc: JSON_RPC_ERROR.UPSTREAM_UNAVAILABLE },
  UPSTREAM_TIMEOUT: { status: 504, rpc: JSON_RPC_ERROR.UPSTREAM_TIMEOUT },
  UPSTREAM_SESSION_EXPIRED: { status: 404, rpc: JSON_RPC_ERROR.INVALID_REQUEST },
  PROXY_BUSY: { status: 503, rpc: JSON_RPC_ERROR.PROXY_BUSY },
  RATE_LIMITED: { status: 429, rpc: JSON_RPC_ERROR.RATE_LIMITED },
  STORE_ERROR: { status: 500, rpc: JSON_RPC_ERROR.INTERNAL },
  STORE_CONFLICT: { status: 500, rpc: JSON_RPC_ERROR.INTERNAL },
  STORE_UNSAFE: { status: 500, rpc: JSON_RPC_ERROR.INTERNAL },
  STORE_KEY_MISSING: { status: 500, rpc: JSON_RPC_ERROR.INTERNAL },
  STORE_KEY_WRONG: { status: 500, rpc: JSON_RPC_ERROR.INTERNAL },
  INTERNAL: { status: 500, rpc: JSON_RPC_ERROR.INTERNAL },
};

/** HTTP status for a proxy error on a path where the status is all a client has. */
export function httpStatusOf(error: ProxyError): number {
  return MAPPING[error.code].status;
}

/** The JSON-RPC error object: message for people (with the hint), `data` for programs. Never secrets. */
export function jsonRpcErrorOf(error: ProxyError): { code: number; message: string; data: Record<string, unknown> } {
  const signInUrl = typeof error.details?.signInUrl === "string" ? error.details.signInUrl : undefined;
  const signInPage = typeof error.details?.signInPage === "string" ? error.details.signInPage : undefined;
  let message = error.toLine();
  if (signInUrl && !message.includes(signInUrl)) message += ` Sign in at ${signInUrl}`;
  else if (!signInUrl && signInPage && !message.includes(signInPage)) message += ` Sign in at ${signInPage}`;
  const data: Record<string, unknown> = maskKnownSecretsDeep({ ...error.details, proxyError: error.code });
  if (error.hint) data.hint = maskKnownSecrets(error.hint);
  // Not redactText: the sign-in URL's `state` must reach the client. Secrets the process holds never do.
  return { code: MAPPING[error.code].rpc, message: maskKnownSecrets(message), data };
}

export interface ErrorResponseOptions {
  /**
   * The ids of the JSON-RPC requests the body carried. When present the answer is HTTP 200 with one error
   * response per id, so SDK clients settle the pending request with this error instead of a transport failure.
   */
  ids?: JsonRpcId[] | undefined;
  /** Force the HTTP status even when ids are known (legacy SSE POSTs: the client only reads the status). */
  statusOnly?: boolean;
  /** An HTTP status the error code does not imply (413); implies statusOnly. */
  status?: number;
  /** Extra response headers (flat). */
  headers?: string[];
  /**
   * The client declared URL-mode elicitation (2025-11-25): a sign-in with a URL is answered as the spec's
   * URLElicitationRequiredError (-32042) instead of -32050, so the host shows the user a button.
   */
  urlElicitation?: boolean;
}

/** Which proxy error answered a response (for metrics and the access log: a 200 may carry a JSON-RPC error). */
const answeredErrors = new WeakMap<ServerResponse, ErrorCode>();

/** Records that `code` answered (or cut) `res`. writeErrorResponse does it; a stream cut by the relay calls it. */
export function noteAnsweredError(res: ServerResponse, code: ErrorCode): void {
  answeredErrors.set(res, code);
}

/** The proxy error that answered `res`, if one did. */
export function answeredErrorOf(res: ServerResponse): ErrorCode | undefined {
  return answeredErrors.get(res);
}

/** Writes `error` as a JSON answer. When headers are already out, the best left to do is to cut the stream. */
export function writeErrorResponse(res: ServerResponse, error: ProxyError, options: ErrorResponseOptions = {}): void {
  noteAnsweredError(res, error.code);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  let rpcError = jsonRpcErrorOf(error);
  const signInUrl = rpcError.data.signInUrl;
  if (options.urlElicitation && rpcError.code === JSON_RPC_ERROR.SIGN_IN_REQUIRED && typeof signInUrl === "string") {
    const upstream = typeof rpcError.data.upstream === "string" ? rpcError.data.upstream : undefined;
    rpcError = urlElicitationErrorOf(rpcError, signInUrl, upstream);
  }
  const ids = options.statusOnly || options.status !== undefined ? undefined : options.ids;
  let status: number;
  let payload: unknown;
  if (ids && ids.length > 0) {
    status = 200;
    const responses = ids.map((id) => ({ jsonrpc: "2.0", id, error: rpcError }));
    payload = responses.length === 1 ? responses[0] : responses;
  } else {
    status = options.status ?? httpStatusOf(error);
    payload = { jsonrpc: "2.0", id: null, error: rpcError };
  }
  const body = JSON.stringify(payload);
  const headers = [
    "content-type",
    "application/json",
    "content-length",
    String(Buffer.byteLength(body)),
    "cache-control",
    "no-store",
    ...(options.headers ?? []),
  ];
  if (status === 503) headers.push("retry-after", "5");
  res.writeHead(status, headers);
  res.end(body);
}

/**
 * The ids of the JSON-RPC requests in a buffered body (a single message or a 2025-03-26 batch). Requests only:
 * notifications and responses have no answer to settle. Parsed only on error paths, never on the hot path.
 */
export function requestIdsOf(body: Buffer | undefined): JsonRpcId[] | undefined {
  if (!body || body.length === 0 || body.length > 4 * 1024 * 1024) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch {
    return undefined;
  }
  const messages = Array.isArray(parsed) ? parsed : [parsed];
  const ids: JsonRpcId[] = [];
  for (const message of messages) {
    if (!message || typeof message !== "object") continue;
    const { id, method } = message as { id?: unknown; method?: unknown };
    if (typeof method !== "string") continue;
    if (typeof id === "string" || typeof id === "number") ids.push(id);
  }
  return ids.length > 0 ? ids : undefined;
}

/** A ProxyError for an upstream that answered `status` (5xx) with `snippet` as the start of its body. */
export function upstreamStatusError(upstream: string, status: number, snippet: string): ProxyError {
  return serverError(mcpServer(upstream), status, describeUpstreamBody(snippet));
}

/**
 * The error message of a JSON(-RPC) error body, else the first line of text, kept short. Redacted before and after
 * parsing (JSON escapes can spell a secret the raw text does not show); `snippet` may end inside a secret.
 */
export function describeUpstreamBody(snippet: string): string {
  const text = redactText(maskKnownSecrets(snippet.trim(), { truncated: true }));
  return redactText(messageOrFirstLine(text)).slice(0, 300);
}

function messageOrFirstLine(text: string): string {
  if (!text) return "";
  try {
    const parsed = JSON.parse(text) as { error?: { message?: unknown } | string; message?: unknown };
    const message =
      typeof parsed.error === "object" && typeof parsed.error?.message === "string"
        ? parsed.error.message
        : typeof parsed.error === "string"
          ? parsed.error
          : typeof parsed.message === "string"
            ? parsed.message
            : undefined;
    if (message) return message;
  } catch {
    // not JSON: fall through to text
  }
  return text.split(/\r?\n/, 1)[0] ?? "";
}
