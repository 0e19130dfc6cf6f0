import { ProxyError } from "./errors.ts";
import { isTimeoutFailure, networkCause } from "./network-failure.ts";

/**
 * The user-facing messages for a server that did not answer, or answered with a failure, built in one place so that
 * the same outage reads the same in the CLI, on `/mcp`, on `/sse` and on stdio, and always names the right party:
 * the MCP server (the URL the user gave) or the authorization server it sends people to for sign-in.
 */
export type Party =
  | { kind: "mcp-server"; url: string }
  | {
      kind: "authorization-server";
      /** Where the failed request went (its origin names the server). */
      url: string;
      /** The MCP server this authorization server signs people in to. */
      serverUrl: string;
    };

/** The MCP server at `url`, named by its normalised URL so that every face spells it alike. */
export function mcpServer(url: string | URL): Party {
  return { kind: "mcp-server", url: normalised(url) };
}

export function authorizationServer(url: string | URL, serverUrl: string | URL): Party {
  return { kind: "authorization-server", url: String(url), serverUrl: String(serverUrl) };
}

/** "The MCP server <url>" / "The authorization server <origin>". */
export function partyName(party: Party): string {
  if (party.kind === "mcp-server") return `The MCP server ${party.url}`;
  return `The authorization server ${originOf(party.url)}`;
}

function detailsOf(party: Party): Record<string, unknown> {
  if (party.kind === "mcp-server") return { upstream: party.url };
  return { upstream: party.serverUrl, authorizationServer: originOf(party.url) };
}

function checkHint(party: Party): string {
  if (party.kind === "mcp-server") return "Check that the server is running and that the URL is right, then try again.";
  return `It is where you sign in to ${party.serverUrl}: check that it is up and that your network (and HTTPS_PROXY) lets you reach it, then try again.`;
}

/** Nothing answered: refused, reset, DNS, TLS (NETWORK), or no answer in time (UPSTREAM_TIMEOUT). */
export function unreachable(party: Party, error: unknown): ProxyError {
  if (isTimeoutFailure(error)) return timedOut(party, error);
  return new ProxyError("NETWORK", `${partyName(party)} could not be reached: ${networkCause(error)}.`, {
    hint: checkHint(party),
    cause: error,
    details: detailsOf(party),
  });
}

/** A sign-in request got no answer and which server it was for is unknown: both are named, neither is blamed. */
export function signInServersUnreachable(serverUrl: string, error: unknown): ProxyError {
  if (isTimeoutFailure(error)) return timedOut(mcpServer(serverUrl), error);
  return new ProxyError(
    "NETWORK",
    `The MCP server ${serverUrl} or its authorization server could not be reached: ${networkCause(error)}.`,
    {
      hint: "Check that both are up and that your network (and HTTPS_PROXY) lets you reach them, then try again.",
      cause: error,
      details: { upstream: serverUrl },
    },
  );
}

/** The connection broke while the response was streaming. */
export function brokeOff(party: Party, error: unknown): ProxyError {
  return new ProxyError("NETWORK", `${partyName(party)} broke off the response: ${networkCause(error)}.`, {
    hint: "Try again; if it keeps happening, check the server.",
    cause: error,
    details: detailsOf(party),
  });
}

/**
 * A large answer that was passed on to the client as it arrived did not end as one JSON-RPC response to the request
 * (`detail` says how); the client already has its bytes, so this error is the request's real answer.
 */
export function malformedAnswer(party: Party, method: string, detail: string): ProxyError {
  return new ProxyError("UPSTREAM_ERROR", `${partyName(party)} sent an answer to ${method} that ${detail}.`, {
    hint: "Ignore the broken line before this answer; try again, and if it keeps happening, check the server.",
    details: detailsOf(party),
  });
}

export function timedOut(party: Party, cause?: unknown): ProxyError {
  return new ProxyError("UPSTREAM_TIMEOUT", `${partyName(party)} did not answer in time.`, {
    hint: "Try again later; if it keeps happening, check the server.",
    cause,
    details: detailsOf(party),
  });
}

/** A 5xx answer. `detail` is what the body said, already redacted and cut. */
export function serverError(party: Party, status: number, detail: string): ProxyError {
  return new ProxyError(
    "UPSTREAM_ERROR",
    sentence(`${partyName(party)} answered HTTP ${status}${detail ? `: ${detail}` : ""}`),
    {
      hint: "The server has a problem (the proxy is fine); try again later.",
      details: { ...detailsOf(party), upstreamStatus: status },
    },
  );
}

/** A 4xx answer that is not the server's own JSON-RPC error (those pass through to the client unchanged). */
export function refused(party: Party, status: number, detail: string): ProxyError {
  return new ProxyError(
    "UPSTREAM_ERROR",
    sentence(`${partyName(party)} refused the request with HTTP ${status}${detail ? `: ${detail}` : ""}`),
    {
      hint:
        status === 404 || status === 405
          ? "Check the URL: it must be the server's MCP endpoint."
          : "Check the URL and that your account may use this server.",
      details: { ...detailsOf(party), upstreamStatus: status },
    },
  );
}

/**
 * Neither wire worked: the Streamable HTTP POST was refused and a GET opened no legacy SSE stream. Both answers are
 * quoted, nothing more is claimed.
 */
export function noMcpTransport(party: Party, postAnswer: string, getAnswer: string): ProxyError {
  return new ProxyError(
    "UPSTREAM_ERROR",
    `${partyName(party)} refused the request over Streamable HTTP (${postAnswer}) and a GET opened no legacy SSE stream (${getAnswer}).`,
    { hint: "Check the URL: it must be the server's MCP endpoint.", details: detailsOf(party) },
  );
}

/** The server ended a request's response without answering it. */
export function endedWithoutAnswer(party: Party, method: string): ProxyError {
  return new ProxyError("UPSTREAM_ERROR", `${partyName(party)} ended the response to ${method} without an answer.`, {
    hint: "Try again; if it keeps happening, check the server.",
    details: detailsOf(party),
  });
}

/** The proxy's own connection to the server is already closed (the client is going away, or the proxy is). */
export function connectionClosed(party: Party): ProxyError {
  return new ProxyError("NETWORK", `The connection to ${lowerFirst(partyName(party))} is closed.`, {
    hint: "Reconnect the MCP client.",
    details: detailsOf(party),
  });
}

/** Ends quoted text with one full stop. */
function sentence(text: string): string {
  return /[.!?]$/.test(text) ? text : `${text}.`;
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}

function normalised(url: string | URL): string {
  try {
    return new URL(String(url)).href;
  } catch {
    return String(url);
  }
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}
