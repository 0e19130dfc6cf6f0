import type { IncomingMessage, ServerResponse } from "node:http";
import type { Dispatcher } from "undici";
import type { AuthClient } from "../auth/auth-client.ts";
import { type SignInWaitBudget, waitForSignIn } from "../auth/sign-in-wait.ts";
import { answerChallenge } from "../auth/upstream-call-policy.ts";
import { DEFAULTS } from "../config/defaults.ts";
import { ProxyError } from "../lib/errors.ts";
import { type Logger, silentLogger } from "../lib/logger.ts";
import { rememberHeaderSecrets } from "../lib/redact.ts";
import { ClientGone } from "./client-gone.ts";
import { filterRequestHeaders } from "./header-filter.ts";
import { isInitializeBody, isLegacyRefusal, LEGACY_STATUSES } from "./legacy-initialize-refusal.ts";
import { DEFAULT_MAX_BODY_BYTES, readBody } from "./read-body.ts";
import { RelayCache, type TapFor } from "./relay-cache.ts";
import { networkErrorFor, signInErrorFor } from "./relay-call-errors.ts";
import {
  type DownstreamContext,
  endBrokenStream,
  openDownstream,
  writeHeldAnswer,
  writeJsonAnswer,
} from "./relay-downstream.ts";
import { requestIdsOf, upstreamStatusError, writeErrorResponse } from "./relay-errors.ts";
import {
  headerString,
  isChallenge,
  isEventStream,
  lowerKeys,
  operationFor,
  removeHeader,
  sessionIdOf,
} from "./relay-headers.ts";
import { relayDispatchers } from "./relay-pools.ts";
import type { RelayOutcome, RelayTarget } from "./relay-target.ts";
import { filterHeldToolLists, screenToolRequests, TOOL_LIST_HOLD_LIMIT } from "./relay-tool-filter.ts";
import type { UpstreamCache } from "./result-cache.ts";
import type { ToolFilter } from "./tool-filter.ts";
import { exchange } from "./upstream-exchange.ts";
import { declaresUrlElicitation, UrlElicitationSessions } from "./url-elicitation.ts";

export type { RelayKind, RelayOutcome, RelayTarget } from "./relay-target.ts";

/**
 * The pass-through relay of the HTTP face (the first of its two relay paths; the other is the message bridge of
 * server/transport-bridges.ts): one downstream HTTP
 * request becomes one upstream HTTP request with the upstream token injected, and the response streams back as
 * it arrives. No JSON is parsed on the way through, except a 2026-07-28 cacheable request's and its answer
 * (relay-cache.ts); bodies are otherwise read only on error paths.
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
  /** The upstream's result cache: 2026-07-28 cacheable requests are answered from it and fill it (relay-cache.ts). */
  cache?: UpstreamCache | undefined;
  /** Tools hidden from clients (--ignore-tool): MCP POSTs are then read (relay-tool-filter.ts). */
  tools?: ToolFilter | undefined;
}

const DEFAULT_SIGN_IN_WAIT_MS = DEFAULTS.signInWaitMs;
const DEFAULT_UPSTREAM_TIMEOUT_MS = DEFAULTS.upstreamTimeoutMs;
const ERROR_SNIPPET_BYTES = 2048;

export class HttpRelay {
  /** The upstream MCP endpoint. */
  readonly upstream: URL;
  readonly maxBodyBytes: number;
  private readonly auth: AuthClient | undefined;
  private readonly logger: Logger;
  /** What the downstream writer needs of this relay (relay-downstream.ts). */
  private readonly downstream: DownstreamContext;
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
  private readonly cache: RelayCache | undefined;
  private readonly tools: ToolFilter | undefined;

