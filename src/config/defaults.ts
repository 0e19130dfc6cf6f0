import { homedir } from "node:os";
import { join } from "node:path";

/**
 * Every default of the program in one table: what a flag, an environment variable or a config key falls back to.
 * The modules that use one keep their own named constant (`DEFAULT_MAX_STREAMS`, …) defined from this table, so
 * their imports stay as they are.
 */
export const DEFAULTS = {
  /** The port `serve` listens on and the OAuth callback uses (--port, OAUTH_CALLBACK_PORT). */
  port: 8000,
  /** The address `serve` binds (--host): loopback only, unless the user opens it up. */
  serveHost: "127.0.0.1",
  /** An IP literal, not "localhost": no other local address can receive the browser's callback (RFC 8252 §7.3). */
  callbackHost: "127.0.0.1",
  callbackPath: "/oauth/callback",
  /** The config file read from the working directory when present (--config, MCP_U2M_PROXY_CONFIG). */
  configFile: "mcp-u2m-proxy.json",
  /** A sign-in the user does not finish in this time fails with a clear message. */
  signInTimeoutMs: 5 * 60_000,
  /** Refresh this long before the access token expires. */
  refreshSkewMs: 60_000,
  /**
   * A sign-in with a stored dynamic client that has no callback after this long asks the authorization URL itself:
   * an authorization server that forgot the client (an in-memory one restarted) answers it with a 4xx error page
   * the browser shows and never leaves, so the proxy registers again and restarts the sign-in (once).
   */
  staleClientWaitMs: 10_000,
  /** Longest wait for an authorization server's answer (discovery, registration, tokens, revocation). */
  oauthRequestTimeoutMs: 30_000,
  /** Largest buffered request body: MCP messages are small; 4 MB leaves room for large tool arguments. */
  maxBodyBytes: 4 * 1024 * 1024,
  /** Long-lived streams open at once across all clients (--max-streams). */
  maxStreams: 2000,
  /** Long-lived streams open at once within one MCP session (--max-streams-per-session). */
  maxStreamsPerSession: 4,
  /** Bridged Streamable HTTP sessions at most (--max-sessions). */
  maxSessions: 1000,
  /** A bridged session unused this long is closed (--session-idle-timeout). */
  sessionIdleMs: 10 * 60_000,
  /** A relayed request waits this long for a sign-in under way before it gets the sign-in error. */
  signInWaitMs: 45_000,
  /** Longest wait for an upstream MCP server's response headers (then 504); streamed bodies have no limit. */
  upstreamTimeoutMs: 120_000,
  /** Connections the relay keeps to an upstream origin for requests (streams have their own pool, maxStreams). */
  upstreamConnections: 128,
  /**
   * A quiet event stream the HTTP face serves gets an SSE comment after this long (--keep-alive, in seconds there;
   * 0 turns them off), so fronts that drop idle connections leave it open.
   */
  sseKeepAliveMs: 15_000,
  /**
   * A shared store's lease on a refresh or sign-in (--store-lease, in seconds there): renewed every third of it while
   * its holder lives, so it bounds only how long a killed holder keeps the others waiting, and how long the store may
   * be unreachable before the holder gives the lease up.
   */
  storeLeaseMs: 10_000,
  /** On SIGTERM/SIGINT, requests in flight get this long to finish before they are cut. */
  shutdownGraceMs: 8_000,
  /** The whole graceful stop (requests, streams, sign-ins, store) ends within this, or the process exits anyway. */
  shutdownCapMs: 10_000,
} as const;

/** The token directory when neither --auth-dir nor MCP_AUTH_DIR is given: `~/.mcp/auth`. */
export function defaultAuthDir(home: string = homedir()): string {
  return join(home, ".mcp", "auth");
}
