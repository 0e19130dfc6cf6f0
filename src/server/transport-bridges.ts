import type { IncomingMessage, ServerResponse } from "node:http";
import type { Dispatcher } from "undici";
import type { AuthClient } from "../auth/auth-client.ts";
import { createAuthorizedFetch } from "../auth/authorized-fetch.ts";
import { DEFAULTS } from "../config/defaults.ts";
import type { ProxyError } from "../lib/errors.ts";
import { type Logger, silentLogger } from "../lib/logger.ts";
import type { EraVerdicts } from "../proxy/era/era-verdicts.ts";
import { isRequestMessage, parseJsonRpcBody } from "../proxy/json-rpc-shape.ts";
import { LegacySseServerTransport } from "../proxy/legacy-sse-server-transport.ts";
import { MessageBridge } from "../proxy/message-bridge.ts";
import { readBody } from "../proxy/read-body.ts";
import { JSON_RPC_ERROR } from "../proxy/relay-errors.ts";
import { acceptsJson, StreamableHttpSessionTransport } from "../proxy/streamable-http-session-transport.ts";
import type { ToolFilter } from "../proxy/tool-filter.ts";
import {
  UpstreamConnector,
  type UpstreamConnectorOptions,
  type UpstreamTransportKind,
} from "../proxy/upstream-connector.ts";
import { createMessagePathDispatcher } from "../proxy/upstream-pool.ts";
import { handedToBridges } from "./face-traffic.ts";
import { writeRpcError } from "./json-response.ts";
import { meteredFetch, type ObserveOperation } from "./metered-fetch.ts";
import { ModernClientCalls } from "./modern-client-calls.ts";
import { answerWithSignIn } from "./sign-in-legacy-session.ts";

/**
 * Message-level bridging for the HTTP face when a client speaks another transport than the upstream
 * (the second of its two relay paths; the first is the pass-through relay, proxy/http-relay.ts): a legacy HTTP+SSE client in front of a Streamable-HTTP-only upstream,
 * and a Streamable HTTP client in front of a legacy-SSE-only upstream. Each downstream session gets its own
 * MessageBridge to a client transport over the authorized fetch (token on every request, 401/403 handled by the
 * core). Not the hot path: the pass-through relay serves clients that speak the upstream's own transport.
 */
export interface TransportBridgesOptions {
  upstreamUrl: string;
  auth?: AuthClient | undefined;
  /** Static headers for every upstream request (--header). */
  headers?: Record<string, string> | undefined;
  logger?: Logger | undefined;
  maxBodyBytes: number;
  /** A bridged Streamable HTTP session without use (no request, no open stream) this long is closed. */
  sessionIdleMs?: number | undefined;
  /** Bridged Streamable HTTP sessions at most; a new one above gets 503. */
  maxSessions?: number | undefined;
  /** The message endpoint bridged legacy clients are told to POST to (default "/message"; with many upstreams
   * `/servers/<name>/message`). */
  legacyMessagePath?: string | undefined;
  /**
   * The upstream's MCP wire era: with it, a 2025 client's `initialize` in front of a 2026-07-28-only upstream is
   * answered by the era bridge (the proxy then owns the client's session: its id, GET stream and DELETE).
   */
  eras?: EraVerdicts | undefined;
  /** How long an upstream request waits for a sign-in under way (default: the authorized fetch's). */
  signInWaitMs?: number | undefined;
  /** Reuse of 2026-07-28 cacheable results on the bridged Streamable HTTP wire (see UpstreamConnector). */
  cache?: UpstreamConnectorOptions["cache"];
  /**
   * The outbound dispatcher to use (the face's env proxy agent): not closed here. Without it the bridges get a
   * keep-alive pool of their own for this upstream, closed with them.
   */
  dispatcher?: Dispatcher | undefined;
  /** Hears every upstream request the bridges make, timed (the face's operation histogram). */
  observeOperation?: ObserveOperation | undefined;
  /** Tools hidden from clients (--ignore-tool): out of `tools/list` results, their calls refused (tool-filter.ts). */
  tools?: ToolFilter | undefined;
}