  constructor(options: HttpRelayOptions) {
    this.upstream = new URL(options.upstreamUrl);
    this.origin = this.upstream.origin;
    this.basePath = this.upstream.pathname + this.upstream.search;
    this.auth = options.auth;
    this.logger = options.logger ?? silentLogger;
    this.downstream = { upstream: this.upstream, origin: this.origin, logger: this.logger };
    this.maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    this.signInWaitMs = options.signInWaitMs ?? DEFAULT_SIGN_IN_WAIT_MS;
    this.upstreamTimeoutMs = options.upstreamTimeoutMs ?? DEFAULT_UPSTREAM_TIMEOUT_MS;
    this.signInPageUrl = options.signInPageUrl;
    this.cache = options.cache ? new RelayCache(options.cache) : undefined;
    this.tools = options.tools;
    this.drop = new Set([...(options.dropRequestHeaders ?? [])].map((name) => name.toLowerCase()));
    this.staticHeaders = [];
    rememberHeaderSecrets(options.headers);
    for (const [name, value] of Object.entries(options.headers ?? {})) {
      this.drop.add(name.toLowerCase());
      this.staticHeaders.push(name, value);
    }
    this.staticAuthorization = this.drop.has("authorization") && "authorization" in lowerKeys(options.headers);
    const dispatchers = relayDispatchers(this.origin, options);
    this.dispatcher = dispatchers.requests;
    this.streamDispatcher = dispatchers.streams;
    this.ownsDispatcher = dispatchers.owned;
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
    const tools = this.tools;
    const screen = tools && target.kind === "mcp" && method === "POST" ? screenToolRequests(tools, body) : undefined;
    if (screen?.kind === "refuse") {
      writeJsonAnswer(res, screen.answer);
      return "relayed";
    }
    const toolLists = screen?.kind === "filter-lists" ? screen.ids : undefined;
    if (toolLists) {
      // Held and read before it goes on: uncompressed.
      removeHeader(headers, "accept-encoding");
      headers.push("accept-encoding", "identity");
    } else if (tools && method === "GET") {
      // A resumed stream replays earlier answers as they were sent, tool lists included: resuming is off.
      removeHeader(headers, "last-event-id");
    }
    // Only a 2026-07-28 request names its method in a header: everything else passes without a look.
    const cache = this.cache && target.kind === "mcp" && method === "POST" ? this.cache : undefined;
    const mcpMethod = cache ? req.headers["mcp-method"] : undefined;
    const cacheable = mcpMethod ? cache?.requestOf(req.headers, body) : undefined;
    let tap: TapFor | undefined;
    if (cache && cacheable) {
      // Answered from the cache only for a caller who could have asked upstream: one with a token now.
      const begun = cache.begin(cacheable, await this.hasCredentials());
      if ("answer" in begun) {
        // A cached list that cannot be filtered is not served: the request goes upstream instead.
        const answer =
          tools && toolLists
            ? filterHeldToolLists(tools, Buffer.from(begun.answer), undefined, toolLists)?.toString("utf8")
            : begun.answer;
        if (answer !== undefined) {
          writeJsonAnswer(res, answer);
          return "relayed";
        }
      } else tap = begun.tap;
    } else if (cache && mcpMethod === "subscriptions/listen") {
      tap = cache.listenTap;
    }
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
          if (toolLists && status < 300) return "hold";
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
          return openDownstream(res, status, responseHeaders, target, streamedSse, this.downstream);
        },
        onStreamError: (error) =>
          endBrokenStream(res, error, streamedSse && target.kind === "mcp", body, this.downstream),
        tap,
        ...(toolLists ? { holdLimit: TOOL_LIST_HOLD_LIMIT } : {}),
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

      const { status, headers: heldHeaders } = result;
      let heldBody = result.body;
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
      if (tools && toolLists && status < 300) {
        const filtered = filterHeldToolLists(tools, heldBody, headerString(heldHeaders["content-type"]), toolLists);
        if (!filtered) {
          return fail(
            new ProxyError(
              "UPSTREAM_ERROR",
              `The upstream ${this.upstream.href} answered tools/list with something the proxy could not read, so it could not leave out the tools it hides.`,
              { hint: "Try again; if it persists, the upstream's answer is malformed or larger than 16 MiB." },
            ),
          );
        }
        heldBody = filtered;
      }
      // A held answer that needs nothing after all (a probe that was not refused): pass it on as it is.
      writeHeldAnswer(res, status, heldHeaders, heldBody);
      return "relayed";
    }
  }

  /** Whether the proxy hides some of the upstream's tools: then only paths that read MCP messages may reach it. */
  get hidesTools(): boolean {
    return this.tools !== undefined;
  }

  /** The patterns of the tools hidden from clients (none: empty), for the status page. */
  get hiddenToolPatterns(): readonly string[] {
    return this.tools?.patterns ?? [];
  }

  /** Whether a request now would go upstream with credentials (a token, or the static Authorization header). */
  private async hasCredentials(): Promise<boolean> {
    if (!this.auth || this.staticAuthorization) return true;
    return (await this.auth.getAccessToken().catch(() => undefined)) !== undefined;
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
    return signInErrorFor(error, {
      upstream: this.upstream.href,
      signInUrl: this.auth?.pendingSignIn()?.url,
      signInPageUrl: this.signInPageUrl,
    });
  }

  /** An undici failure (before or during the response) as the catalogue words it for the MCP server. */
  networkError(error: unknown, during: "request" | "response" = "request"): ProxyError {
    return networkErrorFor(this.upstream.href, error, during);
  }

  /** Closes the upstream connections (if the pool is ours). */
  async close(): Promise<void> {
    if (!this.ownsDispatcher) return;
    await Promise.all([this.dispatcher.destroy().catch(() => {}), this.streamDispatcher.destroy().catch(() => {})]);
  }
}
