import type { RequestListener } from "node:http";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { AuthStatus } from "../auth/auth-client.ts";
import { describeError } from "../lib/errors.ts";
import { type Logger, silentLogger } from "../lib/logger.ts";
import { writeJsonError } from "./json-response.ts";
import type { RequestGuard } from "./request-guard.ts";

/**
 * Prometheus metrics of the HTTP face (`GET /metrics`), named after the OpenTelemetry MCP semantic conventions as
 * Prometheus renders them (`mcp.client.operation.duration` → `mcp_client_operation_duration_seconds`; the proxy is
 * the MCP client of its upstreams) plus proxy-specific series. Every series is labelled by upstream (the server's
 * name, set by the operator) and never by user, token or session: label values a client sends (`Mcp-Method`) are
 * kept only when they are MCP method names, so a client cannot grow the series without bound.
 *
 * @see https://opentelemetry.io/docs/specs/semconv/gen-ai/mcp (metrics, `mcp.method.name`, `error.type`)
 */

/** What the relay, the face and the auth wiring record for one upstream. */
export interface UpstreamMetrics {
  readonly upstream: string;
  /** One MCP operation relayed to the upstream ended; `errorType` undefined on success. */
  observeOperation(method: string | undefined, seconds: number, errorType?: string): void;
  /** A request to the upstream is under way; call the result once its response closed. */
  requestStarted(): () => void;
  /** A long-lived stream is open; call the result once it closed. */
  streamOpened(): () => void;
  /** The upstream answered 401, or 403 with `insufficient_scope`. */
  authChallenge(status: number): void;
  /** A token refresh ended (`success`, `reused`, `invalid_grant`, …). */
  tokenRefresh(outcome: string): void;
  /** A request was refused by the upstream's rate limit. */
  rateLimited(): void;
  /** A cacheable 2026-07-28 request was answered from the result cache (`hit`) or had to go upstream. */
  resultCacheLookup(method: string, hit: boolean): void;
  /** Adds a count of open sessions (summed at scrape time). Returns the removal. */
  countSessions(source: () => number): () => void;
  /** Reports this auth core's pending sign-in and token expiry at scrape time. Returns the removal. */
  watchAuth(auth: WatchedAuth): () => void;
  /** Removes this handle's session counts and auth watches (its face is closed). */
  close(): void;
}

/** The part of the OAuth core the gauges read when scraped. */
export interface WatchedAuth {
  pendingSignIn(): unknown;
  status(): Promise<AuthStatus>;
}

export interface ProxyMetrics {
  /** The recording handle for one upstream (one per face; several may share a name during a reload). */
  forUpstream(upstream: string): UpstreamMetrics;
  /** The Prometheus text exposition of this face's series and the process's default metrics. */
  render(): Promise<{ contentType: string; body: string }>;
}

/** Buckets the OpenTelemetry MCP conventions recommend for operation durations (seconds). */
const DURATION_BUCKETS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300];

/** MCP method names (2025-11-25 and 2026-07-28): the only `mcp_method_name` values; anything else is "other". */
const MCP_METHODS = new Set([
  "initialize",
  "ping",
  "server/discover",
  "subscriptions/listen",
  "tools/list",
  "tools/call",
  "resources/list",
  "resources/templates/list",
  "resources/read",
  "resources/subscribe",
  "resources/unsubscribe",
  "prompts/list",
  "prompts/get",
  "completion/complete",
  "logging/setLevel",
  "sampling/createMessage",
  "elicitation/create",
  "roots/list",
  "tasks/get",
  "tasks/result",
  "tasks/list",
  "tasks/cancel",
  "notifications/initialized",
  "notifications/cancelled",
  "notifications/progress",
  "notifications/message",
  "notifications/roots/list_changed",
  "notifications/elicitation/complete",
  "notifications/subscriptions/acknowledged",
  "notifications/tasks/status",
  "notifications/resources/updated",
  "notifications/resources/list_changed",
  "notifications/tools/list_changed",
  "notifications/prompts/list_changed",
]);

/** The `mcp_method_name` value for a method a client named (header or message): known names, else "other". */
export function methodLabel(method: string | undefined): string {
  if (method === undefined || method === "") return "";
  return MCP_METHODS.has(method) ? method : "other";
}

/**
 * Metrics of one HTTP face in a registry of its own (several faces in one process, as in tests, do not collide).
 * The process's default metrics (CPU, memory, event loop, GC) live in one registry per process: their collectors
 * (a GC observer, an event-loop histogram) cannot be stopped, so one set serves every face.
 */