export const DEFAULT_SESSION_IDLE_MS = DEFAULTS.sessionIdleMs;
export const DEFAULT_MAX_SESSIONS = DEFAULTS.maxSessions;

export class TransportBridges {
  private readonly logger: Logger;
  private readonly toStreamable: UpstreamConnector;
  private readonly toLegacy: UpstreamConnector;
  /** The 2025 wire of the upstream as 2026-07-28 clients' bridge opens it (transport detected, no era bridge). */
  private readonly toSessions: UpstreamConnector;
  /** The upstream's wire detected on the first message, era bridge included (legacy clients while it is unknown). */
  private readonly toDetected: UpstreamConnector;
  private modernCalls: ModernClientCalls | undefined;
  private readonly legacyClients = new Map<string, LegacySseServerTransport>();
  private readonly httpClients = new Map<string, StreamableHttpSessionTransport>();
  private readonly bridges = new Set<MessageBridge>();
  private readonly sessionIdleMs: number;
  private readonly maxSessions: number;
  /** Checks for idle sessions while there are any (a housekeeping timer: nothing waits on it). */
  private sweeper: NodeJS.Timeout | undefined;
  /** This upstream's message-path connections when the bridges own them. */
  private readonly ownDispatcher: Dispatcher | undefined;

  constructor(private readonly options: TransportBridgesOptions) {
    this.logger = options.logger ?? silentLogger;
    this.sessionIdleMs = options.sessionIdleMs ?? DEFAULT_SESSION_IDLE_MS;
    this.maxSessions = options.maxSessions ?? DEFAULT_MAX_SESSIONS;
    this.ownDispatcher = options.dispatcher ? undefined : createMessagePathDispatcher();
    const authorized = createAuthorizedFetch(options.auth, {
      headers: options.headers ?? {},
      dispatcher: options.dispatcher ?? this.ownDispatcher,
      ...(options.signInWaitMs !== undefined ? { signInWaitMs: options.signInWaitMs } : {}),
    });
    const fetch = options.observeOperation
      ? meteredFetch(authorized, options.observeOperation, options.upstreamUrl)
      : authorized;
    this.toStreamable = new UpstreamConnector({
      url: options.upstreamUrl,
      fetch,
      logger: this.logger,
      hint: "streamable-http",
      eras: options.eras,
      cache: options.cache,
    });
    this.toLegacy = new UpstreamConnector({ url: options.upstreamUrl, fetch, logger: this.logger, hint: "sse" });
    this.toSessions = new UpstreamConnector({ url: options.upstreamUrl, fetch, logger: this.logger });
    this.toDetected = new UpstreamConnector({
      url: options.upstreamUrl,
      fetch,
      logger: this.logger,
      eras: options.eras,
      cache: options.cache,
    });
  }

  /**
   * `GET /sse` from a legacy client while the upstream speaks Streamable HTTP (or, when the proxy hides tools, any
   * wire: `toward` "sse", or undefined to detect it). Returns the session id it got.
   */
  async openLegacyClient(
    _req: IncomingMessage,
    res: ServerResponse,
    toward: UpstreamTransportKind | "detect" = "streamable-http",
  ): Promise<string> {
    const downstream = new LegacySseServerTransport(res, this.options.legacyMessagePath ?? "/message");
    this.legacyClients.set(downstream.sessionId, downstream);
    const connector = toward === "sse" ? this.toLegacy : toward === "detect" ? this.toDetected : this.toStreamable;
    const bridge = this.bridge(downstream, connector);
    void bridge.closed.then(() => this.legacyClients.delete(downstream.sessionId));
    await bridge.start();
    return downstream.sessionId;
  }

