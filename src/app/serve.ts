import { randomBytes } from "node:crypto";
import type { Server } from "node:http";
import type { Dispatcher } from "undici";
import { DEFAULTS } from "../config/defaults.ts";
import { readEnvironment } from "../config/environment.ts";
import type { IdentityOptions } from "../config/identity-options.ts";
import type { RuntimeOptions, UpstreamOptions } from "../config/options.ts";
import { createAccessLog, type LogFormat } from "../lib/access-log.ts";
import { callbackAddresses, listenCallbackAddress, listenOn } from "../lib/callback-bind.ts";
import { ProxyError } from "../lib/errors.ts";
import { createHardenedHttpServer, type InboundTimeouts, inboundTimeouts } from "../lib/hardened-http-server.ts";
import { type Logger, silentLogger } from "../lib/logger.ts";
import { type RateLimit, RateLimiter } from "../proxy/rate-limit.ts";
import { StreamLimits } from "../proxy/stream-limits.ts";
import { serverNameOf } from "../server/client-config.ts";
import type { FaceAuthClient } from "../server/http-face.ts";
import { createAdminRoute } from "../server/identity/admin-route.ts";
import { createIdentityResolver, identityGate, PublicOrigin } from "../server/identity/index.ts";
import { createMetricsRoute, createProxyMetrics } from "../server/metrics.ts";
import { RequestGuard } from "../server/request-guard.ts";
import { SseKeepAlive } from "../server/sse-keep-alive.ts";
import { createUpstreamRouter, SERVERS_PREFIX } from "../server/upstream-router.ts";
import { InboundDrain } from "./inbound-drain.ts";
import { buildUpstreamFace, type ServedUpstream, type SharedFaceParts, type UpstreamFace } from "./upstream-face.ts";

/**
 * `mcp-u2m-proxy [serve] [<url>]`: the HTTP face in front of one upstream MCP server, or (with `upstreams`)
 * several on one port, each at `/servers/<name>/…`.
 * The CLI resolves flags and environment into these options; everything here is already validated input.
 */
