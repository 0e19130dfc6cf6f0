import { randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import type { AuthClient, AuthStatus } from "../auth/auth-client.ts";
import { CALLBACK_PATH } from "../config/options.ts";
import { describeError, isProxyError, ProxyError } from "../lib/errors.ts";
import { type Logger, silentLogger } from "../lib/logger.ts";
import type { EraVerdicts } from "../proxy/era/era-verdicts.ts";
import type { HttpRelay } from "../proxy/http-relay.ts";
import { LegacySseSessions } from "../proxy/legacy-sse-sessions.ts";
import { readBody } from "../proxy/read-body.ts";
import { writeErrorResponse } from "../proxy/relay-errors.ts";
import { SseEndpointRewrite } from "../proxy/sse-endpoint-rewrite.ts";
import { StreamLimits } from "../proxy/stream-limits.ts";
import type { UpstreamHealth } from "../proxy/upstream-health.ts";
import { clientBaseUrl } from "./client-config.ts";
import type { FaceTraffic } from "./face-traffic.ts";
import { renderCallbackResult, renderHomePage } from "./home-page.ts";
import { sendPage } from "./html-page.ts";
import type { SessionBinding } from "./identity/session-binding.ts";
import { writeJson, writeJsonError } from "./json-response.ts";
import type { RequestGuard } from "./request-guard.ts";
import { Router, splitTarget } from "./router.ts";
import type { SseKeepAlive } from "./sse-keep-alive.ts";
import type { TransportBridges } from "./transport-bridges.ts";

/** The auth core as the face uses it: the relay interface plus sign-out (UpstreamAuth). */
export interface FaceAuthClient extends AuthClient {
  clear?(): Promise<unknown>;
  /** Whether the sign-in that issued this `state` is this client's (one callback route serves many upstreams). */
  ownsSignIn?(state: string): boolean;
  /** Whether `state` was minted for this upstream by any replica (a callback the sign-in's replica did not get). */
  mintedSignInState?(state: string): boolean;
}

export interface HttpFaceOptions {
  upstreamUrl: string;
  auth?: FaceAuthClient | undefined;
  relay: HttpRelay;
  guard: RequestGuard;
  logger?: Logger | undefined;
  /**
   * Message-level bridging when the client's transport is not the upstream's, created on first need (it loads the
   * SDK, which the pass-through never needs). Without it, a legacy SSE client in front of a Streamable HTTP upstream
   * gets a 502 that says to use `/mcp`, and the reverse gets the upstream's refusal.
   */
  bridges?: (() => Promise<TransportBridges>) | undefined;
  /**
   * The upstream's MCP wire era (configured, stored or probed). With `bridges`, a 2025 client in front of a
   * 2026-07-28-only upstream is bridged (the proxy owns its session); same-era traffic stays on the pass-through.
   */
  eras?: EraVerdicts | undefined;
  /** The upstream's transport when known (else detected on the first `/sse` or `initialize` and remembered). */
  upstreamTransport?: "streamable-http" | "sse" | undefined;
  /** Caps on open long-lived streams (default: StreamLimits' defaults). */
  streamLimits?: StreamLimits | undefined;
  /** The upstream's reachability for /healthz (probed at most every few seconds); without it, not reported. */
  health?: UpstreamHealth | undefined;
  /**
   * Where this face is mounted when several upstreams share the port (`/servers/<name>`; default ""): the paths it
   * hands to clients (the legacy SSE message endpoint) carry it.
   */
  basePath?: string | undefined;
  /** The command that runs this proxy here, for the page's stdio snippets. */
  launch?: { command: string; args: string[] } | undefined;
  /** The form token of the page's buttons (default: a random one); shared when one page lists several upstreams. */
  csrf?: string | undefined;
  /** The proxy's public base URL once known (`--public-url`, or learnt from a trusted front): the page's snippets. */
  publicBaseUrl?: (() => string | undefined) | undefined;
  /** Metrics, access log and rate limit of the relayed requests (default: none of them). */
  traffic?: FaceTraffic | undefined;
  /** Keep-alive comments on the event streams served (and the list of them, for the shutdown); default none. */
  keepAlive?: SseKeepAlive | undefined;
  /** With several users (`--identity`): sessions bound to whoever created them, refused for anyone else. */
  sessionBinding?: SessionBinding | undefined;
}

/** Route names whose requests need the inbound API key (when one is configured). */
const KEYED_ROUTES = new Set(["mcp", "sse", "message", "relay", "home", "sign-in", "sign-out"]);
/** Routes for people: a missing key gets a Basic challenge so the browser asks for it. */
const PAGE_ROUTES = new Set(["home", "sign-in", "sign-out"]);
/** Routes that speak to MCP clients, which may be browser apps on an allowed origin (CORS). */
const CORS_ROUTES = new Set(["mcp", "sse", "message", "relay"]);
/**
 * Discovery documents the generic relay never serves: a client that found the upstream's OAuth metadata through
 * the proxy would try to sign in itself and send its own token, which the proxy drops.
 */
const NOT_RELAYED =
  /^\/(?:\.well-known\/(?:oauth-protected-resource|oauth-authorization-server|openid-configuration)|favicon\.ico$)/;

/**
 * The HTTP face's request listener: security checks (Host, Origin, API key), then a tiny router:
 * `/mcp` (Streamable HTTP pass-through), `/sse` + `/message` (legacy HTTP+SSE), `/oauth/callback`, `/`, `/healthz`,
 * sign-in/out forms, and a generic authenticated relay for every other path on the upstream origin.
 *
 * @see MCP 2025-11-25 basic/transports §Security Warning (Origin validation, 403)
 */
export function createRequestListener(options: HttpFaceOptions): RequestListener {
  const { relay, guard, auth } = options;
  const logger = options.logger ?? silentLogger;
  const sessions = new LegacySseSessions(relay.upstream, `${options.basePath ?? ""}/message`);
  const csrf = options.csrf ?? randomBytes(32).toString("base64url");
  const router = new Router();
  const streams = options.streamLimits ?? new StreamLimits();

  /**
   * Takes a stream slot for a long-lived response, released when the response closes; answers 503 (with a
   * JSON-RPC error) and returns false when the proxy or the session is at its limit.
   */
  function holdStreamSlot(req: IncomingMessage, res: ServerResponse): boolean {
    const session = req.headers["mcp-session-id"];
    const slot = streams.acquire(typeof session === "string" ? session : undefined);
    if (slot instanceof ProxyError) {
      logger.warn("refused a stream at the limit", { reason: slot.message });
      writeErrorResponse(res, slot, { statusOnly: true });
      return false;
    }
    res.once("close", slot);
    const closed = options.traffic?.metrics.streamOpened();
    if (closed) res.once("close", closed);
    return true;
  }

  const bridges = options.bridges;
  let upstreamKind = options.upstreamTransport;
  /** Bridged legacy clients' session ids, so their POSTs go to the bridge without loading it for anyone else. */
  const bridgedLegacy = new Set<string>();
  options.traffic?.metrics.countSessions(() => sessions.size + bridgedLegacy.size);

  /** The bridges once loaded (a session the proxy holds can only exist then). */
  let loadedBridges: TransportBridges | undefined;
  const eras = options.eras;

  router.add(["GET", "POST", "DELETE"], "/mcp", "mcp", (req, res, { query }) => {
    const stream = isLongLivedStream(req);
    options.keepAlive?.watch(res, { longLived: stream });
    if (stream && !holdStreamSlot(req, res)) return;
    const sessionless = req.method === "POST" && req.headers["mcp-session-id"] === undefined;
    if (eras && bridges && isModernClientRequest(req)) {
      // A verdict from the store may be out of date (the server changed era while the proxy was down): the first
      // 2026-07-28 request it would route is routed by a probe instead, once per process.
      if (sessionless && eras.fromStore) return probeForModernClient(req, res, query, bridges, stream);
      if (eras.known !== "modern" && eras.known !== "dual") {
        // A 2026-07-28 client: bridged when the upstream speaks only the 2025 session wire.
        if (eras.known === "legacy" || upstreamKind === "sse") return bridgeModern(req, res, bridges);
        if (sessionless) return probeForModernClient(req, res, query, bridges, stream);
      }
    }
    if (upstreamKind === "sse" && bridges) return bridges().then((via) => via.handleStreamableClient(req, res));
    if (eras && bridges && !isModernClientRequest(req)) {
      // A 2025 client: bridged when the upstream speaks only 2026-07-28 (or the session is already a bridged one).
      const session = req.headers["mcp-session-id"];
      const held = typeof session === "string" && loadedBridges?.holdsSession(session) === true;
      if (held || eras.known === "modern") return bridgeEra(req, res, bridges);
      // A stored legacy verdict is checked only when the upstream refuses the relayed initialize (probeStreamable's
      // era fallback): the pass-through path stays free of probes while the verdict holds.
      if (sessionless && (eras.known === undefined || eras.fromStore)) {
        return probeStreamable(req, res, query, bridges, stream);
      }
    }
    if (upstreamKind === undefined && bridges && sessionless) {
      return probeStreamable(req, res, query, bridges, stream);
    }
    return relay.relay(req, res, { kind: "mcp", path: relay.mcpPath(query), stream });
  });

  /** A 2026-07-28 client's `/mcp` request in front of a 2025-only upstream: answered from an upstream session. */
  async function bridgeModern(req: IncomingMessage, res: ServerResponse, via: () => Promise<TransportBridges>) {
    loadedBridges = await via();
    await loadedBridges.handleModernClient(req, res);
  }

  /**
   * A 2026-07-28 client's first request while the upstream's era is unknown, or known only from the store: the era
   * probe (itself a `server/discover`) decides; when it proves nothing (no sign-in yet, an outage), the stored
   * verdict (if any) does, else the request is relayed.
   */
  async function probeForModernClient(
    req: IncomingMessage,
    res: ServerResponse,
    query: string,
    via: () => Promise<TransportBridges>,
    stream: boolean,
  ) {
    const verdict = await eras?.confirm().catch((error: unknown) => {
      logger.debug(`the era probe proved nothing: ${describeError(error)}`);
      return eras.get().catch(() => undefined);
    });
    if (verdict?.era === "legacy") {
      logger.info("the upstream speaks only the 2025 MCP session wire; bridging 2026-07-28 clients to it", {
        upstream: relay.upstream.href,
      });
      return bridgeModern(req, res, via);
    }
    return relay.relay(req, res, { kind: "mcp", path: relay.mcpPath(query), stream });
  }

  /** A 2025 client's `/mcp` request in front of a 2026-07-28-only upstream: the proxy holds the session. */
  async function bridgeEra(
    req: IncomingMessage,
    res: ServerResponse,
    via: () => Promise<TransportBridges>,
    body?: Buffer,
  ): Promise<void> {
    loadedBridges = await via();
    await loadedBridges.handleStreamableClient(req, res, body, "streamable-http");
  }

  /**
   * A session-less POST to /mcp while the upstream's transport or era is unknown: relay it, and learn. A refused
   * `initialize` is checked with the era probe first (a 2026-07-28-only server refuses it), then as a legacy
   * HTTP+SSE server's refusal.
   */
  async function probeStreamable(
    req: IncomingMessage,
    res: ServerResponse,
    query: string,
    via: () => Promise<TransportBridges>,
    stream: boolean,
  ) {
    const outcome = await relay.relay(req, res, {
      kind: "mcp",
      path: relay.mcpPath(query),
      stream,
      ...(upstreamKind === undefined
        ? {
            legacyFallback: async (body: Buffer | undefined) => {
              upstreamKind = "sse";
              await (await via()).handleStreamableClient(req, res, body);
            },
          }
        : {}),
      ...(eras && (eras.known === undefined || eras.fromStore)
        ? {
            eraFallback: async (body: Buffer | undefined) => {
              const verdict = await eras.confirm().catch((error: unknown) => {
                logger.debug(`the era probe proved nothing: ${describeError(error)}`);
                return undefined;
              });
              if (verdict?.era !== "modern") return false;
              logger.info("the upstream speaks only MCP 2026-07-28; bridging 2025 clients to it", {
                upstream: relay.upstream.href,
              });
              upstreamKind = "streamable-http";
              await bridgeEra(req, res, via, body);
              return true;
            },
          }
        : {}),
    });
    if (outcome === "relayed" && res.statusCode < 300) upstreamKind ??= "streamable-http";
  }

  async function bridgeLegacyClient(req: IncomingMessage, res: ServerResponse, via: () => Promise<TransportBridges>) {
    const sessionId = await (await via()).openLegacyClient(req, res);
    options.sessionBinding?.legacyOpened(`bridged:${sessionId}`, res);
    bridgedLegacy.add(sessionId);
    res.once("close", () => bridgedLegacy.delete(sessionId));
  }

  /** A legacy client whose user must sign in first: bound to them like a bridged one (sign-in-legacy-session.ts). */
  async function bridgeSignIn(res: ServerResponse, via: () => Promise<TransportBridges>, error: ProxyError) {
    const sessionId = await (await via()).openSignInClient(res, error);
    options.sessionBinding?.legacyOpened(`bridged:${sessionId}`, res);
    bridgedLegacy.add(sessionId);
    res.once("close", () => bridgedLegacy.delete(sessionId));
  }

  router.add("GET", "/sse", "sse", async (req, res, context) => {
    options.keepAlive?.watch(res, { longLived: true });
    if (!holdStreamSlot(req, res)) return;
    if ((upstreamKind === "streamable-http" || eras?.known === "modern") && bridges) {
      return bridgeLegacyClient(req, res, bridges);
    }
    const outcome = await relay.relay(req, res, {
      kind: "legacy-sse",
      path: relay.mcpPath(context.query),
      requireSse: true,
      stream: true,
      // The endpoint event is read (and rewritten) on the way through: no compression.
      setHeaders: ["accept-encoding", "identity"],
      // Not signed in: the stream needs the token, and which transport the upstream speaks is not known yet; a
      // session of the proxy's own answers the client's requests with the sign-in error instead of an HTTP error.
      onSignInNeeded: bridges ? (error) => bridgeSignIn(res, bridges, error) : undefined,
      transform: () =>
        new SseEndpointRewrite({
          rewrite: (data) => {
            const { proxyEndpoint, key } = sessions.register(data);
            options.sessionBinding?.legacyOpened(key, res);
            res.once("close", () => sessions.remove(key));
            return proxyEndpoint;
          },
        }),
    });
    if (outcome === "relayed") upstreamKind ??= "sse";
    if (outcome !== "not-sse") return;
    // No event stream on GET: the upstream speaks Streamable HTTP (remembered), so bridge this client to it.
    upstreamKind = "streamable-http";
    if (bridges) return bridgeLegacyClient(req, res, bridges);
    writeErrorResponse(
      res,
      new ProxyError(
        "UPSTREAM_ERROR",
        `The upstream ${relay.upstream.href} does not speak the legacy HTTP+SSE transport (no event stream on GET).`,
        { hint: "Connect your client to the proxy's /mcp endpoint (Streamable HTTP) instead of /sse." },
      ),
      { statusOnly: true },
    );
  });

  router.add("POST", "/message", "message", async (req, res, context) => {
    if (bridges && bridgedLegacy.has(new URLSearchParams(context.query).get("sessionId") ?? "")) {
      return (await bridges()).postLegacyMessage(req, res, context.query);
    }
    const path = sessions.resolve(context.query);
    if (path === undefined) {
      writeJsonError(res, 404, "Unknown legacy SSE session: open the event stream at /sse first.");
      return;
    }
    await relay.relay(req, res, { kind: "legacy-message", path });
  });

  router.add("GET", CALLBACK_PATH, "callback", async (_req, res, { query }) => {
    if (!auth) {
      writeJsonError(res, 404, "This proxy does not use OAuth for its upstream (static Authorization header).");
      return;
    }
    const result = await auth.handleCallback(new URLSearchParams(query));
    // A refused callback while signed in is usually a reload of the one that worked: the page says so.
    const current = result.ok ? undefined : await auth.status().catch(() => undefined);
    const { status, page } = renderCallbackResult(result, csrf, current);
    sendPage(res, status, page);
  });

  router.add("GET", "/", "home", async (req, res) => {
    await sendHome(req, res, 200);
  });

  router.add("POST", "/oauth/sign-in", "sign-in", async (req, res) => {
    if (!auth) return refuseWithoutOAuth(req, res, "start");
    if (!(await checkForm(req, res))) return;
    try {
      // The page redirects this tab to the authorization server: no second tab from the browser opener.
      const handle = await auth.startSignIn({ reason: "page", openBrowser: false });
      res.writeHead(303, { location: handle.url, "cache-control": "no-store", "referrer-policy": "no-referrer" });
      res.end();
    } catch (error) {
      logger.warn("sign-in could not start", { error: describeError(error) });
      await sendHome(req, res, 502, asProxyError(error));
    }
  });

  router.add("POST", "/oauth/sign-out", "sign-out", async (req, res) => {
    if (!auth) return refuseWithoutOAuth(req, res, "end");
    if (!auth.clear)
      return writeJsonError(res, 501, "This proxy cannot sign out from the page; use its clear command.");
    if (!(await checkForm(req, res))) return;
    try {
      const outcome = await auth.clear();
      const revoked = (outcome as { revoked?: unknown } | undefined)?.revoked === true;
      logger.info(`Signed out of ${auth.serverUrl}${revoked ? " (tokens revoked)" : ""}.`);
      // A short-lived cookie carries the notice to the page (the URL stays "/": a reload shows no stale notice).
      res.writeHead(303, {
        location: "/",
        "cache-control": "no-store",
        "set-cookie": `${SIGNED_OUT_COOKIE}=${revoked ? "revoked" : "1"}; Path=/; Max-Age=60; HttpOnly; SameSite=Strict`,
      });
      res.end();
    } catch (error) {
      await sendHome(req, res, 500, asProxyError(error));
    }
  });

  router.add("GET", "/healthz", "healthz", async (req, res) => {
    const full = guard.hasValidKey(req.headers);
    const body: Record<string, unknown> = { ok: true };
    if (auth) {
      let status: AuthStatus | undefined;
      try {
        status = await auth.status();
      } catch (error) {
        body.authError = describeError(error);
      }
      body.signedIn = status?.signedIn ?? false;
      if (full && status) {
        body.expiresAt = status.expiresAt ?? null;
        if (status.signInUrl) body.signInUrl = status.signInUrl;
      }
    } else {
      body.signedIn = true;
      body.staticAuthorization = true;
    }
    // Always 200 while the proxy serves (a liveness check must not restart it for an upstream outage); `ok` says
    // whether the upstream answers as MCP. The error text and URL only with the key, like the rest.
    const upstream: Record<string, unknown> = full ? { url: relay.upstream.href } : {};
    if (options.health) {
      const report = await options.health.current();
      body.ok = report.usable;
      upstream.reachable = report.reachable;
      if (report.era) upstream.era = report.era;
      if (full && report.error) upstream.error = report.error;
      upstream.checkedAt = report.checkedAt;
    }
    if (Object.keys(upstream).length > 0) body.upstream = upstream;
    writeJson(res, 200, body);
  });

  router.fallback("relay", (req, res, { path, query }) => {
    // Checked and sent in the form the upstream will resolve it to: "/x/../.well-known/…" is the document itself.
    const normalised = normaliseRelayPath(path);
    if (normalised === undefined || NOT_RELAYED.test(deniedForm(normalised))) {
      return writeJsonError(res, 404, "Not found.");
    }
    return relay.relay(req, res, { kind: "generic", path: query ? `${normalised}?${query}` : normalised });
  });

  async function sendHome(req: IncomingMessage, res: ServerResponse, status: number, error?: ProxyError) {
    const signedOutCookie = readCookie(req.headers.cookie, SIGNED_OUT_COOKIE);
    let authStatus: AuthStatus | undefined;
    if (auth) {
      try {
        authStatus = await auth.status();
      } catch (statusError) {
        error ??= asProxyError(statusError);
      }
    }
    const page = renderHomePage({
      upstreamUrl: relay.upstream.href,
      proxyBaseUrl: clientBaseUrl(req.headers.host, relay.signInPageUrl, options.publicBaseUrl?.()),
      status:
        authStatus ??
        (auth
          ? { serverUrl: auth.serverUrl, signedIn: false, hasRefreshToken: false, scopes: [], storeKey: "" }
          : undefined),
      csrf,
      apiKeyRequired: guard.requiresKey,
      launch: options.launch,
      canSignOut: typeof auth?.clear === "function",
      error,
      signedOut: signedOutCookie === undefined ? undefined : { revoked: signedOutCookie === "revoked" },
    });
    const clear = signedOutCookie === undefined ? [] : ["set-cookie", `${SIGNED_OUT_COOKIE}=; Path=/; Max-Age=0`];
    sendPage(res, status, page, clear);
  }

  /**
   * With a static Authorization header there is no sign-in to start or end: say so at once (409, code USAGE with
   * `data.staticAuthorization`; the page again for a browser's form post). Changes nothing, so no form check.
   */
  async function refuseWithoutOAuth(req: IncomingMessage, res: ServerResponse, what: "start" | "end") {
    const error = new ProxyError(
      "USAGE",
      `This proxy uses a static Authorization header for ${relay.upstream.href}; there is no sign-in to ${what}.`,
      {
        hint: "Remove --header Authorization (or the server's Authorization entry under `headers` in the config file) to use OAuth.",
        details: { staticAuthorization: true },
      },
    );
    if (/text\/html/.test(req.headers.accept ?? "")) return sendHome(req, res, 409, error);
    writeErrorResponse(res, error, { status: 409 });
  }

  /**
   * Same-origin form posts only: the Origin (when sent) must be this page's own (RequestGuard.isOwnPageOrigin:
   * the Host's, with the scheme the request arrived on, or https behind a TLS-ending reverse proxy when listed),
   * and the CSRF token must match.
   */
  async function checkForm(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const origin = req.headers.origin;
    const tls = (req.socket as { encrypted?: boolean }).encrypted === true;
    if (origin !== undefined && !guard.isOwnPageOrigin(origin, req.headers.host, tls)) {
      writeJsonError(
        res,
        403,
        "Cross-origin form posts are refused: the form must come from this proxy's own page. Behind an HTTPS reverse proxy, pass the Host header through and list the public origin with --allow-origin.",
      );
      return false;
    }
    const read = await readBody(req, 4096);
    const presented = read.ok ? new URLSearchParams(read.body?.toString("utf8") ?? "").get("csrf") : null;
    if (!presented || !sameSecret(presented, csrf)) {
      writeJsonError(res, 403, "The form is stale or forged; reload the page and try again.");
      return false;
    }
    return true;
  }

  return (req, res) => {
    const method = req.method ?? "GET";
    const context = splitTarget(req.url);
    if (!context.path.startsWith("/")) {
      writeJsonError(res, 400, "Only origin-form request targets are served.");
      return;
    }
    // DNS rebinding and cross-site requests are refused before anything else runs.
    if (!guard.isHostAllowed(req.headers.host)) {
      logger.warn("refused a request with a foreign Host header", { host: req.headers.host });
      writeJsonError(res, 403, "Invalid Host header.");
      return;
    }
    const origin = req.headers.origin;
    if (!guard.isOriginAllowed(origin)) {
      logger.warn("refused a request from a foreign Origin", { origin });
      writeJsonError(res, 403, "Origin not allowed.");
      return;
    }
    if (method === "OPTIONS" && origin !== undefined && req.headers["access-control-request-method"]) {
      answerPreflight(req, res, origin);
      return;
    }
    const route = router.match(method, context.path);
    if (!route) {
      writeJsonError(res, 404, "Not found.");
      return;
    }
    if ("allow" in route) {
      writeJsonError(res, 405, "Method not allowed.", ["allow", route.allow.join(", ")]);
      return;
    }
    if (KEYED_ROUTES.has(route.name) && guard.requiresKey && !guard.hasValidKey(req.headers)) {
      refuseWithoutKey(res, PAGE_ROUTES.has(route.name));
      return;
    }
    if (CORS_ROUTES.has(route.name)) {
      const refusal = guard.browserRefusal(req.headers);
      if (refusal !== undefined) {
        logger.warn("refused a browser request to a relay path", { reason: refusal, path: context.path });
        writeJsonError(
          res,
          403,
          `Refused ${refusal}: the relay carries your upstream sign-in, so only MCP clients and allowed origins may use it.`,
        );
        return;
      }
    }
    if (origin !== undefined && CORS_ROUTES.has(route.name)) {
      res.setHeader("access-control-allow-origin", origin);
      res.setHeader("access-control-expose-headers", "Mcp-Session-Id, MCP-Protocol-Version");
      res.setHeader("vary", "Origin");
    }
    if (options.traffic && CORS_ROUTES.has(route.name)) {
      const stream = route.name === "sse" || (route.name === "mcp" && isLongLivedStream(req));
      if (!options.traffic.admit(req, res, route.name, stream)) return;
    }
    if (options.sessionBinding && !options.sessionBinding.admit(req, res, route.name, context.query)) return;
    try {
      const result = route.handler(req, res, context);
      if (result instanceof Promise) result.catch((error: unknown) => internalError(res, error, logger));
    } catch (error) {
      internalError(res, error, logger);
    }
  };
}

/**
 * The path with dot segments (also percent-encoded ones and backslashes) resolved the way URL parsers and servers
 * resolve them; undefined when it cannot be parsed.
 */
export function normaliseRelayPath(path: string): string | undefined {
  try {
    return new URL(path, "http://relay.invalid").pathname;
  } catch {
    return undefined;
  }
}

/** The form the deny list is matched on: percent-decoded, repeated slashes collapsed, lower case. */
function deniedForm(path: string): string {
  let decoded = path;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    // Malformed escapes: match the raw form (the upstream cannot decode them either).
  }
  const collapsed = decoded.replace(/[/\\]+/g, "/").toLowerCase();
  return normaliseRelayPath(collapsed) ?? collapsed;
}