  /**
   * `GET /sse` from a legacy client whose user must sign in first: a session the proxy answers itself with `error`
   * (sign-in-legacy-session.ts), its POSTs taken by {@link postLegacyMessage}. Returns its session id.
   */
  async openSignInClient(res: ServerResponse, error: ProxyError): Promise<string> {
    const downstream = new LegacySseServerTransport(res, this.options.legacyMessagePath ?? "/message");
    this.legacyClients.set(downstream.sessionId, downstream);
    downstream.onclose = () => this.legacyClients.delete(downstream.sessionId);
    answerWithSignIn(downstream, error, this.options.upstreamUrl);
    await downstream.start();
    return downstream.sessionId;
  }

  /** `POST /message?sessionId=…` of a bridged legacy client: 202 once handed over, as the legacy transport does. */
  async postLegacyMessage(req: IncomingMessage, res: ServerResponse, query: string): Promise<void> {
    const downstream = this.legacyClients.get(new URLSearchParams(query).get("sessionId") ?? "");
    if (!downstream) return writeRpcError(res, 404, "Unknown legacy SSE session: open the event stream at /sse first.");
    const read = await readBody(req, this.options.maxBodyBytes);
    if (!read.ok) {
      if (read.reason === "too-large")
        writeRpcError(res, 413, "The request body is too large.", ["connection", "close"]);
      return;
    }
    const problem = downstream.receive(read.body);
    if (problem) return writeRpcError(res, 400, problem);
    handedToBridges(res);
    res.writeHead(202, { "content-type": "text/plain" }).end("Accepted");
  }

  /**
   * `/mcp` from a 2025 Streamable HTTP client whose session the proxy holds itself: in front of an upstream that
   * speaks only legacy SSE (`toward` "sse"), or only the 2026-07-28 stateless wire (`toward` "streamable-http":
   * the era bridge answers `initialize` from `server/discover`). Sessions are created on `initialize`, serve their
   * GET stream here, end with DELETE or when idle, and each is bridged to its own upstream connection.
   */
  async handleStreamableClient(
    req: IncomingMessage,
    res: ServerResponse,
    body?: Buffer,
    toward: UpstreamTransportKind = "sse",
  ): Promise<void> {
    const sessionId = req.headers["mcp-session-id"];
    const method = req.method ?? "GET";
    if (method === "POST") {
      let payload = body;
      if (payload === undefined) {
        const read = await readBody(req, this.options.maxBodyBytes);
        if (!read.ok) {
          if (read.reason === "too-large")
            writeRpcError(res, 413, "The request body is too large.", ["connection", "close"]);
          return;
        }
        payload = read.body;
      }
      const messages = parseJsonRpcBody(payload);
      if (typeof messages === "string") return writeRpcError(res, 400, messages, [], -32700);
      let session = typeof sessionId === "string" ? this.httpClients.get(sessionId) : undefined;
      if (!session) {
        if (typeof sessionId === "string") return writeRpcError(res, 404, "Session not found.");
        if (!messages.some((message) => isRequestMessage(message) && message.method === "initialize")) {
          return writeRpcError(res, 400, "Bad Request: no session; send initialize first.");
        }
        if (this.httpClients.size >= this.maxSessions) await this.closeIdleSessions(0);
        if (this.httpClients.size >= this.maxSessions) {
          this.logger.warn("refused a new bridged session at the limit", { limit: this.maxSessions });
          return writeRpcError(
            res,
            503,
            `The proxy already holds its limit of ${this.maxSessions} bridged sessions. End unused sessions (DELETE) or raise --max-sessions, then try again.`,
            ["retry-after", "5"],
            JSON_RPC_ERROR.PROXY_BUSY,
          );
        }
        session = new StreamableHttpSessionTransport();
        const opened = session;
        this.httpClients.set(opened.sessionId, opened);
        const bridge = this.bridge(opened, toward === "sse" ? this.toLegacy : this.toStreamable);
        void bridge.closed.then(() => this.httpClients.delete(opened.sessionId));
        this.startSweeper();
        await bridge.start();
      }
      session.touch();
      handedToBridges(res);
      session.handlePost(res, messages, acceptsJson(req.headers.accept));
      return;
    }
    const session = typeof sessionId === "string" ? this.httpClients.get(sessionId) : undefined;
    if (!session) {
      return writeRpcError(res, typeof sessionId === "string" ? 404 : 400, "Session not found.");
    }
    session.touch();
    handedToBridges(res);
    if (method === "GET") return session.handleGet(res);
    // DELETE ends the session and its upstream connection.
    await session.close();
    res.writeHead(200).end();
  }

