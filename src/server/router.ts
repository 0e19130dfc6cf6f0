import type { IncomingMessage, ServerResponse } from "node:http";

/** One request as the routes see it: the raw req/res (the hot path streams on them) plus the parsed target. */
export interface RouteContext {
  /** Path without the query, as sent (not decoded). */
  path: string;
  /** The query without "?", as sent ("" when none). */
  query: string;
}

/** A route; a returned promise is awaited for errors only (the relay resolves once the stream is handed over). */
export type RouteHandler = (req: IncomingMessage, res: ServerResponse, context: RouteContext) => unknown;

export interface RouteMatch {
  handler: RouteHandler;
  /** The route's name, for the security policy (which routes need the API key, which are pages). */
  name: string;
}

/**
 * A tiny exact-path router: a Map lookup per request, no patterns, no framework on the hot path. A path that is
 * known with another method answers 405 with `Allow`; an unknown path goes to the fallback (the generic relay).
 */
export class Router {
  private readonly routes = new Map<string, Map<string, RouteMatch>>();
  private fallbackRoute: RouteMatch | undefined;

  /** Registers `handler` for `methods` on the exact `path`. HEAD is served by the GET handler unless registered. */
  add(methods: string | readonly string[], path: string, name: string, handler: RouteHandler): this {
    let byMethod = this.routes.get(path);
    if (!byMethod) {
      byMethod = new Map();
      this.routes.set(path, byMethod);
    }
    for (const method of typeof methods === "string" ? [methods] : methods) {
      byMethod.set(method.toUpperCase(), { handler, name });
    }
    return this;
  }

  /** Handles every path no route claims. */
  fallback(name: string, handler: RouteHandler): this {
    this.fallbackRoute = { handler, name };
    return this;
  }

  /**
   * The route for a request: a match, `{ allow }` when the path exists with other methods, or undefined when
   * nothing (not even a fallback) claims the path.
   */
  match(method: string, path: string): RouteMatch | { allow: string[] } | undefined {
    const byMethod = this.routes.get(path);
    if (!byMethod) return this.fallbackRoute;
    const route = byMethod.get(method) ?? (method === "HEAD" ? byMethod.get("GET") : undefined);
    if (route) return route;
    const allow = [...byMethod.keys()];
    if (byMethod.has("GET") && !byMethod.has("HEAD")) allow.push("HEAD");
    return { allow };
  }

  /** Whether `path` is a route of its own (so the generic relay never serves it). */
  has(path: string): boolean {
    return this.routes.has(path);
  }
}

/** Splits a request target into path and query without URL parsing (the hot path runs this per request). */
export function splitTarget(url: string | undefined): RouteContext {
  const target = url ?? "/";
  const mark = target.indexOf("?");
  return mark === -1 ? { path: target, query: "" } : { path: target.slice(0, mark), query: target.slice(mark + 1) };
}
