import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import type { Transform, Writable } from "node:stream";
import type { Dispatcher } from "undici";
import type { AuthClient } from "../auth/auth-client.ts";
import { operationOf } from "../auth/authorized-fetch.ts";
import { type SignInWaitBudget, waitForSignIn } from "../auth/sign-in-wait.ts";
import { answerChallenge, isAuthChallenge } from "../auth/upstream-call-policy.ts";
import { DEFAULTS } from "../config/defaults.ts";
import { describeError, isProxyError, ProxyError } from "../lib/errors.ts";
import { type Logger, silentLogger } from "../lib/logger.ts";
import { brokeOff, mcpServer, unreachable } from "../lib/messages.ts";
import { rememberHeaderSecrets } from "../lib/redact.ts";
import { ClientGone } from "./client-gone.ts";
import { filterRequestHeaders, filterResponseHeaders, RELAYED_RESPONSE_SECURITY_HEADERS } from "./header-filter.ts";
import { DEFAULT_MAX_BODY_BYTES, readBody } from "./read-body.ts";
import {
  jsonRpcErrorOf,
  noteAnsweredError,
  requestIdsOf,
  upstreamStatusError,
  writeErrorResponse,
} from "./relay-errors.ts";
import { DEFAULT_MAX_STREAMS } from "./stream-limits.ts";
import { exchange } from "./upstream-exchange.ts";
import { createUpstreamPool } from "./upstream-pool.ts";
import { declaresUrlElicitation, UrlElicitationSessions } from "./url-elicitation.ts";

/**
 * The pass-through relay of the HTTP face (architecture.md "Two relay paths", path 1): one downstream HTTP
 * request becomes one upstream HTTP request with the upstream token injected, and the response streams back as
 * it arrives. No JSON is parsed on the way through; bodies are read only on error paths.
 *
 * @see MCP 2025-11-25 basic/transports §Streamable HTTP, 2026-07-28 SH, 2024-11-05 §HTTP with SSE
 * @see MCP 2026-07-28 basic/authorization §Token Requirements (token on every request), SEC §Token Passthrough
 */
export interface HttpRelayOptions {
  /** The upstream MCP endpoint (Streamable HTTP endpoint, or the SSE URL of a legacy server). */
  upstreamUrl: string;
  /** The OAuth core for this upstream; undefined when a static Authorization header replaces OAuth. */
  auth?: AuthClient | undefined;
  /** Static headers for every upstream request (--header). */
  headers?: Record<string, string> | undefined;
  logger?: Logger | undefined;
  /** Buffered request body limit (413 above it). */
  maxBodyBytes?: number | undefined;
  /** How long a request waits for a sign-in under way before it gets the sign-in error. */
  signInWaitMs?: number | undefined;
  /** How long to wait for the upstream's response headers (then 504). Bodies (streams) have no timeout. */
  upstreamTimeoutMs?: number | undefined;
  /** Connections kept to the upstream origin for requests. */
  connections?: number | undefined;
  /**
   * Most connections for long-lived streams (GET streams, `/sse`, `subscriptions/listen`), which get a pool of
   * their own so that idle streams never hold the connections requests need.
   */
  streamConnections?: number | undefined;
  /** An undici dispatcher to use instead of the relay's own Pool (e.g. an EnvHttpProxyAgent). Not closed by us. */
  dispatcher?: Dispatcher | undefined;
  /** Extra request header names (any case) never forwarded, e.g. the inbound API-key header. */
  dropRequestHeaders?: Iterable<string> | undefined;
  /** Where people can start a sign-in on this proxy (its `/` page), named in sign-in errors. */
  signInPageUrl?: string | undefined;
}

/** What the downstream request is, which decides the upstream path and how errors are shaped. */
export type RelayKind =
  /** Streamable HTTP `/mcp`: JSON-RPC errors for requests (HTTP 200 + id), status for the rest. */
  | "mcp"
  /** Legacy `POST /message`: errors by HTTP status (legacy clients read nothing else). */
  | "legacy-message"
  /** Legacy `GET /sse`: the endpoint event is rewritten. */
  | "legacy-sse"
  /** `ANY /{path}` on the upstream origin: upstream statuses pass through; proxy errors are 502/503/504. */
  | "generic";