  /**
   * `/mcp` from a 2026-07-28 client while the upstream speaks only the 2025 session wire: each stateless request
   * is answered from an upstream session the proxy holds per caller (modern-client-calls.ts).
   */
  handleModernClient(req: IncomingMessage, res: ServerResponse, body?: Buffer): Promise<void> {
    this.modernCalls ??= new ModernClientCalls({
      openLegacy: () => this.toSessions.createTransport(),
      upstreamName: this.options.upstreamUrl,
      logger: this.logger,
      maxBodyBytes: this.options.maxBodyBytes,
      idleMs: this.sessionIdleMs,
      maxCallers: this.maxSessions,
      tools: this.options.tools,
    });
    handedToBridges(res);
    return this.modernCalls.handle(req, res, body);
  }

  /** Whether `sessionId` is one of the sessions the proxy holds itself (bridged). */
  holdsSession(sessionId: string): boolean {
    return this.httpClients.has(sessionId);
  }

  /** Bridged Streamable HTTP sessions held now. */
  get sessionCount(): number {
    return this.httpClients.size + (this.modernCalls?.size ?? 0);
  }

  /** Closes every bridged session. */
  async close(): Promise<void> {
    this.stopSweeper();
    await Promise.all([...[...this.bridges].map((bridge) => bridge.close()), this.modernCalls?.close()]);
    await this.ownDispatcher?.destroy().catch(() => {});
  }

  /**
   * Ends the bridged sessions nobody used for `idleMs` (no request, no open stream): clients that never sent
   * DELETE would otherwise keep their upstream connection and memory forever.
   */
  async closeIdleSessions(idleMs = this.sessionIdleMs): Promise<number> {
    const now = Date.now();
    const idle = [...this.httpClients.values()].filter((session) => session.idleSince(now) >= idleMs);
    if (idle.length > 0) this.logger.debug(`closing ${idle.length} idle bridged session(s)`);
    await Promise.all(idle.map((session) => session.close()));
    if (this.httpClients.size === 0) this.stopSweeper();
    return idle.length;
  }

  private startSweeper(): void {
    if (this.sweeper) return;
    const every = Math.max(50, Math.min(this.sessionIdleMs / 2, 60_000));
    this.sweeper = setInterval(() => void this.closeIdleSessions(), every);
    this.sweeper.unref();
  }

  private stopSweeper(): void {
    clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  private bridge(
    downstream: LegacySseServerTransport | StreamableHttpSessionTransport,
    connector: UpstreamConnector,
  ): MessageBridge {
    const bridge = new MessageBridge(downstream, connector.createTransport(), {
      upstreamName: this.options.upstreamUrl,
      logger: this.logger,
      reconnect: () => connector.createTransport(),
      // A legacy SSE client reads events in bursts: keep a response from overtaking the progress before it.
      progressBarrier: downstream instanceof LegacySseServerTransport,
      tools: this.options.tools,
    });
    this.bridges.add(bridge);
    void bridge.closed.then(() => this.bridges.delete(bridge));
    this.logger.debug(
      `bridging a ${downstream instanceof LegacySseServerTransport ? "legacy SSE" : "Streamable HTTP"} client to ${this.options.upstreamUrl}`,
    );
    return bridge;
  }
}