export interface ServeOptions {
  upstream: UpstreamOptions;
  runtime: RuntimeOptions;
  /**
   * Several upstreams on one port (the config file's servers); `upstream`, `auth`, `upstreamTransport` and
   * `discoveredResource` are then ignored. Their auth cores should not open the browser themselves: `openPage`
   * opens the status page once instead, where each has its Sign in button.
   */
  upstreams?: readonly ServedUpstream[] | undefined;
  /** The command that runs this proxy on this machine (launchCommand), for the page's stdio snippets. */
  launch?: { command: string; args: string[] } | undefined;
  /** Opens the status page (several upstreams needing a sign-in at start: one tab, not one per upstream). */
  openPage?: ((url: string) => Promise<void>) | undefined;
  /** The OAuth core for the upstream, created with `callback: "external"`; undefined with a static Authorization header. */
  auth?: FaceAuthClient | undefined;
  logger?: Logger | undefined;
  /** Address to bind (--host, default 127.0.0.1). A non-loopback address requires apiKey. */
  host?: string | undefined;
  /** Port (--port); defaults to runtime.port, which the OAuth redirect URI also uses. 0 picks a free one. */
  port?: number | undefined;
  /** Inbound secret (--api-key or MCP_PROXY_API_KEY), checked on every MCP request. */
  apiKey?: string | undefined;
  /** Browser origins allowed besides loopback ones (--allow-origin); "*" allows any. */
  allowOrigins?: readonly string[] | undefined;
  /** Host header names allowed besides loopback and the bound address (--allow-host), e.g. behind a reverse proxy. */
  allowHosts?: readonly string[] | undefined;
  /** How long an MCP request waits for a sign-in under way (default 45 s). */
  signInWaitMs?: number | undefined;
  /** Request body limit (default 4 MB; 413 above). */
  maxBodyBytes?: number | undefined;
  /** How long to wait for the upstream's response headers (default 120 s; then 504 / a JSON-RPC error). */
  upstreamTimeoutMs?: number | undefined;
  /** Connections kept to the upstream for requests (default 128); long-lived streams have their own. */
  upstreamConnections?: number | undefined;
  /** Long-lived streams open at once (GET streams, `/sse`, `subscriptions/listen`; default 2000); 503 above. */
  maxStreams?: number | undefined;
  /** Long-lived streams open at once within one MCP session (default 4). */
  maxStreamsPerSession?: number | undefined;
  /** Sessions the proxy holds itself (bridged) end after this long without use (default 10 min). */
  sessionIdleMs?: number | undefined;
  /** Sessions the proxy holds itself, at most (default 1000); a new one above gets 503. */
  maxSessions?: number | undefined;
  /**
   * Inbound socket timeouts: request headers (default 20 s), whole request (60 s), idle keep-alive (65 s), and a
   * socket without traffic and without a response the client still reads (60 s). Streams are not limited.
   */
  timeouts?: Partial<InboundTimeouts> | undefined;
  /** Outbound dispatcher for the relay (default: its own pool, or an env proxy agent when HTTP(S)_PROXY is set). */
  dispatcher?: Dispatcher | undefined;
  /** The upstream's transport when known (--transport); otherwise detected once and remembered. */
  upstreamTransport?: "streamable-http" | "sse" | undefined;
  /** The upstream's MCP wire era (--protocol, config `protocol`); auto (default) probes when a client needs it. */
  protocol?: ServedUpstream["protocol"];
  /** Tools hidden from clients (--ignore-tool, config `ignoreTools`). */
  ignoreTools?: ServedUpstream["ignoreTools"];
  /** Where a probed era is remembered (the upstream's key in the store); in memory only without it. */
  eraStore?: ServedUpstream["eraStore"];
  /** Bridge clients whose transport the upstream does not speak (default true). */
  bridging?: boolean | undefined;
  /** Start a sign-in at start-up when there are no valid tokens (default true). */
  signInAtStart?: boolean | undefined;
  /**
   * Probe the upstream as an MCP endpoint at start (one warning line when it is down or not MCP; the sign-in at
   * start uses the same probe) and report its reachability and era on /healthz. The CLI's `serve` turns it on.
   */
  checkUpstream?: boolean | undefined;
  /** The upstream's protected resource metadata `resource`, for the start-up check's "did you mean". */
  discoveredResource?: (() => Promise<string | undefined>) | undefined;
  /**
   * The upstream's name in metrics labels, log lines and errors (default: from its host, as the page's snippets
   * name it). With `upstreams`, each entry's own name.
   */
  name?: string | undefined;
  /** Requests relayed to the upstream, at most (token bucket); beyond it 429 with Retry-After. With `upstreams`,
   * each entry's own `rateLimit`. */
  rateLimit?: RateLimit | undefined;
  /**
   * `--log-format`: "json" writes one access-log line per relayed request and per auth event (info level); "text"
   * (default) writes them at debug level only. The logger itself should be created with the same format.
   */
  logFormat?: LogFormat | undefined;
  /** The clock of the rate limits (tests step it instead of waiting); default Date.now. */
  now?: (() => number) | undefined;
  /** A quiet event stream gets an SSE comment after this long (--keep-alive; default 15 s); 0 turns them off. */
  keepAliveMs?: number | undefined;
  /**
   * Who is calling (`--identity`, `--admin`) and the public URL (`--public-url`). With a mode other than `none`,
   * every request but /healthz must name its user, and the auth cores should be per-user ones (perUserAuth).
   */
  identity?: IdentityOptions | undefined;
  /**
   * The status page's form (CSRF) token; replicas on a shared store pass the one derived from its page secret
   * (shared-page-token.ts) so a form loaded from one can be posted to another. Default: random per process.
   */
  formToken?: string | undefined;
  /** Where the proxy is reached (shared with per-user cores for their redirect URI); from `identity` when absent. */
  publicOrigin?: PublicOrigin | undefined;
}

export interface ServeHandle {
  /** Base URL of the face, e.g. "http://127.0.0.1:8000" (MCP endpoint: `${url}/mcp`). */
  readonly url: string;
  readonly port: number;
  /** Stops listening, ends open streams and closes upstream connections. Does not close `auth`. */
  close(): Promise<void>;
  /**
   * The graceful stop (SIGTERM): stops accepting (a request still arriving on an open connection gets 503), ends
   * the long-lived streams at an event boundary, lets requests in flight finish for up to `graceMs`, then close().
   */
  shutdown(graceMs: number): Promise<ShutdownReport>;
  /**
   * Replaces the set of upstreams (a config reload) without touching the ones that did not change: their sessions,
   * streams and sign-ins carry on. Only for a face started with `upstreams`.
   */
  reload(next: readonly ServedUpstream[]): Promise<ReloadResult>;
}

