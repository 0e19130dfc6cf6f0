import { isProxyError, ProxyError } from "../lib/errors.ts";
import { mcpServer, refused, serverError, unreachable } from "../lib/messages.ts";
import { isNetworkFailure } from "../lib/network-failure.ts";
import { maskKnownSecretsDeep, redactText } from "../lib/redact.ts";
import { describeUpstreamBody, jsonRpcErrorOf } from "./relay-errors.ts";
import { isHttpStatusError } from "./upstream-http-error.ts";
import { urlElicitationErrorOf } from "./url-elicitation.ts";

/** MCP 2025-11-25 `URLElicitationRequiredError`: the client should offer the user a URL to open. */
export const JSONRPC_URL_ELICITATION_REQUIRED = -32042;

export interface JsonRpcErrorObject {
  code: number;
  message: string;
  data?: unknown;
}

/** The status and body of an upstream HTTP answer that made a send fail, from either SDK client transport. */
export function httpFailureOf(error: unknown): { status: number; text: string } | undefined {
  if (isHttpStatusError(error)) {
    return { status: error.status, text: typeof error.data.text === "string" ? error.data.text : "" };
  }
  // The legacy SSE client transport reports a refused POST as a plain Error that quotes status and body.
  if (error instanceof Error && !isProxyError(error)) {
    const match = /^Error POSTing to endpoint \(HTTP (\d{3})\): ([\s\S]*)$/.exec(error.message);
    if (match) return { status: Number(match[1]), text: match[2] === "null" ? "" : (match[2] ?? "") };
  }
  return undefined;
}

/**
 * The upstream's own JSON-RPC error when a request was refused with a 4xx whose body is a JSON-RPC error response
 * (e.g. 400 with -32022 and `data.supported`, or a 2025 server's "Server not initialized"): the client gets exactly
 * that (code, message, data), as it would talking to the server directly and as `/mcp` relays it. Undefined for
 * anything else, which the proxy reports in its own words. 5xx answers are reported as server errors on every face.
 * Secrets this process holds are masked (the server may echo a header back).
 */
export function upstreamJsonRpcError(error: unknown): JsonRpcErrorObject | undefined {
  const http = httpFailureOf(error);
  if (!http || http.status < 400 || http.status >= 500) return undefined;
  const rpcError = jsonRpcErrorBody(http.text);
  return rpcError ? maskKnownSecretsDeep(rpcError) : undefined;
}

/** The `error` member of a body that is one JSON-RPC 2.0 error response (JSON-RPC 2.0 §5, §5.1). */
export function jsonRpcErrorBody(text: string): JsonRpcErrorObject | undefined {
  if (!text || text.length > 1024 * 1024) return undefined;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!body || typeof body !== "object" || Array.isArray(body)) return undefined;
  const { jsonrpc, error } = body as { jsonrpc?: unknown; error?: unknown };
  if (jsonrpc !== "2.0" || !error || typeof error !== "object") return undefined;
  const { code, message, data } = error as { code?: unknown; message?: unknown; data?: unknown };
  if (typeof code !== "number" || !Number.isInteger(code) || typeof message !== "string") return undefined;
  return data === undefined ? { code, message } : { code, message, data };
}

/**
 * Turns why a message could not reach the upstream into the catalogue's ProxyError naming the MCP server and what
 * to do. ProxyErrors from the auth core pass through (they already name the right party).
 */
export function toProxyError(error: unknown, upstream: string): ProxyError {
  if (isProxyError(error)) return error;
  const party = mcpServer(upstream);
  const http = httpFailureOf(error);
  if (http) {
    const detail = describeUpstreamBody(http.text);
    return http.status >= 500 ? serverError(party, http.status, detail) : refused(party, http.status, detail);
  }
  if (isNetworkFailure(error)) return unreachable(party, error);
  const message = error instanceof Error ? error.message : String(error);
  return new ProxyError("UPSTREAM_ERROR", `Sending to the MCP server ${upstream} failed: ${redactText(message)}`, {
    hint: "Try again; if it keeps happening, check the server.",
    cause: error,
    details: { upstream },
  });
}

/**
 * The JSON-RPC error a client gets for a request the proxy could not deliver or answer: the HTTP face's mapping
 * (relay-errors.ts), so both faces answer alike. When the client declared URL-mode elicitation (MCP 2025-11-25
 * `capabilities.elicitation.url`), a needed sign-in is reported as `URLElicitationRequiredError` carrying the sign-in
 * URL, so the client can offer the link itself.
 */
export function toJsonRpcError(
  error: unknown,
  upstream: string,
  options: { urlElicitation?: boolean } = {},
): JsonRpcErrorObject {
  const rpcError = jsonRpcErrorOf(toProxyError(error, upstream));
  const signInUrl = rpcError.data.signInUrl;
  // The HTTP face's shape (url-elicitation.ts): the same error on /mcp, on a bridged /sse session and on stdio.
  if (options.urlElicitation && typeof signInUrl === "string")
    return urlElicitationErrorOf(rpcError, signInUrl, upstream);
  return rpcError;
}
