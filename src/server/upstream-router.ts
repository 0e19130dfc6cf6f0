import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import type { AuthStatus } from "../auth/auth-client.ts";
import { CALLBACK_PATH } from "../config/options.ts";
import { describeError } from "../lib/errors.ts";
import { type Logger, silentLogger } from "../lib/logger.ts";
import type { UpstreamHealth } from "../proxy/upstream-health.ts";
import { sendPage } from "./html-page.ts";
import type { FaceAuthClient } from "./http-face.ts";
import { writeJson, writeJsonError } from "./json-response.ts";
import type { RequestGuard } from "./request-guard.ts";
import { splitTarget } from "./router.ts";
import { renderUpstreamsPage } from "./upstreams-page.ts";

/** One upstream behind the router: its own face (created with basePath `/servers/<name>`) and what the page shows. */
export interface RoutedUpstream {
  /** A safe path segment (the config file's server name). */
  readonly name: string;
  /** The upstream MCP server URL. */
  readonly url: string;
  /** The upstream's HTTP face; sees paths with the `/servers/<name>` prefix removed. */
  readonly listener: RequestListener;
  /** Undefined with a static Authorization header. */
  readonly auth?: FaceAuthClient | undefined;
  readonly health?: UpstreamHealth | undefined;
}

export interface UpstreamRouterOptions {
  /** The upstreams now (a function: a reload may add or remove some between two requests). */
  upstreams: () => readonly RoutedUpstream[];
  guard: RequestGuard;
  /** The form token the page's Sign in / Sign out buttons carry (the faces check the same one). */
  csrf: string;
  logger?: Logger | undefined;
  /** The proxy's base URL as printed at start, for the page's snippets. */
  baseUrl?: () => string | undefined;
  /** Its public base URL once known (`--public-url`, or learnt from a trusted front): wins for the snippets. */
  publicBaseUrl?: (() => string | undefined) | undefined;
  /** The command that runs this proxy here, for the page's stdio snippets (told the server's name). */
  launch?: { command: string; args: string[] } | undefined;
  /** Extra root routes (e.g. `/metrics`), served before the upstream routes. */
  rootRoutes?: ReadonlyMap<string, RequestListener> | undefined;
}

export const SERVERS_PREFIX = "/servers/";

/**
 * The HTTP face for many upstreams on one port. `/servers/<name>/…` goes to that upstream's face (its `/mcp`,
 * `/sse`, `/message`, sign-in forms and catch-all relay), and one `/oauth/callback` serves every upstream: the
 * `state` names the sign-in that made it, and so the upstream. With a single upstream the root routes are its own,
 * exactly as before; with several, `/` lists them all and `/healthz` reports each.
 */