export interface RelayTarget {
  kind: RelayKind;
  /** Path and query on the upstream origin. */
  path: string;
  /** Response transform (legacy endpoint rewrite); called once the response is known to be a 2xx SSE stream. */
  transform?: (() => Transform) | undefined;
  /** Request headers (flat) that replace any the client sent under the same names. */
  setHeaders?: string[] | undefined;
  /**
   * Only a 2xx `text/event-stream` answer is wanted (legacy `GET /sse`): anything else is discarded unseen and
   * relay() resolves "not-sse", leaving the response to the caller (e.g. to bridge to Streamable HTTP).
   */
  requireSse?: boolean | undefined;
  /**
   * Probing an upstream of unknown transport with a client's `initialize` POST: when the upstream refuses it the
   * way a legacy HTTP+SSE server does (400/404/405 without a 2026-07-28 JSON-RPC error, T25 §Backwards
   * Compatibility), this gets the buffered body to answer the client by bridging, and relay() resolves "bridged".
   */
  legacyFallback?: ((body: Buffer | undefined) => Promise<void>) | undefined;
  /**
   * A 2025 client's `initialize` POST whose refusal (400/404/405) may come from a 2026-07-28-only upstream: this gets
   * the buffered body first and resolves true when it answered the client (the era probe found a modern server and
   * the era bridge took over; relay() then resolves "bridged"), false to carry on (legacy fallback, or the refusal
   * passed on as it is).
   */
  eraFallback?: ((body: Buffer | undefined) => Promise<boolean>) | undefined;
  /** A long-lived stream: sent over the stream pool, not the request pool. */
  stream?: boolean | undefined;
  /**
   * A needed sign-in (nothing written yet) is answered by this instead of an HTTP error; relay() then resolves
   * "bridged". Legacy `GET /sse`: an HTTP error there reaches no JSON-RPC request, so the face serves the client a
   * session of its own whose answers carry the sign-in error (with URL elicitation when it declared it).
   */
  onSignInNeeded?: ((error: ProxyError) => Promise<void>) | undefined;
}

/** How a relay() call ended. "not-sse" leaves the response unwritten; "bridged" left it to legacyFallback. */
export type RelayOutcome = "relayed" | "answered-error" | "client-gone" | "not-sse" | "bridged";

const DEFAULT_SIGN_IN_WAIT_MS = DEFAULTS.signInWaitMs;
const DEFAULT_UPSTREAM_TIMEOUT_MS = DEFAULTS.upstreamTimeoutMs;
const DEFAULT_CONNECTIONS = DEFAULTS.upstreamConnections;
const ERROR_SNIPPET_BYTES = 2048;

export class HttpRelay {
  /** The upstream MCP endpoint. */
  readonly upstream: URL;
  readonly maxBodyBytes: number;
  private readonly auth: AuthClient | undefined;
  private readonly logger: Logger;
  private readonly dispatcher: Dispatcher;
  private readonly streamDispatcher: Dispatcher;
  private readonly ownsDispatcher: boolean;
  private readonly origin: string;
  private readonly basePath: string;
  private readonly staticHeaders: string[];
  private readonly staticAuthorization: boolean;
  private readonly drop: Set<string>;
  private readonly signInWaitMs: number;
  private readonly upstreamTimeoutMs: number;
  /** Where people can start a sign-in on this proxy; set once the face listens. */
  signInPageUrl: string | undefined;
  private lastToken: string | undefined;
  /** Sessions whose client declared URL-mode elicitation (their sign-in errors become URL elicitations). */
  private readonly urlElicitationSessions = new UrlElicitationSessions();
  private lastBearer = "";

