import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { type AccessLog, noAccessLog } from "../lib/access-log.ts";
import { type RateDecision, rateLimitedError } from "../proxy/rate-limit.ts";
import { answeredErrorOf, writeErrorResponse } from "../proxy/relay-errors.ts";
import { methodLabel, noMetrics, type UpstreamMetrics } from "./metrics.ts";

/**
 * What one upstream's face does with every request it relays, besides relaying it: the rate limit (429 with
 * `Retry-After` past it), then, once the response closed, the operation's duration in the metrics and a line in the
 * access log. Reads only what the request and response already carry (headers, status, socket counters): no body
 * is parsed for this.
 */
export interface FaceTrafficOptions {
  /** The upstream's name (labels, log lines, the rate-limit error). */
  upstream: string;
  metrics?: UpstreamMetrics | undefined;
  accessLog?: AccessLog | undefined;
  /** Takes one request from the upstream's rate limit; undefined: no limit. */
  rateLimit?: (() => RateDecision) | undefined;
}

/** Routes whose requests are MCP operations (the histogram); the others are streams or plain HTTP relays. */
const OPERATION_ROUTES = new Set(["mcp", "message"]);

/** Responses of requests handed to the bridges, which record each upstream request themselves (metered-fetch.ts). */
const bridgedResponses = new WeakSet<ServerResponse>();

/**
 * `res` answers a request the bridges took over: its upstream requests (none, one or several, in another era's
 * shape) are the operations, so the client's request is not one more.
 */
export function handedToBridges(res: ServerResponse): void {
  bridgedResponses.add(res);
}

export class FaceTraffic {
  readonly upstream: string;
  readonly metrics: UpstreamMetrics;
  private readonly log: AccessLog;
  private readonly rateLimit: (() => RateDecision) | undefined;

  constructor(options: FaceTrafficOptions) {
    this.upstream = options.upstream;
    this.metrics = options.metrics ?? noMetrics;
    this.log = options.accessLog ?? noAccessLog;
    this.rateLimit = options.rateLimit;
  }

  /**
   * Starts tracking a request to the upstream on `route`; answers 429 and returns false when the rate limit
   * refuses it (tracked too: it is a request the client made).
   */
  admit(req: IncomingMessage, res: ServerResponse, route: string, stream: boolean): boolean {
    this.track(req, res, route, stream);
    const decision = this.rateLimit?.();
    if (!decision || decision.allowed) return true;
    this.metrics.rateLimited();
    writeErrorResponse(res, rateLimitedError(this.upstream, decision), {
      statusOnly: true,
      headers: ["retry-after", String(decision.retryAfterSeconds)],
    });
    return false;
  }

  private track(req: IncomingMessage, res: ServerResponse, route: string, stream: boolean): void {
    const started = performance.now();
    const socket = req.socket;
    const writtenBefore = socket.bytesWritten;
    const release = stream ? undefined : this.metrics.requestStarted();
    const header = req.headers["mcp-method"];
    const method = typeof header === "string" ? methodLabel(header) : undefined;
    res.once("close", () => {
      release?.();
      const seconds = (performance.now() - started) / 1000;
      const status = res.headersSent ? res.statusCode : 0;
      const errorType = errorTypeOf(res, status, stream);
      if (!stream && OPERATION_ROUTES.has(route) && !bridgedResponses.has(res))
        this.metrics.observeOperation(method, seconds, errorType);
      if (!this.log.enabled) return;
      const length = Number(req.headers["content-length"]);
      this.log.request({
        requestId: requestIdOf(req),
        upstream: this.upstream,
        mcpMethod: method || undefined,
        httpMethod: req.method ?? "GET",
        route,
        status,
        durationMs: Math.round(seconds * 10_000) / 10,
        bytesIn: Number.isSafeInteger(length) && length >= 0 ? length : undefined,
        bytesOut: Math.max(0, socket.bytesWritten - writtenBefore),
        errorType,
        stream: stream || undefined,
      });
    });
  }
}

/**
 * `error_type`: the proxy's error code when the proxy answered (a 200 may carry a JSON-RPC error), else the
 * upstream's HTTP status from 400 up, else "cancelled" when the response never finished (the client left, or the
 * upstream cut it). A long-lived stream ends when its client leaves: that is no error.
 */
function errorTypeOf(res: ServerResponse, status: number, stream: boolean): string | undefined {
  const answered = answeredErrorOf(res);
  if (answered) return answered;
  if (status >= 400) return String(status);
  if (!stream && !res.writableFinished) return "cancelled";
  return undefined;
}

/** A client's (or a reverse proxy's) `X-Request-Id` when it is a plain token; else a new one. */
function requestIdOf(req: IncomingMessage): string {
  const given = req.headers["x-request-id"];
  return typeof given === "string" && /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID();
}
