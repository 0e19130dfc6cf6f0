import type { Logger } from "./logger.ts";

/**
 * The access log of the HTTP face: one line per relayed request and one per auth event, through the one logger
 * (which redacts). With `--log-format json` they are info lines a log collector reads field by field; with the
 * default text format they are debug lines (`--debug`), so a terminal stays as quiet as before.
 * Nothing here is a secret: no headers, no query strings, no tokens; the upstream is the operator's server name.
 */
export type LogFormat = "text" | "json";

export interface RelayedRequestEntry {
  /** The client's `X-Request-Id` when it is a plain token, else one made up for this request. */
  requestId: string;
  upstream: string;
  /** The MCP method when the request said (`Mcp-Method`), as the metrics label it ("other" for unknown names). */
  mcpMethod?: string | undefined;
  /** HTTP method and route ("mcp", "sse", "message", "relay"); never the path's query. */
  httpMethod: string;
  route: string;
  /** The HTTP status sent; 0 when the client went away before any. */
  status: number;
  durationMs: number;
  /** The request body's declared length (Content-Length), when it had one. */
  bytesIn?: number | undefined;
  /** Bytes sent on the connection for this response, head included. */
  bytesOut: number;
  /** Why it failed: the proxy's error code, the upstream's HTTP status, or "cancelled". */
  errorType?: string | undefined;
  /** A long-lived stream (its duration is how long it stayed open). */
  stream?: boolean | undefined;
}

export type AuthEventName = "sign-in-started" | "sign-in-completed" | "sign-in-failed" | "signed-out" | "token-refresh";

export interface AuthEventEntry {
  upstream: string;
  event: AuthEventName;
  /** token-refresh: success, reused, no_refresh_token, invalid_grant, invalid_client, error. */
  outcome?: string | undefined;
}

export interface AccessLog {
  /** Whether request lines are written at all (callers skip building them otherwise). */
  readonly enabled: boolean;
  request(entry: RelayedRequestEntry): void;
  authEvent(entry: AuthEventEntry): void;
}

export function createAccessLog(logger: Logger, format: LogFormat): AccessLog {
  if (format === "json") {
    return {
      enabled: true,
      request: (entry) => logger.info("request", { ...entry }),
      authEvent: (entry) => logger.info("auth", { ...entry }),
    };
  }
  return {
    enabled: logger.level === "debug",
    request: (entry) => {
      const method = entry.mcpMethod ? ` ${entry.mcpMethod}` : "";
      const error = entry.errorType ? ` (${entry.errorType})` : "";
      logger.debug(
        `${entry.upstream}: ${entry.httpMethod} ${entry.route}${method} → ${entry.status}${error} in ${entry.durationMs} ms, ${entry.bytesIn ?? 0}/${entry.bytesOut} bytes [${entry.requestId}]`,
      );
    },
    authEvent: (entry) => {
      logger.debug(`${entry.upstream}: ${entry.event}${entry.outcome ? ` (${entry.outcome})` : ""}`);
    },
  };
}

/** Drops everything (library use without a log). */
export const noAccessLog: AccessLog = { enabled: false, request: () => {}, authEvent: () => {} };