  constructor(options: HttpRelayOptions) {
    this.upstream = new URL(options.upstreamUrl);
    this.origin = this.upstream.origin;
    this.basePath = this.upstream.pathname + this.upstream.search;
    this.auth = options.auth;
    this.logger = options.logger ?? silentLogger;
    this.maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    this.signInWaitMs = options.signInWaitMs ?? DEFAULT_SIGN_IN_WAIT_MS;
    this.upstreamTimeoutMs = options.upstreamTimeoutMs ?? DEFAULT_UPSTREAM_TIMEOUT_MS;
    this.signInPageUrl = options.signInPageUrl;
    this.drop = new Set([...(options.dropRequestHeaders ?? [])].map((name) => name.toLowerCase()));
    this.staticHeaders = [];
    rememberHeaderSecrets(options.headers);
    for (const [name, value] of Object.entries(options.headers ?? {})) {
      this.drop.add(name.toLowerCase());
      this.staticHeaders.push(name, value);
    }
    this.staticAuthorization = this.drop.has("authorization") && "authorization" in lowerKeys(options.headers);
    if (options.dispatcher) {
      this.dispatcher = options.dispatcher;
      this.streamDispatcher = options.dispatcher;
      this.ownsDispatcher = false;
    } else {
      // One pool per upstream origin: keep-alive connections, enough of them for 64+ requests in flight, and no
      // pipelining (an MCP POST may stream for minutes and would block everything queued behind it).
      // Long-lived streams get a pool of their own, so idle streams never hold the connections requests need.
      const pool = (connections: number) =>
        createUpstreamPool(this.origin, {
          connections,
          pipelining: 1,
          keepAliveTimeout: 10_000,
          keepAliveMaxTimeout: 60_000,
          connect: { timeout: 10_000 },
        });
      this.dispatcher = pool(options.connections ?? DEFAULT_CONNECTIONS);
      this.streamDispatcher = pool(options.streamConnections ?? DEFAULT_MAX_STREAMS);
      this.ownsDispatcher = true;
    }
  }

  /** The upstream MCP endpoint's path and query, with the downstream query (if any) appended. */
  mcpPath(downstreamQuery: string): string {
    if (!downstreamQuery) return this.basePath;
    return `${this.basePath}${this.upstream.search ? "&" : "?"}${downstreamQuery}`;
  }

