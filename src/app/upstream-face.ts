import type { Dispatcher } from "undici";
import { createAuthorizedFetch } from "../auth/authorized-fetch.ts";
import type { UpstreamOptions } from "../config/options.ts";
import { type AccessLog, noAccessLog } from "../lib/access-log.ts";
import type { Logger } from "../lib/logger.ts";
import { EraVerdicts, type ProtocolChoice } from "../proxy/era/era-verdicts.ts";
import { HttpRelay } from "../proxy/http-relay.ts";
import type { RateLimit, RateLimiter } from "../proxy/rate-limit.ts";
import { clearOnSignInChange, ResultCache } from "../proxy/result-cache.ts";
import type { StreamLimits } from "../proxy/stream-limits.ts";
import { toolFilterOf } from "../proxy/tool-filter.ts";
import { UpstreamHealth } from "../proxy/upstream-health.ts";
import { FaceTraffic } from "../server/face-traffic.ts";
import { createRequestListener, type FaceAuthClient } from "../server/http-face.ts";
import { currentCaller } from "../server/identity/caller.ts";
import { SessionBinding } from "../server/identity/session-binding.ts";
import { noMetrics, type ProxyMetrics } from "../server/metrics.ts";
import { API_KEY_HEADER, type RequestGuard } from "../server/request-guard.ts";
import type { SseKeepAlive } from "../server/sse-keep-alive.ts";
import type { TransportBridges } from "../server/transport-bridges.ts";
import type { RoutedUpstream } from "../server/upstream-router.ts";
import type { TokenStore } from "../store/token-store.ts";
import { countingChallenges, watchAuthTelemetry } from "./auth-telemetry.ts";
import { checkUpstreamAtStart, signInAtStart } from "./sign-in-at-start.ts";

/** One upstream the face serves: its name (a path segment), its options and its OAuth core. */
export interface ServedUpstream {
  /** `/servers/<name>/…`; a safe path segment. */
  name: string;
  upstream: UpstreamOptions;
  /** The OAuth core, created with `callback: "external"`; undefined with a static Authorization header. */
  auth?: FaceAuthClient | undefined;
  /** The upstream's transport when known (config `type`, --transport); otherwise detected once and remembered. */
  upstreamTransport?: "streamable-http" | "sse" | undefined;
  /** The upstream's protected resource metadata `resource`, for the start-up check's "did you mean". */
  discoveredResource?: (() => Promise<string | undefined>) | undefined;
  /** Requests relayed to this upstream, at most (config `rateLimit`); beyond it 429 with Retry-After. */
  rateLimit?: RateLimit | undefined;
  /** The upstream's MCP wire era (`--protocol`, config `protocol`); auto (default) probes when a client needs it. */
  protocol?: ProtocolChoice | undefined;
  /** Tools hidden from clients (--ignore-tool, config `ignoreTools`): names or `*` patterns (tool-filter.ts). */
  ignoreTools?: readonly string[] | undefined;
  /** Where the probed era is remembered (the upstream's key in the store); in memory only without it. */
  eraStore?: { store: TokenStore; key: string } | undefined;
}

/** What every upstream's face shares: one port, one guard, one stream budget, one outbound dispatcher. */
export interface SharedFaceParts {
  guard: RequestGuard;
  logger: Logger;
  streamLimits: StreamLimits;
  csrf: string;
  dispatcher?: Dispatcher | undefined;
  maxBodyBytes?: number | undefined;
  signInWaitMs?: number | undefined;
  upstreamTimeoutMs?: number | undefined;
  upstreamConnections?: number | undefined;
  sessionIdleMs?: number | undefined;
  maxSessions?: number | undefined;
  bridging?: boolean | undefined;
  checkUpstream?: boolean | undefined;
  /** The command that runs this proxy here, for the page's stdio snippets. */
  launch?: { command: string; args: string[] } | undefined;
  /** The face's metrics (labelled by upstream name); none when undefined. */
  metrics?: ProxyMetrics | undefined;
  accessLog?: AccessLog | undefined;
  /** The rate limits, keyed by upstream name (the caller configures each upstream's). */
  rateLimiter?: RateLimiter | undefined;
  /** Keep-alive comments on every event stream served, and the list of open streams for the shutdown. */
  keepAlive?: SseKeepAlive | undefined;
  /** Several users (`--identity`): each face binds its sessions to the user who created them. */
  bindSessions?: boolean | undefined;
  /** The proxy's public base URL once known (`--public-url`, or learnt from a trusted front): the page's snippets. */
  publicBaseUrl?: (() => string | undefined) | undefined;
}

export interface UpstreamFace extends RoutedUpstream {
  readonly relay: HttpRelay;
  /** The start-up probe (and sign-in when there are no tokens), in the background. */
  startChecks(options: { signIn: boolean }): Promise<void>;
  close(): Promise<void>;
}

/**
 * The face of one upstream: its relay (connection pools), its transport bridges (created on first need), its
 * health probe and its request listener, mounted at `basePath` ("" when it is the only upstream).
 */