export function createProxyMetrics(): ProxyMetrics {
  const register = new Registry();
  const registers = [register];
  const operations = new Histogram({
    name: "mcp_client_operation_duration_seconds",
    help: "Duration of MCP operations the proxy relayed to an upstream, until the response ended.",
    labelNames: ["upstream", "mcp_method_name", "error_type"] as const,
    buckets: DURATION_BUCKETS,
    registers,
  });
  const refreshes = new Counter({
    name: "mcp_proxy_token_refresh_total",
    help: "Token refreshes by outcome (success, reused: another caller had refreshed already, or why it failed).",
    labelNames: ["upstream", "outcome"] as const,
    registers,
  });
  const challenges = new Counter({
    name: "mcp_proxy_upstream_auth_challenges_total",
    help: "Upstream answers that asked for authorization: 401, or 403 with insufficient_scope.",
    labelNames: ["upstream", "status"] as const,
    registers,
  });
  const limited = new Counter({
    name: "mcp_proxy_rate_limited_requests_total",
    help: "Requests refused with 429 because the upstream's rate limit was reached.",
    labelNames: ["upstream"] as const,
    registers,
  });
  const cacheHits = new Counter({
    name: "mcp_proxy_result_cache_hits_total",
    help: "Cacheable requests (2026-07-28 ttlMs/cacheScope) answered from the proxy's result cache.",
    labelNames: ["upstream", "mcp_method_name"] as const,
    registers,
  });
  const cacheMisses = new Counter({
    name: "mcp_proxy_result_cache_misses_total",
    help: "Cacheable requests (2026-07-28 ttlMs/cacheScope) the result cache could not answer: sent upstream.",
    labelNames: ["upstream", "mcp_method_name"] as const,
    registers,
  });
  const inFlight = new Gauge({
    name: "mcp_proxy_requests_in_flight",
    help: "Requests to the upstream under way (long-lived streams not included).",
    labelNames: ["upstream"] as const,
    registers,
  });
  const streams = new Gauge({
    name: "mcp_proxy_open_streams",
    help: "Long-lived streams open (session GET streams, legacy /sse, subscriptions/listen).",
    labelNames: ["upstream"] as const,
    registers,
  });

  const sessionSources = new Map<string, Set<() => number>>();
  const auths = new Map<string, Set<WatchedAuth>>();
  new Gauge({
    name: "mcp_proxy_open_sessions",
    help: "Sessions the proxy holds for an upstream (legacy SSE sessions it relays, and bridged sessions).",
    labelNames: ["upstream"] as const,
    registers,
    collect() {
      this.reset();
      for (const [upstream, sources] of sessionSources) {
        let total = 0;
        for (const source of sources) total += safeCount(source);
        this.set({ upstream }, total);
      }
    },
  });
  new Gauge({
    name: "mcp_proxy_signin_pending",
    help: "1 while a sign-in to the upstream waits for the user, else 0.",
    labelNames: ["upstream"] as const,
    registers,
    collect() {
      this.reset();
      for (const [upstream, watched] of auths) {
        const pending = [...watched].some((auth) => auth.pendingSignIn() !== undefined);
        this.set({ upstream }, pending ? 1 : 0);
      }
    },
  });
  new Gauge({
    name: "mcp_proxy_token_expiry_seconds",
    help: "Seconds until the upstream's bearer token (the access token, or the ID token with useIdToken) expires (negative once expired); absent when not signed in.",
    labelNames: ["upstream"] as const,
    registers,
    async collect() {
      this.reset();
      for (const [upstream, watched] of auths) {
        const statuses = await Promise.all([...watched].map((auth) => auth.status().catch(() => undefined)));
        const seconds = statuses
          .filter((status) => status?.signedIn === true)
          .map((status) => expiresInSeconds(status))
          .filter((value): value is number => value !== undefined);
        if (seconds.length > 0) this.set({ upstream }, Math.max(...seconds));
      }
    },
  });

  const addTo = <T>(map: Map<string, Set<T>>, upstream: string, item: T): (() => void) => {
    let set = map.get(upstream);
    if (!set) {
      set = new Set();
      map.set(upstream, set);
    }
    set.add(item);
    return () => {
      const current = map.get(upstream);
      current?.delete(item);
      if (current?.size === 0) map.delete(upstream);
    };
  };

  return {
    forUpstream(upstream) {
      const removals = new Set<() => void>();
      const tracked = (remove: () => void) => {
        removals.add(remove);
        return () => {
          removals.delete(remove);
          remove();
        };
      };
      const gaugeHold = (gauge: Gauge<"upstream">) => () => {
        gauge.inc({ upstream });
        let done = false;
        return () => {
          if (done) return;
          done = true;
          gauge.dec({ upstream });
        };
      };
      return {
        upstream,
        observeOperation(method, seconds, errorType) {
          const labels: Record<string, string> = { upstream, mcp_method_name: methodLabel(method) };
          if (errorType) labels.error_type = errorType;
          operations.observe(labels, seconds);
        },
        requestStarted: gaugeHold(inFlight),
        streamOpened: gaugeHold(streams),
        authChallenge: (status) => challenges.inc({ upstream, status: String(status) }),
        tokenRefresh: (outcome) => refreshes.inc({ upstream, outcome }),
        rateLimited: () => limited.inc({ upstream }),
        resultCacheLookup: (method, hit) =>
          (hit ? cacheHits : cacheMisses).inc({ upstream, mcp_method_name: methodLabel(method) }),
        countSessions: (source) => tracked(addTo(sessionSources, upstream, source)),
        watchAuth: (auth) => tracked(addTo(auths, upstream, auth)),
        close() {
          for (const remove of [...removals]) remove();
          removals.clear();
        },
      };
    },
    async render() {
      const [own, ofProcess] = await Promise.all([register.metrics(), processRegistry().metrics()]);
      return { contentType: register.contentType, body: `${own}\n${ofProcess}` };
    },
  };
}

