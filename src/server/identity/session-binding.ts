import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import { writeJsonError } from "../json-response.ts";
import { currentCaller } from "./caller.ts";

/** Sessions remembered at most (the oldest is forgotten first; its owner then has to start a new one). */
const MAX_SESSIONS = 100_000;

/**
 * Binds MCP sessions to the person who created them, when several people share the face: a Streamable HTTP
 * `Mcp-Session-Id` (the upstream's, passed through, or the proxy's own when it bridges) is bound when a response
 * hands it out, a legacy SSE session when its stream opens. A request naming a session bound to someone else is
 * refused (403), one naming a session nobody here created gets 404 (the client starts a new session, as after an
 * upstream restart). Without a current caller (single-user mode) everything passes.
 */
export class SessionBinding {
  private readonly owners = new Map<string, string>();

  /**
   * Before a route runs. Returns false when it answered the request (refused). `route` is the face's route name,
   * `query` the request's query without "?".
   */
  admit(req: IncomingMessage, res: ServerResponse, route: string, query: string): boolean {
    const caller = currentCaller();
    if (!caller) return true;
    if (route === "mcp" || route === "relay") {
      const header = req.headers["mcp-session-id"];
      const session = typeof header === "string" ? header : undefined;
      if (session !== undefined && !this.check(res, `mcp:${session}`, caller.principal, "MCP session")) return false;
      this.watchResponse(res, caller.principal, session, req.method === "DELETE");
      return true;
    }
    if (route === "message") {
      const id = new URLSearchParams(query).get("sessionId");
      const key = this.owners.has(`sse:${query}`) || id === null ? `sse:${query}` : `sse-bridged:${id}`;
      return this.check(res, key, caller.principal, "legacy SSE session");
    }
    return true;
  }

  /**
   * A legacy SSE stream opened for the current caller: `key` is the proxy endpoint's query (pass-through) or
   * `bridged:<session id>`. Forgotten when the stream closes.
   */
  legacyOpened(key: string, res: ServerResponse): void {
    const caller = currentCaller();
    if (!caller) return;
    const bound = key.startsWith("bridged:") ? `sse-bridged:${key.slice(8)}` : `sse:${key.replace(/^\?/, "")}`;
    this.bind(bound, caller.principal);
    res.once("close", () => this.owners.delete(bound));
  }

  /** Sessions bound now (tests and the admin view). */
  get size(): number {
    return this.owners.size;
  }

  private check(res: ServerResponse, key: string, principal: string, what: string): boolean {
    const owner = this.owners.get(key);
    if (owner === principal) return true;
    if (owner === undefined) {
      writeJsonError(res, 404, `Unknown ${what}: it was not created by you through this proxy; start a new one.`);
    } else {
      writeJsonError(res, 403, `This ${what} belongs to another user of this proxy; start your own.`);
    }
    return false;
  }

  private bind(key: string, principal: string): void {
    if (this.owners.has(key)) return;
    if (this.owners.size >= MAX_SESSIONS) {
      const oldest = this.owners.keys().next().value;
      if (oldest !== undefined) this.owners.delete(oldest);
    }
    this.owners.set(key, principal);
  }

  /** Binds the session id a response hands out (every header write goes through writeHead, implicit ones too). */
  private watchResponse(res: ServerResponse, principal: string, sent: string | undefined, deleting: boolean): void {
    const writeHead = res.writeHead;
    const binding = this;
    res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
      const headers = args.find((arg) => typeof arg === "object" && arg !== null) as
        | OutgoingHttpHeaders
        | string[]
        | undefined;
      const handedOut = sessionIdIn(headers) ?? headerValue(res.getHeader("mcp-session-id"));
      if (handedOut !== undefined && handedOut !== sent) binding.bind(`mcp:${handedOut}`, principal);
      if (deleting && sent !== undefined && typeof args[0] === "number" && args[0] < 300) {
        binding.owners.delete(`mcp:${sent}`);
      }
      return (writeHead as (...rest: unknown[]) => ServerResponse).apply(this, args);
    } as typeof res.writeHead;
  }
}

function sessionIdIn(headers: OutgoingHttpHeaders | string[] | undefined): string | undefined {
  if (!headers) return undefined;
  if (Array.isArray(headers)) {
    for (let i = 0; i + 1 < headers.length; i += 2) {
      if (String(headers[i]).toLowerCase() === "mcp-session-id") return String(headers[i + 1]);
    }
    return undefined;
  }
  for (const [name, value] of Object.entries(headers)) {
    if (name.toLowerCase() === "mcp-session-id") return headerValue(value);
  }
  return undefined;
}

function headerValue(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (Array.isArray(value) && typeof value[0] === "string") return value[0];
  return undefined;
}
