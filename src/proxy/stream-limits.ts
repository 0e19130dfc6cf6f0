import { DEFAULTS } from "../config/defaults.ts";
import { ProxyError } from "../lib/errors.ts";

/**
 * Caps on the long-lived streams the HTTP face holds open (a 2025 session's GET stream, a legacy `/sse` stream,
 * a 2026-07-28 `subscriptions/listen`): each pins a downstream socket and an upstream connection for as long as
 * the client listens. Streams use their own upstream connections, so they never starve requests; these caps keep
 * one client (or a leak) from taking every file descriptor, and turn "too many" into a clear error instead of a hang.
 */
export interface StreamLimitsOptions {
  /** Streams open at once across all clients. */
  maxStreams?: number | undefined;
  /** Streams open at once within one MCP session (`Mcp-Session-Id`). */
  maxStreamsPerSession?: number | undefined;
}

export const DEFAULT_MAX_STREAMS = DEFAULTS.maxStreams;
export const DEFAULT_MAX_STREAMS_PER_SESSION = DEFAULTS.maxStreamsPerSession;

export class StreamLimits {
  readonly maxStreams: number;
  readonly maxPerSession: number;
  private open = 0;
  private readonly bySession = new Map<string, number>();

  constructor(options: StreamLimitsOptions = {}) {
    this.maxStreams = options.maxStreams ?? DEFAULT_MAX_STREAMS;
    this.maxPerSession = options.maxStreamsPerSession ?? DEFAULT_MAX_STREAMS_PER_SESSION;
  }

  /** Streams open now. */
  get size(): number {
    return this.open;
  }

  /**
   * Takes a slot for one stream, or returns the error to answer with. The returned release is idempotent: call
   * it when the response closes, however it ends.
   */
  acquire(session: string | undefined): (() => void) | ProxyError {
    if (this.open >= this.maxStreams) {
      return new ProxyError("PROXY_BUSY", `The proxy already holds its limit of ${this.maxStreams} open streams.`, {
        hint: "Close idle MCP sessions or raise --max-streams, then try again.",
        details: { limit: this.maxStreams },
      });
    }
    const inSession = session === undefined ? 0 : (this.bySession.get(session) ?? 0);
    if (session !== undefined && inSession >= this.maxPerSession) {
      return new ProxyError(
        "PROXY_BUSY",
        `This MCP session already has ${inSession} open streams (the limit per session is ${this.maxPerSession}).`,
        {
          hint: "Close the session's other GET streams before opening another.",
          details: { limit: this.maxPerSession },
        },
      );
    }
    this.open++;
    if (session !== undefined) this.bySession.set(session, inSession + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.open--;
      if (session === undefined) return;
      const left = (this.bySession.get(session) ?? 1) - 1;
      if (left <= 0) this.bySession.delete(session);
      else this.bySession.set(session, left);
    };
  }
}