  /**
   * Relays one downstream request to `target.path` on the upstream origin and streams the answer back.
   * Never throws: every failure becomes an answer to the client (or, once streaming, a cut stream).
   * Resolves when the response has been handed to the stream (not when the stream ends).
   */
  async relay(req: IncomingMessage, res: ServerResponse, target: RelayTarget): Promise<RelayOutcome> {
    const gone = new ClientGone();
    res.once("close", () => {
      // A client that goes away cancels the upstream request, before or during the response.
      if (!res.writableFinished) gone.fire();
    });

    const read = await readBody(req, this.maxBodyBytes);
    if (!read.ok) {
      if (read.reason === "too-large") {
        writeErrorResponse(
          res,
          new ProxyError("USAGE", `The request body is larger than the proxy's limit of ${this.maxBodyBytes} bytes.`, {
            hint: "Send a smaller message.",
          }),
          { status: 413, headers: ["connection", "close"] },
        );
        return "answered-error";
      }
      return "client-gone";
    }
    const body = read.body;
    const headers = filterRequestHeaders(req.rawHeaders, { drop: this.drop });
    if (this.staticHeaders.length > 0) headers.push(...this.staticHeaders);
    if (target.setHeaders) {
      for (let i = 0; i < target.setHeaders.length; i += 2) removeHeader(headers, target.setHeaders[i] as string);
      headers.push(...target.setHeaders);
    }
    const method = req.method ?? "GET";
    const statusOnly = target.kind === "legacy-message" || target.kind === "generic" || target.kind === "legacy-sse";
    const fail = (error: ProxyError): RelayOutcome | Promise<RelayOutcome> => {
      const onSignInNeeded = target.onSignInNeeded;
      if (onSignInNeeded && error.code.startsWith("SIGN_IN") && !res.headersSent) {
        return onSignInNeeded(error).then(() => "bridged");
      }
      const urlElicitation =
        !statusOnly && (this.urlElicitationSessions.has(sessionIdOf(req)) || declaresUrlElicitation(body));
      writeErrorResponse(res, error, { ids: statusOnly ? undefined : requestIdsOf(body), statusOnly, urlElicitation });
      return "answered-error";
    };

    // One wait budget per request, spent across every wait for a sign-in (before sending, and after a challenge).
    const wait: SignInWaitBudget = { ms: this.signInWaitMs, signal: gone };
    let waited = false;
    let replays = 0;
    let challengedOperation: string | undefined;
    for (;;) {
      let token: string | undefined;
      if (this.auth && !this.staticAuthorization) {
        try {
          token = await this.auth.getAccessToken();
        } catch (error) {
          return fail(this.signInError(error));
        }
        // Not signed in yet: wait (bounded, once) for a sign-in under way rather than provoking a 401.
        const pending = token === undefined && !waited ? this.auth.pendingSignIn() : undefined;
        if (pending) {
          waited = true;
          const result = await waitForSignIn(pending.completed, wait, pending.expiresAt);
          if (result.outcome === "aborted") return "client-gone";
          if (result.outcome === "completed") continue;
          return fail(this.signInError(result.outcome === "failed" ? result.error : undefined));
        }
      }
      if (gone.aborted) return "client-gone";

      const upstreamHeaders = token ? [...headers, "authorization", this.bearer(token)] : headers;
      const challengeable = this.auth !== undefined && !this.staticAuthorization;
      const probing =
        (target.legacyFallback !== undefined || target.eraFallback !== undefined) && isInitializeBody(body);
      let streamedSse = false;
      const result = await exchange(target.stream ? this.streamDispatcher : this.dispatcher, {
        request: {
          origin: this.origin,
          path: target.path,
          method: method as Dispatcher.HttpMethod,
          headers: upstreamHeaders,
          body: body ?? null,
          headersTimeout: this.upstreamTimeoutMs,
          // Streams (SSE) may be quiet for minutes; a client disconnect is what ends them.
          bodyTimeout: 0,
        },
        gone,
        // Hold back what the relay must act on; stream everything else straight to the client.
        decide: (status, responseHeaders) => {
          if (challengeable && isChallenge(status, responseHeaders)) return "hold";
          if (status >= 500 && target.kind !== "generic") return "hold";
          if (probing && LEGACY_STATUSES.has(status)) return "hold";
          if (target.requireSse && (status >= 300 || !isEventStream(responseHeaders))) return "hold";
          return "stream";
        },
        open: (status, responseHeaders) => {
          streamedSse = isEventStream(responseHeaders);
          const session = headerString(responseHeaders["mcp-session-id"]);
          if (session && status < 300 && declaresUrlElicitation(body)) this.urlElicitationSessions.add(session);
          return this.openDownstream(res, status, responseHeaders, target, streamedSse);
        },
        onStreamError: (error) => this.streamBroke(res, error, streamedSse && target.kind === "mcp", body),
      });

      if (result.kind === "failed") {
        if (gone.aborted) return "client-gone";
        return fail(this.networkError(result.error));
      }
      if (result.kind === "streaming") {
        // A replayed request that got through: its step-up budget starts again (only after challenges: hot path).
        if (replays > 0 && res.statusCode < 400) this.auth?.accepted?.(challengedOperation);
        if (res.statusCode === 404 && req.headers["mcp-session-id"] !== undefined) {
          // The upstream forgot the session (restart, expiry): the 404 passes through so the client
          // re-initialises (MCP 2025-11-25 transports §Session Management).
          this.logger.info("upstream session expired; the client will re-initialise", { upstream: this.upstream.href });
        }
        return "relayed";
      }

      const { status, headers: heldHeaders, body: heldBody } = result;
      if (challengeable && this.auth && isChallenge(status, heldHeaders)) {
        // The core refreshes (401) or steps up (403 insufficient_scope), and waits for a sign-in it had to start;
        // past the shared replay budget the request fails.
        challengedOperation = operationFor(req.headers, body);
        const outcome = await answerChallenge(
          this.auth,
          {
            status,
            wwwAuthenticate: headerString(heldHeaders["www-authenticate"]),
            usedToken: token,
            operation: challengedOperation,
          },
          replays++,
          wait,
        );
        if (gone.aborted) return "client-gone";
        if (outcome.action === "retry") continue;
        // (Not "code": the logger masks that key, which usually holds an authorization code.)
        this.logger.info("upstream request refused; sign-in needed or failed", {
          upstream: this.upstream.href,
          reason: outcome.error.code,
        });
        return fail(this.signInError(outcome.error));
      }
      if (status >= 500 && target.kind !== "generic") {
        this.logger.warn("upstream answered with a server error", { upstream: this.upstream.href, status });
        return fail(upstreamStatusError(this.upstream.href, status, heldBody.toString("utf8", 0, ERROR_SNIPPET_BYTES)));
      }
      if (probing && LEGACY_STATUSES.has(status) && target.eraFallback && (await target.eraFallback(body))) {
        return "bridged";
      }
      if (
        probing &&
        target.legacyFallback &&
        LEGACY_STATUSES.has(status) &&
        isLegacyRefusal(heldBody.toString("utf8"))
      ) {
        this.logger.info("the upstream refused a Streamable HTTP initialize; bridging to legacy HTTP+SSE", {
          upstream: this.upstream.href,
          status,
        });
        await target.legacyFallback?.(body);
        return "bridged";
      }
      if (target.requireSse && (status >= 300 || !isEventStream(heldHeaders))) return "not-sse";
      // A held answer that needs nothing after all (a probe that was not refused): pass it on as it is.
      const passed = filterResponseHeaders(heldHeaders);
      removeHeader(passed, "content-length");
      passed.push("content-length", String(heldBody.length), ...RELAYED_RESPONSE_SECURITY_HEADERS);
      res.writeHead(status, passed);
      res.end(heldBody);
      return "relayed";
    }
  }