export interface ShutdownReport {
  /** Long-lived streams ended. */
  streams: number;
  /** Requests still in flight at the deadline, cut. */
  cut: number;
}

export interface ReloadResult {
  added: string[];
  removed: string[];
  changed: string[];
  /** Auth cores no longer used (of removed and changed upstreams, and the new ones of unchanged upstreams): the
   * caller closes them. */
  retired: FaceAuthClient[];
}

/**
 * Builds and starts the HTTP face. Listens first (the OAuth callback is this server's `/oauth/callback`), then,
 * without valid tokens, starts a sign-in (the core prints the URL) and serves meanwhile: MCP requests wait for
 * it, bounded, then get a JSON-RPC error naming the sign-in URL.
 * Refuses to start on a non-loopback address without an inbound API key.
 */
export async function startServe(options: ServeOptions): Promise<ServeHandle> {
  const logger = options.logger ?? silentLogger;
  const host = options.host ?? "127.0.0.1";
  const identity = options.identity;
  const guard = new RequestGuard({
    bindHost: host,
    allowOrigins: options.allowOrigins,
    allowHosts: options.allowHosts,
    apiKey: options.apiKey,
    authenticatingFront: identity?.mode.kind === "databricks-apps",
  });
  const publicOrigin = options.publicOrigin ?? new PublicOrigin(identity?.publicUrl);
  const identityResolver = identity ? createIdentityResolver(identity, guard) : undefined;
  const requestedPort = options.port ?? options.runtime.port;
  if (options.auth && requestedPort !== options.runtime.port) {
    logger.warn(
      `Serving on port ${requestedPort} but the OAuth redirect URI uses port ${options.runtime.port}; sign-ins will not come back here.`,
    );
  }

  let dispatcher = options.dispatcher;
  let ownDispatcher: Dispatcher | undefined;
  if (!dispatcher && readEnvironment().outboundProxy) {
    // Corporate proxies: honour HTTP(S)_PROXY and NO_PROXY on the hot path too (undici in full only then).
    const { EnvHttpProxyAgent } = await import("undici");
    ownDispatcher = new EnvHttpProxyAgent();
    dispatcher = ownDispatcher;
  }

  const servers: Server[] = [];
  // One registry per face (tests run several in one process), one bucket per upstream name.
  const metrics = createProxyMetrics();
  const rateLimiter = new RateLimiter({ now: options.now });
  const streamLimits = new StreamLimits({
    maxStreams: options.maxStreams,
    maxStreamsPerSession: options.maxStreamsPerSession,
  });
  const keepAlive = new SseKeepAlive({ intervalMs: options.keepAliveMs ?? DEFAULTS.sseKeepAliveMs });
  const drain = new InboundDrain();
  const shared: SharedFaceParts = {
    keepAlive,
    guard,
    logger,
    streamLimits,
    csrf: options.formToken ?? randomBytes(32).toString("base64url"),
    dispatcher,
    maxBodyBytes: options.maxBodyBytes,
    // Each person signs in in their own browser, on their own time: a request answers at once with the URL.
    signInWaitMs: options.signInWaitMs ?? (identityResolver ? 0 : undefined),
    upstreamTimeoutMs: options.upstreamTimeoutMs,
    upstreamConnections: options.upstreamConnections,
    sessionIdleMs: options.sessionIdleMs,
    maxSessions: options.maxSessions,
    bridging: options.bridging,
    checkUpstream: options.checkUpstream,
    launch: options.launch,
    metrics,
    accessLog: createAccessLog(logger, options.logFormat ?? "text"),
    rateLimiter,
    bindSessions: identityResolver !== undefined,
    publicBaseUrl: () => publicOrigin.baseUrl,
  };
  const served: readonly ServedUpstream[] = options.upstreams ?? [
    {
      name: options.name ?? serverNameOf(options.upstream.url),
      upstream: options.upstream,
      auth: options.auth,
      upstreamTransport: options.upstreamTransport,
      discoveredResource: options.discoveredResource,
      rateLimit: options.rateLimit,
      protocol: options.protocol,
      ignoreTools: options.ignoreTools,
      eraStore: options.eraStore,
    },
  ];
  for (const entry of served) rateLimiter.configure(entry.name, entry.rateLimit);
  // One upstream keeps the root routes as they always were (its message endpoint is "/message"); with several,
  // each is mounted at /servers/<name> and the paths it hands out say so.
  const many = served.length > 1;
  // Named upstreams (a config file) are mounted at /servers/<name> even when there is one, so that a reload that
  // adds a second one changes nothing for the first one's clients.
  const mountOf = (entry: ServedUpstream) =>
    options.upstreams ? `${SERVERS_PREFIX}${encodeURIComponent(entry.name)}` : "";
  const servedAs = new Map<UpstreamFace, ServedUpstream>();
  const build = (entry: ServedUpstream) => {
    const face = buildUpstreamFace(entry, shared, mountOf(entry));
    servedAs.set(face, entry);
    return face;
  };
  let faces = served.map(build);
  const rootRoutes = new Map([["/metrics", createMetricsRoute({ metrics, guard, logger })]]);
  if (identityResolver) rootRoutes.set("/admin/users", createAdminRoute({ upstreams: () => faces, guard, logger }));
  const routed = createUpstreamRouter({
    upstreams: () => faces,
    guard,
    csrf: shared.csrf,
    logger,
    launch: options.launch,
    rootRoutes,
    publicBaseUrl: () => publicOrigin.baseUrl,
  });
  const listener = identityResolver
    ? identityGate(routed, {
        resolver: identityResolver,
        publicOrigin,
        keepAuthorization: guard.requiresKey,
        logger,
      })
    : routed;
  const closeFaces = () => Promise.all(faces.map((face) => face.close()));

  const timeouts = inboundTimeouts(FACE_TIMEOUTS, options.timeouts);
  const makeServer = () => createHardenedHttpServer(drain.wrap(listener), timeouts, { noDelay: true });
  const closeServers = () =>
    Promise.all(
      servers.map(
        (server) =>
          new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeAllConnections();
          }),
      ),
    );

  const primary = makeServer();
  // "localhost" may resolve to ::1 first; bind 127.0.0.1 explicitly and add ::1 below.
  const bindHost = host === "localhost" ? "127.0.0.1" : host;
  let port: number;
  try {
    port = await listen(primary, requestedPort, bindHost);
  } catch (error) {
    await closeFaces();
    await ownDispatcher?.close().catch(() => {});
    throw error;
  }
  servers.push(primary);
  // With --port 0 the OAuth redirect URI must name the port actually bound: the auth core reads runtime.port.
  if (options.runtime.port === 0 && requestedPort === 0) options.runtime.port = port;
  // With OAuth, the face must own every address the redirect URI's host reaches ("localhost": 127.0.0.1 and ::1),
  // or another local process listening on the one left free receives the browser's code and state.
  const callbackOnly = faces.some((face) => face.auth)
    ? callbackAddresses(options.runtime.callbackHost).filter((address) => !bindCovers(bindHost, address))
    : [];
  try {
    for (const address of callbackOnly) {
      const server = makeServer();
      if (await listenCallbackAddress(server, port, address)) servers.push(server);
    }
  } catch (error) {
    await closeServers();
    await closeFaces();
    await ownDispatcher?.close().catch(() => {});
    throw error;
  }
  const baseUrl = `http://${urlHost(host)}:${port}`;
  // The page people open: the public URL once known (--public-url, or learnt from a trusted front).
  const pageUrl = () => `${publicOrigin.baseUrl ?? baseUrl}/`;
  for (const face of faces) face.relay.signInPageUrl = pageUrl();
  publicOrigin.onKnown((origin) => {
    guard.allowPublicOrigin(origin);
    for (const face of faces) face.relay.signInPageUrl = pageUrl();
  });
  logger.debug(`Serving ${faces.map((face) => face.url).join(", ")} at ${baseUrl} (page: ${baseUrl}/)`);

  // With several users nobody is there to sign in at start: each person signs in on their first use.
  const signIn = options.signInAtStart !== false && identityResolver === undefined;
  const stopWatchingSignIns =
    many && signIn && options.openPage ? openPageOnFirstSignIn(faces, options.openPage, `${baseUrl}/`) : undefined;
  for (const face of faces) void face.startChecks({ signIn });

  let closing: Promise<void> | undefined;
  const handle: ServeHandle = {
    url: baseUrl,
    port,
    reload: async (next) => {
      const result: ReloadResult = { added: [], removed: [], changed: [], retired: [] };
      const retiredFaces: UpstreamFace[] = [];
      // A changed limit applies at once, also to a face that stays; an unchanged one keeps its bucket's level.
      for (const entry of next) rateLimiter.configure(entry.name, entry.rateLimit);
      const nextFaces = next.map((entry) => {
        const current = faces.find((face) => face.name === entry.name);
        const before = current && servedAs.get(current);
        if (current && before && sameUpstream(before, entry)) {
          if (entry.auth && entry.auth !== current.auth) result.retired.push(entry.auth);
          return current;
        }
        if (current) {
          result.changed.push(entry.name);
          retiredFaces.push(current);
        } else result.added.push(entry.name);
        const face = build(entry);
        face.relay.signInPageUrl = pageUrl();
        void face.startChecks({ signIn });
        return face;
      });
      for (const face of faces) {
        if (!next.some((entry) => entry.name === face.name)) {
          result.removed.push(face.name);
          rateLimiter.remove(face.name);
          retiredFaces.push(face);
        }
      }
      faces = nextFaces; // requests from now on see the new set; requests under way finish on their face
      for (const face of retiredFaces) {
        servedAs.delete(face);
        if (face.auth) result.retired.push(face.auth);
        await face.close();
      }
      return result;
    },
    shutdown: async (graceMs) => {
      for (const server of servers) {
        server.close();
        server.closeIdleConnections();
      }
      const waiting = drain.drain(graceMs);
      const streams = keepAlive.endLongLived();
      const cut = await waiting;
      await handle.close();
      return { streams, cut };
    },
    close: () => {
      closing ??= (async () => {
        stopWatchingSignIns?.();
        keepAlive.close();
        await closeServers();
        await closeFaces();
        await ownDispatcher?.close().catch(() => {});
      })();
      return closing;
    },
  };
  return handle;
}