export function buildUpstreamFace(served: ServedUpstream, shared: SharedFaceParts, basePath: string): UpstreamFace {
  const { logger, auth } = { logger: shared.logger, auth: served.auth };
  const upstream = served.upstream;
  const metrics = shared.metrics?.forUpstream(served.name) ?? noMetrics;
  const accessLog = shared.accessLog ?? noAccessLog;
  // The relays hand challenges to the core through this view of it, which counts them.
  const relayAuth = auth && countingChallenges(auth, metrics);
  const stopTelemetry = auth && watchAuthTelemetry(auth, served.name, metrics, accessLog);
  const limiter = shared.rateLimiter;
  // One result cache per upstream, for the pass-through relay and the bridges alike; hits and misses on /metrics.
  // The grant: the face's one sign-in for this upstream, or behind --identity the caller's own (a `private` result
  // is never served to another user; a request with no known caller is not cached).
  const cache = {
    results: new ResultCache({ onLookup: (_upstream, method, hit) => metrics.resultCacheLookup(method, hit) }),
    upstream: upstream.url,
    grant: shared.bindSessions ? () => currentCaller()?.principal : () => served.name,
  };
  const unsubscribeCache = auth && clearOnSignInChange(auth, cache.results, upstream.url);
  const tools = toolFilterOf(served.ignoreTools);
  if (tools)
    logger.info("hiding tools from clients", { upstream: upstream.url, patterns: served.ignoreTools?.join(" ") });
  const relay = new HttpRelay({
    upstreamUrl: upstream.url,
    auth: relayAuth,
    headers: upstream.headers,
    logger,
    maxBodyBytes: shared.maxBodyBytes,
    signInWaitMs: shared.signInWaitMs,
    upstreamTimeoutMs: shared.upstreamTimeoutMs,
    connections: shared.upstreamConnections,
    streamConnections: shared.streamLimits.maxStreams,
    dispatcher: shared.dispatcher,
    dropRequestHeaders: [API_KEY_HEADER],
    cache,
    tools,
  });
  // The upstream's era, per upstream: a stored verdict is read at once (the routing decides without waiting), a
  // probe runs only when a 2025 client's initialize is refused.
  const eras =
    shared.bridging === false
      ? undefined
      : new EraVerdicts({
          url: new URL(upstream.url),
          fetch: createAuthorizedFetch(relayAuth, {
            headers: upstream.headers,
            ...(shared.signInWaitMs !== undefined ? { signInWaitMs: shared.signInWaitMs } : {}),
          }),
          store: served.eraStore,
          choice: served.protocol ?? "auto",
          logger,
        });
  void eras?.peekStored();
  // Bridging loads the SDK (tens of MB, ~0.3 s): only when a client first needs it, never for the pass-through.
  let bridging: Promise<TransportBridges> | undefined;
  const bridges =
    shared.bridging === false
      ? undefined
      : () => {
          bridging ??= import("../server/transport-bridges.ts").then(({ TransportBridges }) => {
            const created = new TransportBridges({
              upstreamUrl: upstream.url,
              auth: relayAuth,
              headers: upstream.headers,
              logger,
              maxBodyBytes: relay.maxBodyBytes,
              sessionIdleMs: shared.sessionIdleMs,
              maxSessions: shared.maxSessions,
              legacyMessagePath: `${basePath}/message`,
              eras,
              signInWaitMs: shared.signInWaitMs,
              dispatcher: shared.dispatcher,
              observeOperation: (method, seconds, errorType) => metrics.observeOperation(method, seconds, errorType),
              cache,
              tools,
            });
            metrics.countSessions(() => created.sessionCount);
            return created;
          });
          return bridging;
        };
  const health = shared.checkUpstream
    ? new UpstreamHealth({
        url: upstream.url,
        headers: upstream.headers,
        token: auth ? () => auth.getAccessToken() : undefined,
      })
    : undefined;
  // A sign-in (or sign-out) changes what the probe sees: the next /healthz probes again.
  const unsubscribeHealth = health && auth?.onStateChange(() => health.invalidate());
  const listener = createRequestListener({
    upstreamUrl: upstream.url,
    auth,
    relay,
    guard: shared.guard,
    logger,
    bridges,
    eras,
    upstreamTransport: served.upstreamTransport,
    streamLimits: shared.streamLimits,
    health,
    basePath,
    csrf: shared.csrf,
    launch: shared.launch,
    publicBaseUrl: shared.publicBaseUrl,
    keepAlive: shared.keepAlive,
    sessionBinding: shared.bindSessions ? new SessionBinding() : undefined,
    traffic: new FaceTraffic({
      upstream: served.name,
      metrics,
      accessLog,
      // Asked on every request: a reload may set or change the limit without rebuilding this face.
      rateLimit: limiter ? () => limiter.take(served.name) : undefined,
    }),
  });

  return {
    name: served.name,
    url: upstream.url,
    listener,
    auth,
    health,
    relay,
    startChecks: async ({ signIn }) => {
      // Without tokens, a probe's 401 starts the sign-in (single-flight with the sign-ins that early requests' 401s
      // start: one browser tab). With the check on, that probe also warns when the upstream is down or not MCP.
      if (health) {
        await checkUpstreamAtStart({
          url: upstream.url,
          headers: upstream.headers,
          health,
          logger,
          auth,
          signIn,
          resource: served.discoveredResource,
        });
      } else if (auth && signIn) {
        await signInAtStart(auth, upstream, logger);
      }
    },
    close: async () => {
      unsubscribeHealth?.();
      unsubscribeCache?.();
      stopTelemetry?.();
      metrics.close();
      await (await bridging)?.close();
      await relay.close();
    },
  };
}