  /** Writes the filtered head and returns where the body goes: the response, or the target's transform to it. */
  private openDownstream(
    res: ServerResponse,
    status: number,
    responseHeaders: IncomingHttpHeaders,
    target: RelayTarget,
    isSse: boolean,
  ): Writable {
    const transform = target.transform && status < 300 && isSse ? target.transform() : undefined;
    const headers = filterResponseHeaders(responseHeaders);
    if (transform) removeHeader(headers, "content-length");
    rewriteLocation(headers, this.origin);
    headers.push(...RELAYED_RESPONSE_SECURITY_HEADERS);
    res.writeHead(status, headers);
    // A GET stream may stay quiet for long: its head goes out now. A POST's head leaves with its first event, in
    // the same write (one syscall less per call); every event is then written as it arrives (noDelay sockets).
    if (isSse && res.req?.method === "GET") res.flushHeaders();
    if (!transform) return res;
    transform.on("error", (error) => {
      this.logger.warn("legacy SSE stream refused", { upstream: this.upstream.href, error: describeError(error) });
      res.destroy();
    });
    transform.pipe(res);
    return transform;
  }

  /**
   * The upstream broke off a response that was streaming. For an SSE answer to requests, end the stream with a
   * JSON-RPC error per request instead of a silent cut, so the client's pending calls settle with a reason (the
   * request body is parsed only now, on this error path); otherwise cut the client's response too.
   */
  private streamBroke(res: ServerResponse, error: Error, sseForRequests: boolean, body: Buffer | undefined): void {
    if (res.destroyed || res.writableEnded) return;
    this.logger.warn("upstream stream broke", { upstream: this.upstream.href, error: describeError(error) });
    noteAnsweredError(res, "NETWORK");
    const ids = sseForRequests ? requestIdsOf(body) : undefined;
    if (!ids) {
      res.destroy();
      return;
    }
    const rpcError = jsonRpcErrorOf(this.networkError(error, "response"));
    let tail = "\n\n";
    for (const id of ids) {
      tail += `event: message\ndata: ${JSON.stringify({ jsonrpc: "2.0", id, error: rpcError })}\n\n`;
    }
    res.end(tail);
  }

  private bearer(token: string): string {
    if (token !== this.lastToken) {
      this.lastToken = token;
      this.lastBearer = `Bearer ${token}`;
    }
    return this.lastBearer;
  }