/**
 * One browser tab at most: with several upstreams, the first sign-in that starts opens the status page (where each
 * upstream has its Sign in button) instead of a tab per authorization server. Returns the unsubscribe.
 */
function openPageOnFirstSignIn(
  faces: readonly UpstreamFace[],
  openPage: (url: string) => Promise<void>,
  pageUrl: string,
): () => void {
  const unsubscribes: (() => void)[] = [];
  const stop = () => {
    for (const unsubscribe of unsubscribes.splice(0)) unsubscribe();
  };
  for (const face of faces) {
    const auth = face.auth;
    if (!auth) continue;
    unsubscribes.push(
      auth.onStateChange(() => {
        if (unsubscribes.length === 0 || !auth.pendingSignIn()) return;
        stop();
        void openPage(pageUrl).catch(() => {});
      }),
    );
  }
  return stop;
}

/** Whether a reloaded entry is the same upstream as before (then its face, sessions and sign-in stay). */
function sameUpstream(before: ServedUpstream, after: ServedUpstream): boolean {
  return (
    JSON.stringify([
      before.upstream,
      before.upstreamTransport ?? null,
      before.protocol ?? null,
      before.ignoreTools ?? [],
    ]) ===
    JSON.stringify([after.upstream, after.upstreamTransport ?? null, after.protocol ?? null, after.ignoreTools ?? []])
  );
}

const FACE_TIMEOUTS: InboundTimeouts = { headersMs: 20_000, requestMs: 60_000, keepAliveMs: 65_000, idleMs: 60_000 };

async function listen(server: Server, port: number, host: string): Promise<number> {
  try {
    return await listenOn(server, port, host);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EADDRINUSE") throw error;
    throw new ProxyError("CALLBACK_PORT_IN_USE", `Port ${port} on ${host} is already in use.`, {
      hint: "Stop what uses it, or pick another with --port (or OAUTH_CALLBACK_PORT).",
      cause: error,
    });
  }
}

/** Whether listening on `bindHost` already receives connections to `address` (wildcards cover their family). */
function bindCovers(bindHost: string, address: string): boolean {
  if (bindHost === address || bindHost === "::" || bindHost === "") return true;
  return bindHost === "0.0.0.0" && !address.includes(":");
}

/** The host part of the face's URL: wildcard binds are reached on loopback; IPv6 literals get brackets. */
function urlHost(host: string): string {
  if (host === "0.0.0.0" || host === "::" || host === "") return "127.0.0.1";
  return host.includes(":") ? `[${host}]` : host;
}
