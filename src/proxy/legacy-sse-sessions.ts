import { ProxyError } from "../lib/errors.ts";

/**
 * The legacy HTTP+SSE transport (MCP 2024-11-05) tells the client where to POST in an `endpoint` event. The proxy
 * rewrites that URI to its own `/message` with the upstream's query kept (it carries the session, e.g.
 * `?sessionId=…`), and remembers which upstream path that query belongs to while the stream is open.
 */
export class LegacySseSessions {
  private readonly byQuery = new Map<string, string>();
  /** The path of the last endpoint seen: a fallback for a POST whose stream this process never saw. */
  private lastPath: string | undefined;

  constructor(
    private readonly upstream: URL,
    private readonly messagePath = "/message",
  ) {}

  /**
   * Records an upstream endpoint (the event's data, relative to the upstream SSE URL) and returns the URI the
   * client must use. An endpoint on another origin is refused: the upstream token must never go elsewhere.
   */
  register(data: string): { proxyEndpoint: string; key: string } {
    let target: URL;
    try {
      target = new URL(data.trim(), this.upstream);
    } catch (error) {
      throw new ProxyError("UPSTREAM_ERROR", `The upstream sent an unusable SSE endpoint: ${data.slice(0, 200)}`, {
        cause: error,
      });
    }
    if (target.origin !== this.upstream.origin) {
      throw new ProxyError(
        "UPSTREAM_ERROR",
        `The upstream's SSE endpoint ${target.origin} is on another origin than ${this.upstream.origin}; refused.`,
        { hint: "The proxy only sends the upstream token to the upstream's own origin." },
      );
    }
    const key = target.search;
    this.byQuery.set(key, target.pathname + target.search);
    this.lastPath = target.pathname;
    return { proxyEndpoint: `${this.messagePath}${target.search}`, key };
  }

  /** Forgets an endpoint when its stream closes. */
  remove(key: string): void {
    this.byQuery.delete(key);
  }

  /** The upstream path and query for a POST to the proxy's message path with `query` (without "?"). */
  resolve(query: string): string | undefined {
    const key = query ? `?${query}` : "";
    return this.byQuery.get(key) ?? (this.lastPath !== undefined ? `${this.lastPath}${key}` : undefined);
  }

  get size(): number {
    return this.byQuery.size;
  }
}