/**
 * Responses that stay open for as long as the client listens: a session's GET stream, and a 2026-07-28
 * `subscriptions/listen` (named by its `Mcp-Method` header, which 2026-07-28 clients must send).
 */
function isLongLivedStream(req: IncomingMessage): boolean {
  if (req.method === "GET") return true;
  return req.method === "POST" && req.headers["mcp-method"] === "subscriptions/listen";
}

/**
 * A request of a 2026-07-28 client: it names its revision in `MCP-Protocol-Version` on every request (SH §Protocol
 * Version Header), where a 2025 client sends none before its session or a 2025 date.
 */
function isModernClientRequest(req: IncomingMessage): boolean {
  const version = req.headers["mcp-protocol-version"];
  return typeof version === "string" && version >= "2026";
}

/** Set by Sign out for the next page load only ("1", or "revoked" when the authorization server revoked the grant). */
const SIGNED_OUT_COOKIE = "mcp-u2m-proxy-signed-out";

function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of header?.split(";") ?? []) {
    const eq = part.indexOf("=");
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function answerPreflight(req: IncomingMessage, res: ServerResponse, origin: string): void {
  const requested = req.headers["access-control-request-headers"];
  const headers = [
    "access-control-allow-origin",
    origin,
    "access-control-allow-methods",
    "GET, POST, DELETE, OPTIONS",
    "access-control-max-age",
    "600",
    "vary",
    "Origin",
  ];
  // Echo only well-formed header names.
  if (typeof requested === "string" && /^[\w\s,-]*$/.test(requested)) {
    headers.push("access-control-allow-headers", requested);
  }
  res.writeHead(204, headers);
  res.end();
}

function refuseWithoutKey(res: ServerResponse, page: boolean): void {
  const message = "This proxy requires its API key: send Authorization: Bearer <key> or X-API-Key: <key>.";
  if (page) {
    // Browsers ask for credentials on a Basic challenge; the key goes in the password field.
    writeJsonError(res, 401, message, ["www-authenticate", 'Basic realm="mcp-u2m-proxy", charset="UTF-8"']);
    return;
  }
  // 403, not 401: a 401 makes MCP clients start OAuth discovery against the proxy.
  writeJsonError(res, 403, message);
}

function internalError(res: ServerResponse, error: unknown, logger: Logger): void {
  logger.error("request failed inside the proxy", { error: describeError(error) });
  if (res.headersSent) {
    res.destroy();
    return;
  }
  writeErrorResponse(res, new ProxyError("INTERNAL", "The proxy failed to handle the request.", { cause: error }), {
    statusOnly: true,
  });
}

function asProxyError(error: unknown): ProxyError {
  return isProxyError(error) ? error : new ProxyError("INTERNAL", describeError(error), { cause: error });
}

function sameSecret(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
