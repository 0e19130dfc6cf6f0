import { SdkHttpError } from "@modelcontextprotocol/client";
import { isProxyError, ProxyError } from "../lib/errors.ts";
import { redactText } from "../lib/redact.ts";
import { jsonRpcErrorOf } from "./relay-errors.ts";

/** MCP 2025-11-25 `URLElicitationRequiredError`: the client should offer the user a URL to open. */
export const JSONRPC_URL_ELICITATION_REQUIRED = -32042;

export interface JsonRpcErrorObject {
  code: number;
  message: string;
  data?: Record<string, unknown>;
}

/**
 * Turns why a message could not reach the upstream into a ProxyError that names the upstream and what to do.
 * ProxyErrors from the auth core pass through; SDK, network and timeout errors get a code and a hint.
 */
export function toProxyError(error: unknown, upstream: string): ProxyError {
  if (isProxyError(error)) return error;
  if (error instanceof SdkHttpError) {
    // Redacted before it is cut: a cut through a secret would leave a start no redaction recognises.
    const text = typeof error.data.text === "string" ? redactText(error.data.text.trim()).slice(0, 300) : "";
    return new ProxyError(
      "UPSTREAM_ERROR",
      `The upstream ${upstream} answered HTTP ${error.status}${text ? `: ${text}` : ""}.`,
      { hint: error.status >= 500 ? "The server has a problem; try again later." : undefined, cause: error },
    );
  }
  if (error instanceof Error && (error.name === "AbortError" || error.name === "TimeoutError")) {
    return new ProxyError("UPSTREAM_TIMEOUT", `The upstream ${upstream} did not answer in time.`, {
      hint: "Try again later.",
      cause: error,
    });
  }
  if (error instanceof TypeError && error.message === "fetch failed") {
    const cause = error.cause as { code?: unknown; message?: unknown } | undefined;
    const why = typeof cause?.code === "string" ? cause.code : typeof cause?.message === "string" ? cause.message : "";
    return new ProxyError("NETWORK", `The upstream ${upstream} is unreachable${why ? ` (${why})` : ""}.`, {
      hint: "Check that the server is running and that the URL is right.",
      cause: error,
    });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new ProxyError("UPSTREAM_ERROR", `Sending to the upstream ${upstream} failed: ${redactText(message)}`, {
    cause: error,
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
  if (options.urlElicitation && typeof signInUrl === "string") {
    rpcError.data.elicitations = [
      { mode: "url", elicitationId: `sign-in:${upstream}`, url: signInUrl, message: `Sign in to ${upstream}` },
    ];
    return { ...rpcError, code: JSONRPC_URL_ELICITATION_REQUIRED };
  }
  return rpcError;
}