export function createUpstreamRouter(options: UpstreamRouterOptions): RequestListener {
  const logger = options.logger ?? silentLogger;
  const { guard } = options;

  return (req, res) => {
    const { path, query } = splitTarget(req.url);
    const upstreams = options.upstreams();

    if (path === SERVERS_PREFIX.slice(0, -1) || path.startsWith(SERVERS_PREFIX)) {
      const rest = path.slice(SERVERS_PREFIX.length);
      const slash = rest.indexOf("/");
      const name = decodeSegment(slash === -1 ? rest : rest.slice(0, slash));
      const upstream = upstreams.find((candidate) => candidate.name === name);
      if (!upstream) {
        if (!refuseForeignHost(req, res)) return;
        return writeJsonError(res, 404, unknownName(name, upstreams));
      }
      if (upstreams.length > 1 && (slash === -1 || rest.slice(slash) === "/") && isPageRequest(req)) {
        // The upstream's own page lives on the list, where its buttons post to its routes.
        res.writeHead(303, { location: `/#server-${encodeURIComponent(upstream.name)}`, "cache-control": "no-store" });
        return res.end();
      }
      req.url = `${slash === -1 ? "/" : rest.slice(slash)}${query ? `?${query}` : ""}`;
      return upstream.listener(req, res);
    }

    const extra = options.rootRoutes?.get(path);
    if (extra) return extra(req, res);

    if (path === CALLBACK_PATH) {
      const state = new URLSearchParams(query).get("state");
      // The sign-in pending here, else the upstream whose tag the state carries (started on another replica: that
      // upstream takes the flow from the shared store), else the first with OAuth (which rejects an unknown state).
      const owner =
        (state ? upstreams.find((candidate) => candidate.auth?.ownsSignIn?.(state)) : undefined) ??
        (state ? upstreams.find((candidate) => candidate.auth?.mintedSignInState?.(state)) : undefined) ??
        upstreams.find((candidate) => candidate.auth !== undefined) ??
        upstreams[0];
      if (!owner) return writeJsonError(res, 404, "No upstream is configured.");
      return owner.listener(req, res);
    }

    const only = upstreams.length === 1 ? upstreams[0] : undefined;
    if (only) return only.listener(req, res);

    if (!refuseForeignHost(req, res)) return;
    if (path === "/" && (req.method === "GET" || req.method === "HEAD")) {
      if (guard.requiresKey && !guard.hasValidKey(req.headers)) {
        return writeJsonError(res, 401, "This proxy requires its API key.", [
          "www-authenticate",
          'Basic realm="mcp-u2m-proxy", charset="UTF-8"',
        ]);
      }
      return void sendList(req, res, upstreams).catch((error: unknown) => {
        logger.error("the upstreams page failed", { error: describeError(error) });
        if (!res.headersSent) writeJsonError(res, 500, "The proxy failed to render its page.");
      });
    }
    if (path === "/healthz" && (req.method === "GET" || req.method === "HEAD")) {
      return void healthOfAll(upstreams, guard.hasValidKey(req.headers)).then((body) => writeJson(res, 200, body));
    }
    return writeJsonError(
      res,
      404,
      upstreams.length === 0
        ? "No upstream is configured."
        : `This proxy serves several MCP servers: use /servers/<name>/mcp (or /sse). Names: ${names(upstreams)}.`,
    );
  };

  function refuseForeignHost(req: IncomingMessage, res: ServerResponse): boolean {
    if (guard.isHostAllowed(req.headers.host) && guard.isOriginAllowed(req.headers.origin)) return true;
    writeJsonError(res, 403, "Invalid Host or Origin header.");
    return false;
  }

  async function sendList(req: IncomingMessage, res: ServerResponse, upstreams: readonly RoutedUpstream[]) {
    const entries = await Promise.all(
      upstreams.map(async (upstream) => ({
        name: upstream.name,
        url: upstream.url,
        status: upstream.auth ? await upstream.auth.status().catch(() => undefined) : undefined,
        oauth: upstream.auth !== undefined,
      })),
    );
    const host = req.headers.host;
    const base = options.publicBaseUrl?.() ?? (host ? `http://${host}` : (options.baseUrl?.() ?? ""));
    sendPage(
      res,
      200,
      renderUpstreamsPage({
        upstreams: entries,
        csrf: options.csrf,
        proxyBaseUrl: base,
        apiKeyRequired: guard.requiresKey,
        launch: options.launch,
      }),
    );
  }
}

/** `/healthz` with several upstreams: `ok` when every one is usable; each one's state under its name. */
export async function healthOfAll(
  upstreams: readonly RoutedUpstream[],
  full: boolean,
): Promise<{ ok: boolean; upstreams: Record<string, Record<string, unknown>> }> {
  const reports = await Promise.all(
    upstreams.map(async (upstream) => {
      const entry: Record<string, unknown> = full ? { url: upstream.url } : {};
      let status: AuthStatus | undefined;
      if (upstream.auth) {
        status = await upstream.auth.status().catch(() => undefined);
        entry.signedIn = status?.signedIn ?? false;
        if (full && status?.expiresAt) entry.expiresAt = status.expiresAt;
        if (full && status?.signInUrl) entry.signInUrl = status.signInUrl;
      } else {
        entry.signedIn = true;
        entry.staticAuthorization = true;
      }
      let usable = entry.signedIn === true;
      if (upstream.health) {
        const report = await upstream.health.current();
        usable = report.usable;
        entry.reachable = report.reachable;
        if (report.era) entry.era = report.era;
        if (full && report.error) entry.error = report.error;
      }
      entry.ok = usable;
      return [upstream.name, entry] as const;
    }),
  );
  return { ok: reports.every(([, entry]) => entry.ok === true), upstreams: Object.fromEntries(reports) };
}

function isPageRequest(req: IncomingMessage): boolean {
  return (req.method === "GET" || req.method === "HEAD") && /text\/html/.test(req.headers.accept ?? "");
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function names(upstreams: readonly RoutedUpstream[]): string {
  return upstreams.map((upstream) => upstream.name).join(", ");
}

function unknownName(name: string, upstreams: readonly RoutedUpstream[]): string {
  const shown = JSON.stringify(name.slice(0, 64));
  return upstreams.length === 0
    ? `No MCP server is named ${shown}: none is configured.`
    : `No MCP server is named ${shown}. Known names: ${names(upstreams)}.`;
}
