import { createHash } from "node:crypto";

/**
 * URL-mode elicitation (MCP 2025-11-25, client/elicitation §URL Mode): a client that declared
 * `capabilities.elicitation.url` gets a sign-in the proxy needs as the spec's `URLElicitationRequiredError`, so the
 * host shows the user a button for the URL instead of an error text. Other clients keep the proxy's -32050 error.
 */

/** The spec's error code for "this request needs the user to visit a URL first". */
export const URL_ELICITATION_REQUIRED = -32042;

/** The first protocol revision with URL-mode elicitation. Revisions are dates, so they compare as strings. */
const FIRST_URL_ELICITATION_REVISION = "2025-11-25";

/** Sessions remembered at most; the oldest are forgotten first (they fall back to the -32050 error). */
const MAX_SESSIONS = 10_000;

/**
 * Whether `body` is an initialize request from a client that can take URL-mode elicitation: protocol revision
 * 2025-11-25 or later and `capabilities.elicitation.url` present. Parsed only on the initialize and error paths.
 */
export function declaresUrlElicitation(body: Buffer | undefined): boolean {
  if (!body || body.length === 0 || body.length > 1024 * 1024) return false;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch {
    return false;
  }
  return initializeDeclaresUrlElicitation(Array.isArray(parsed) ? parsed[0] : parsed);
}

/** {@link declaresUrlElicitation} for a parsed message (the message bridge sees them parsed). */
export function initializeDeclaresUrlElicitation(message: unknown): boolean {
  if (!message || typeof message !== "object") return false;
  const { method, params } = message as { method?: unknown; params?: unknown };
  if (method !== "initialize" || !params || typeof params !== "object") return false;
  const { protocolVersion, capabilities } = params as { protocolVersion?: unknown; capabilities?: unknown };
  if (typeof protocolVersion !== "string" || protocolVersion < FIRST_URL_ELICITATION_REVISION) return false;
  const elicitation = (capabilities as { elicitation?: unknown } | undefined)?.elicitation;
  if (!elicitation || typeof elicitation !== "object") return false;
  const url = (elicitation as { url?: unknown }).url;
  return url !== undefined && url !== null && typeof url === "object";
}

/**
 * The `Mcp-Session-Id`s whose initialize declared URL-mode elicitation, so later requests in the session (a token
 * revoked mid-session) get the elicitation too. Bounded: insertion order doubles as age.
 */
export class UrlElicitationSessions {
  private readonly sessions = new Set<string>();

  add(sessionId: string): void {
    this.sessions.delete(sessionId);
    this.sessions.add(sessionId);
    if (this.sessions.size > MAX_SESSIONS) {
      const oldest = this.sessions.values().next().value;
      if (oldest !== undefined) this.sessions.delete(oldest);
    }
  }

  has(sessionId: string | undefined): boolean {
    return sessionId !== undefined && this.sessions.has(sessionId);
  }
}

/**
 * The `URLElicitationRequiredError` for a sign-in at `url`. The elicitation id is derived from the URL (which
 * carries the sign-in's `state`): stable while that sign-in is pending, opaque, and new for the next sign-in.
 * `data` keeps the proxy's own fields (signInUrl, proxyError, hint) beside `elicitations`.
 */
export function urlElicitationErrorOf(
  rpcError: { message: string; data: Record<string, unknown> },
  url: string,
  upstream: string | undefined,
): { code: number; message: string; data: Record<string, unknown> } {
  const elicitationId = createHash("sha256").update(url).digest("base64url").slice(0, 22);
  const message = `Sign in to ${upstream ?? "the upstream MCP server"} to continue.`;
  return {
    code: URL_ELICITATION_REQUIRED,
    message: rpcError.message,
    data: { ...rpcError.data, elicitations: [{ mode: "url", elicitationId, url, message }] },
  };
}