/** A handle that records nothing (a face built without metrics). */
export const noMetrics: UpstreamMetrics = {
  upstream: "",
  observeOperation: () => {},
  requestStarted: () => () => {},
  streamOpened: () => () => {},
  authChallenge: () => {},
  tokenRefresh: () => {},
  rateLimited: () => {},
  resultCacheLookup: () => {},
  countSessions: () => () => {},
  watchAuth: () => () => {},
  close: () => {},
};

let processMetrics: Registry | undefined;
function processRegistry(): Registry {
  if (!processMetrics) {
    processMetrics = new Registry();
    collectDefaultMetrics({ register: processMetrics });
  }
  return processMetrics;
}

/**
 * `GET /metrics`: guarded like the MCP routes (Host and Origin checks; the inbound API key when one is set, as
 * `Authorization: Bearer`, Basic with the key as password, or `X-API-Key`). A missing key gets 401 with a Basic
 * challenge: a scraper or browser is asking, not an MCP client that would start OAuth discovery.
 */
export function createMetricsRoute(options: {
  metrics: ProxyMetrics;
  guard: RequestGuard;
  logger?: Logger | undefined;
}): RequestListener {
  const { metrics, guard } = options;
  const logger = options.logger ?? silentLogger;
  return (req, res) => {
    if (!guard.isHostAllowed(req.headers.host) || !guard.isOriginAllowed(req.headers.origin)) {
      return writeJsonError(res, 403, "Invalid Host or Origin header.");
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      return writeJsonError(res, 405, "Method not allowed.", ["allow", "GET, HEAD"]);
    }
    if (guard.requiresKey && !guard.hasValidKey(req.headers)) {
      return writeJsonError(
        res,
        401,
        "This proxy requires its API key: send Authorization: Bearer <key> or X-API-Key: <key>.",
        ["www-authenticate", 'Basic realm="mcp-u2m-proxy", charset="UTF-8"'],
      );
    }
    metrics.render().then(
      ({ contentType, body }) => {
        res.writeHead(200, {
          "content-type": contentType,
          "content-length": Buffer.byteLength(body),
          "cache-control": "no-store",
          "x-content-type-options": "nosniff",
        });
        res.end(req.method === "HEAD" ? undefined : body);
      },
      (error: unknown) => {
        logger.error("metrics could not be collected", { error: describeError(error) });
        if (!res.headersSent) writeJsonError(res, 500, "The proxy failed to collect its metrics.");
      },
    );
  };
}

/** From the core's own clock when it says; else from the expiry time. */
function expiresInSeconds(status: AuthStatus | undefined): number | undefined {
  if (status?.expiresInSeconds !== undefined) return status.expiresInSeconds;
  return status?.expiresAt ? Math.round((Date.parse(status.expiresAt) - Date.now()) / 1000) : undefined;
}

function safeCount(source: () => number): number {
  try {
    const value = source();
    return Number.isFinite(value) ? value : 0;
  } catch {
    return 0;
  }
}