  /** A sign-in error that names where to sign in: the authorization URL under way and this proxy's page. */
  private signInError(error: unknown): ProxyError {
    const signInUrl = this.auth?.pendingSignIn()?.url;
    const where: Record<string, unknown> = {};
    if (signInUrl) where.signInUrl = signInUrl;
    if (this.signInPageUrl) where.signInPage = this.signInPageUrl;
    if (isProxyError(error)) {
      const needsSignIn = error.code.startsWith("SIGN_IN") || error.code === "INVALID_GRANT";
      if (!needsSignIn || Object.keys(where).length === 0) return error;
      return new ProxyError(error.code, error.message, {
        hint: error.hint,
        cause: error.cause,
        details: { upstream: this.upstream.href, ...where, ...error.details },
      });
    }
    return new ProxyError(
      "SIGN_IN_REQUIRED",
      `Sign-in to ${this.upstream.href} is required${signInUrl ? " and not finished yet" : ""}.`,
      {
        hint: signInUrl
          ? `Open ${signInUrl} in a browser, then try again.`
          : `Open ${this.signInPageUrl ?? "the proxy's page"} and sign in, then try again.`,
        cause: error,
        details: { upstream: this.upstream.href, ...where },
      },
    );
  }

  /** An undici failure (before or during the response) as the catalogue words it for the MCP server. */
  networkError(error: unknown, during: "request" | "response" = "request"): ProxyError {
    const party = mcpServer(this.upstream.href);
    return during === "response" ? brokeOff(party, error) : unreachable(party, error);
  }

  /** Closes the upstream connections (if the pool is ours). */
  async close(): Promise<void> {
    if (!this.ownsDispatcher) return;
    await Promise.all([this.dispatcher.destroy().catch(() => {}), this.streamDispatcher.destroy().catch(() => {})]);
  }
}

function isChallenge(status: number, headers: IncomingHttpHeaders): boolean {
  return isAuthChallenge(status, headerString(headers["www-authenticate"]));
}

function isEventStream(headers: IncomingHttpHeaders): boolean {
  const type = headers["content-type"];
  return typeof type === "string" && type.startsWith("text/event-stream");
}

function sessionIdOf(req: IncomingMessage): string | undefined {
  return headerString(req.headers["mcp-session-id"]);
}

function headerString(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(", ") : value;
}

function lowerKeys(record: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(record ?? {})) out[key.toLowerCase()] = value;
  return out;
}

/** "method:name" for per-operation step-up limits: from the 2026 headers when present, else from the body. */
function operationFor(headers: IncomingHttpHeaders, body: Buffer | undefined): string | undefined {
  const method = headers["mcp-method"];
  if (typeof method === "string") {
    const name = headers["mcp-name"];
    return typeof name === "string" ? `${method}:${name}` : method;
  }
  if (!body) return undefined;
  return operationOf({ body: body.toString("utf8") });
}

/** Statuses of an `initialize` POST that may mean "a legacy HTTP+SSE endpoint" (T25 §Backwards Compatibility). */
const LEGACY_STATUSES = new Set([400, 404, 405]);
/** JSON-RPC error codes a Streamable HTTP (2026-07-28) server puts in such a refusal: then it is not legacy. */
const MODERN_ERROR_CODES = new Set([-32020, -32022, -32601, -32602, -32600]);

/** Whether a buffered POST body is an `initialize` request (parsed only when probing, on a 4xx). */
function isInitializeBody(body: Buffer | undefined): boolean {
  if (!body || body.length > 1024 * 1024) return false;
  try {
    const message = JSON.parse(body.toString("utf8")) as { method?: unknown };
    return message?.method === "initialize";
  } catch {
    return false;
  }
}

/** Whether the body of a refused `initialize` POST leaves the legacy transport possible. */
function isLegacyRefusal(text: string): boolean {
  if (!text.trim()) return true;
  try {
    const body = JSON.parse(text) as { jsonrpc?: unknown; error?: { code?: unknown } };
    return !(body.jsonrpc === "2.0" && MODERN_ERROR_CODES.has(body.error?.code as number));
  } catch {
    return true;
  }
}

function removeHeader(flat: string[], name: string): void {
  for (let i = flat.length - 2; i >= 0; i -= 2) {
    if ((flat[i] as string).toLowerCase() === name) flat.splice(i, 2);
  }
}

/** An absolute redirect to the upstream origin becomes a path on the proxy (which relays it back there). */
function rewriteLocation(flat: string[], origin: string): void {
  for (let i = 0; i + 1 < flat.length; i += 2) {
    if (flat[i] !== "location") continue;
    const value = flat[i + 1] as string;
    if (value.startsWith(`${origin}/`)) flat[i + 1] = value.slice(origin.length);
  }
}
