import type {
  JSONRPCMessage,
  MessageExtraInfo,
  SSEClientTransport,
  Transport,
  TransportSendOptions,
} from "@modelcontextprotocol/client";
import type { FetchLike } from "../auth/authorized-fetch.ts";
import { loadSdk } from "../auth/sdk.ts";
import { isProxyError, type ProxyError } from "../lib/errors.ts";
import { type Logger, silentLogger } from "../lib/logger.ts";
import { connectionClosed, mcpServer, noMcpTransport } from "../lib/messages.ts";
import type { EraVerdicts } from "./era/era-verdicts.ts";
import { LegacyClientBridge } from "./era/legacy-client-bridge.ts";
import type { ModernClientBridge } from "./era/modern-client-bridge.ts";
import { isModernClientMessage, routeModernClient } from "./era/modern-client-route.ts";
import { LeanHttpClientTransport } from "./lean-http-client-transport.ts";
import { LEGACY_STATUSES, MODERN_ERROR_CODES } from "./legacy-initialize-refusal.ts";
import type { UpstreamCache } from "./result-cache.ts";
import { jsonRpcErrorBody, upstreamJsonRpcError } from "./upstream-error.ts";
import { type HttpStatusError, isHttpStatusError } from "./upstream-http-error.ts";

/** The two upstream wires the proxy can speak as a client. */
export type UpstreamTransportKind = "streamable-http" | "sse";

export interface UpstreamConnectorOptions {
  /** The upstream MCP endpoint. */
  url: string | URL;
  /** The fetch every upstream request goes through: the authorized fetch (token on every request, 401/403 handled). */
  fetch: FetchLike;
  logger?: Logger;
  /** The wire, when already known (an earlier detection, or the user said so): skips the probe. */
  hint?: UpstreamTransportKind | undefined;
  /**
   * The upstream's MCP wire era. With it, a 2025 client's `initialize` that a 2026-07-28-only server refuses (or a
   * server already known to be modern-only) is answered through the era bridge instead (era/legacy-client-bridge.ts).
   */
  eras?: EraVerdicts | undefined;
  /**
   * Reuse of 2026-07-28 cacheable results (`ttlMs`/`cacheScope`) on the Streamable HTTP wire, and who asks: the
   * upstream and the grant whose token goes with these requests (`private` results stay with that grant).
   */
  cache?: UpstreamCache | undefined;
  /**
   * Large answers passed through unchanged are written to the client as they arrive (streamed-response.ts). Only
   * for the stdio face, whose transport writes such answers; never on paths that bridge or rewrite results.
   */
  streamLargeResponses?: boolean;
}

/**
 * A client-side SDK `Transport` to the upstream whose wire is decided by its first message (see
 * {@link UpstreamConnector}). `start()` does no I/O, so a bridge can start before the user has signed in.
 */
export interface UpstreamTransport extends Transport {
  /** The wire this transport speaks, once known. */
  readonly kind: UpstreamTransportKind | undefined;
  /** Ends the upstream session with DELETE when the wire has sessions (Streamable HTTP); a no-op otherwise. */
  terminateSession(): Promise<void>;
}

/**
 * Opens client transports to one upstream MCP server and detects its wire once.
 *
 * Detection (T25 §Backwards Compatibility, "Legacy detection" in the checklist A.3): the first message is POSTed as
 * Streamable HTTP; if that POST is refused with 400, 404 or 405 and the body is not a modern (2026-07-28) JSON-RPC
 * error, the legacy HTTP+SSE transport (T24) is tried: GET the URL, expect an `endpoint` event, and send the message
 * there. A ProxyError from the authorized fetch (sign-in needed, scope refused) is never a transport signal. The
 * result is remembered on the connector, so later transports (re-initialisation after a lost session) skip the probe.
 */
export class UpstreamConnector {
  readonly url: URL;
  private readonly fetch: FetchLike;
  private readonly logger: Logger;
  private detected: UpstreamTransportKind | undefined;
  private fallbackNoted = false;
  readonly eras: EraVerdicts | undefined;
  private readonly cache: UpstreamConnectorOptions["cache"];
  private readonly streamLargeResponses: boolean;

  constructor(options: UpstreamConnectorOptions) {
    this.url = new URL(options.url);
    this.fetch = options.fetch;
    this.logger = options.logger ?? silentLogger;
    this.detected = options.hint;
    this.eras = options.eras;
    this.cache = options.cache;
    this.streamLargeResponses = options.streamLargeResponses === true;
  }

  /** @internal A 2025 client's bridge to this 2026-07-28-only upstream. */
  openEraBridge(discover?: Record<string, unknown>): LegacyClientBridge {
    return new LegacyClientBridge({
      url: this.url,
      fetch: this.fetch,
      upstreamName: this.url.href,
      logger: this.logger,
      verdicts: this.eras,
      discover,
      cache: this.cache,
    });
  }

  /** The upstream wire, once a first message has gone through (or from the hint). */
  get kind(): UpstreamTransportKind | undefined {
    return this.detected;
  }

  /** A new, unstarted transport to the upstream. */
  createTransport(): UpstreamTransport {
    return new DetectingTransport(this, this.eras, this.streamLargeResponses);
  }

  /** @internal A first POST was refused the legacy way: said once per connector, at debug (it is routine). */
  noteFallback(status: number): void {
    if (this.fallbackNoted) return;
    this.fallbackNoted = true;
    this.logger.debug("upstream refused a Streamable HTTP POST; trying the legacy SSE transport", { status });
  }

  /** @internal Records the detected wire. */
  remember(kind: UpstreamTransportKind): void {
    if (this.detected !== kind) this.logger.debug(`upstream ${this.url.href} speaks ${kind}`);
    this.detected = kind;
  }

  /**
   * @internal A Streamable HTTP client transport over the authorized fetch: the lean one (no per-message schema
   * validation or stream pipelines; lean-http-client-transport.ts). The GET stream carries server notifications for
   * the whole session, so it is retried a while.
   */
  openStreamableHttp(streamLargeResponses = false): LeanHttpClientTransport {
    return new LeanHttpClientTransport(
      this.url,
      this.fetch,
      { initialDelayMs: 1_000, maxDelayMs: 30_000, growFactor: 1.5, maxRetries: 5 },
      this.cache,
      { streamLargeResponses },
    );
  }

  /**
   * @internal A started legacy SSE client transport. Its EventSource hides why a GET failed and keeps
   * reconnecting after a fetch rejection, so the fetch is wrapped to keep the ProxyError, and the transport is
   * closed when start fails.
   */
  async openSse(): Promise<SSEClientTransport> {
    let authError: ProxyError | undefined;
    const fetch: FetchLike = async (input, init) => {
      try {
        return await this.fetch(input, init);
      } catch (error) {
        if (isProxyError(error)) authError = error;
        throw error;
      }
    };
    // Loaded only for a legacy HTTP+SSE upstream: the SDK is the largest thing the proxy loads (upstream-http-error.ts).
    const { SSEClientTransport: LegacySseTransport } = await loadSdk();
    const transport = new LegacySseTransport(this.url, { fetch });
    try {
      await transport.start();
      return transport;
    } catch (error) {
      transport.onclose = undefined;
      await transport.close().catch(() => {});
      throw authError ?? error;
    }
  }

  /** @internal */
  get log(): Logger {
    return this.logger;
  }
}

/**
 * Whether a failed first POST of request `method` says the endpoint may be a legacy HTTP+SSE server.
 *
 * `initialize` follows the spec's probe (and the HTTP face's, so both faces decide alike): 400/404/405 unless the
 * body is a 2026-07-28 JSON-RPC error. Any other first request (an auto-negotiating client's `server/discover`)
 * answered with a JSON-RPC error body was answered by a server speaking JSON-RPC over POST, i.e. Streamable HTTP
 * (a 2025 server's "Server not initialized"): that answer is the client's, not a transport signal.
 */
export function isLegacyTransportSignal(error: unknown, method = "initialize"): boolean {
  if (!isHttpStatusError(error) || !LEGACY_STATUSES.has(error.status)) return false;
  const text = (error.data as { text?: unknown }).text;
  if (typeof text !== "string" || text.length === 0) return true;
  const rpcError = jsonRpcErrorBody(text);
  if (!rpcError) return true;
  return method === "initialize" && !MODERN_ERROR_CODES.has(rpcError.code);
}

class DetectingTransport implements UpstreamTransport {
  onclose?: (() => void) | undefined;
  onerror?: ((error: Error) => void) | undefined;
  onmessage?: (<T extends JSONRPCMessage>(message: T, extra?: MessageExtraInfo) => void) | undefined;

  private inner: Transport | undefined;
  private innerKind: UpstreamTransportKind | undefined;
  /** Settles when the first message has decided the wire; later sends queue behind it, in order. */
  private opening: Promise<void> | undefined;
  private protocolVersion: string | undefined;
  /** Holds back upstream messages while a 2026-07-28 client's first request checks a remembered era verdict. */
  private screen: ((message: JSONRPCMessage) => boolean) | undefined;
  private closed = false;

  /** Without verdicts the transport only detects the wire (the 2025 session of a bridge, which has its era). */
  constructor(
    private readonly connector: UpstreamConnector,
    private readonly eras: EraVerdicts | undefined,
    /** Pass large answers on as they arrive: only where messages reach the client unchanged (the stdio face). */
    private readonly streamLargeResponses = false,
  ) {}

  get kind(): UpstreamTransportKind | undefined {
    return this.innerKind;
  }

  get sessionId(): string | undefined {
    return this.inner?.sessionId;
  }

  async start(): Promise<void> {}

  send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    if (this.inner) return this.inner.send(message, options);
    if (this.closed) return Promise.reject(connectionClosed(mcpServer(this.connector.url.href)));
    if (this.opening) return this.opening.then(() => this.send(message, options));
    const eraOpen =
      this.eras !== undefined &&
      "method" in message &&
      (message.method === "initialize" || isModernClientMessage(message));
    if (this.connector.kind === "streamable-http" && !eraOpen) {
      // Known wire and no era to find out: nothing to probe, so nothing to queue behind.
      const http = this.connector.openStreamableHttp(this.streamLargeResponses);
      this.wire(http);
      this.adopt(http, "streamable-http");
      return http.start().then(() => http.send(message, options));
    }
    const opening = this.open(message, options);
    // Queued sends go out once the wire is known, whether or not this first message got through.
    this.opening = opening.then(
      () => {
        this.opening = undefined;
      },
      () => {
        this.opening = undefined;
      },
    );
    return opening;
  }

  setProtocolVersion(version: string): void {
    this.protocolVersion = version;
    this.inner?.setProtocolVersion?.(version);
  }

  async terminateSession(): Promise<void> {
    if (this.inner instanceof LeanHttpClientTransport && this.inner.sessionId) {
      await this.inner.terminateSession();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const inner = this.inner;
    if (inner) {
      inner.onclose = undefined;
      await inner.close().catch(() => {});
    }
    this.onclose?.();
  }

  private async open(first: JSONRPCMessage, options: TransportSendOptions | undefined): Promise<void> {
    const eras = this.eras;
    if (eras && isModernClientMessage(first)) {
      // A 2026-07-28 client: bridged when the upstream speaks only the 2025 wire, else passed through.
      return routeModernClient(
        {
          eras,
          upstreamName: this.connector.url.href,
          logger: this.connector.log,
          // The bridge's 2025 session finds its own wire: Streamable HTTP, or the legacy HTTP+SSE transport.
          openLegacy: () => new DetectingTransport(this.connector, undefined),
          passThrough: async (screen) => {
            this.screen = screen;
            try {
              await this.openStreamable(first, options);
            } finally {
              this.screen = undefined;
            }
          },
          dropPassThrough: () => this.dropInner(),
          deliver: (message) => this.onmessage?.(message),
          adoptBridge: (bridge) => this.adoptBridge(bridge),
          dropBridge: (bridge) => this.dropInner(bridge),
        },
        first,
        options,
      );
    }
    if (this.connector.kind === "sse") return this.openSse(first);
    return this.openStreamable(first, options);
  }

  private async openStreamable(first: JSONRPCMessage, options: TransportSendOptions | undefined): Promise<void> {
    const initialize = "method" in first && first.method === "initialize";
    const known = initialize ? await this.eras?.peekStored() : undefined;
    if (known?.era === "modern") return this.openEraBridge(first);

    const http = this.connector.openStreamableHttp(this.streamLargeResponses);
    this.wire(http);
    await http.start();
    try {
      await http.send(first, options);
    } catch (error) {
      const fallback =
        this.connector.kind === undefined &&
        "method" in first &&
        "id" in first &&
        isLegacyTransportSignal(error, first.method);
      this.unwire(http);
      await http.close().catch(() => {});
      if (!fallback && initialize && this.eras && isHttpStatusError(error)) {
        // A refused `initialize` may come from a 2026-07-28-only server: only its server/discover proves it.
        const verdict = await this.eras.get().catch(() => undefined);
        if (verdict?.era === "modern") return this.openEraBridge(first, verdict.discover);
      }
      if (!fallback) throw error;
      this.connector.noteFallback((error as HttpStatusError).status);
      try {
        return await this.openSse(first);
      } catch (sseError) {
        if (isProxyError(sseError)) throw sseError;
        // The server's own JSON-RPC answer to the POST is the truest thing to pass on; else quote both answers.
        if (upstreamJsonRpcError(error)) throw error;
        throw noMcpTransport(mcpServer(this.connector.url.href), describe(error), describe(sseError));
      }
    }
    this.adopt(http, "streamable-http");
  }

  private async openEraBridge(first: JSONRPCMessage, discover?: Record<string, unknown>): Promise<void> {
    this.connector.log.debug(`upstream ${this.connector.url.href} speaks only 2026-07-28; bridging this 2025 client`);
    const bridge = this.connector.openEraBridge(discover);
    this.wire(bridge);
    if (this.closed) {
      this.unwire(bridge);
      throw connectionClosed(mcpServer(this.connector.url.href));
    }
    this.inner = bridge;
    this.innerKind = "streamable-http";
    await bridge.send(first);
  }

  private adoptBridge(bridge: ModernClientBridge): void {
    if (this.closed) throw connectionClosed(mcpServer(this.connector.url.href));
    this.wire(bridge);
    this.inner = bridge;
    this.innerKind = "streamable-http";
  }

  /** Lets go of the transport adopted for the first message (it was the wrong route). */
  private async dropInner(transport: Transport | undefined = this.inner): Promise<void> {
    if (!transport) return;
    this.unwire(transport);
    if (this.inner === transport) this.inner = undefined;
    await transport.close().catch(() => {});
  }

  private async openSse(first: JSONRPCMessage): Promise<void> {
    const sse = await this.connector.openSse();
    if (this.closed) {
      await sse.close().catch(() => {});
      throw connectionClosed(mcpServer(this.connector.url.href));
    }
    this.wire(sse);
    this.adopt(sse, "sse");
    await sse.send(first);
  }

  private adopt(transport: Transport, kind: UpstreamTransportKind): void {
    if (this.closed) {
      // Closed while the first message was on its way: nothing may keep a connection open now.
      this.unwire(transport);
      void transport.close().catch(() => {});
      return;
    }
    this.inner = transport;
    this.innerKind = kind;
    this.connector.remember(kind);
    if (this.protocolVersion) transport.setProtocolVersion?.(this.protocolVersion);
  }

  private wire(transport: Transport): void {
    transport.onmessage = (message, extra) => {
      if (this.screen?.(message)) return;
      this.onmessage?.(message, extra);
    };
    transport.onerror = (error) => this.onerror?.(error);
    transport.onclose = () => {
      if (this.inner === transport) void this.close();
    };
  }

  private unwire(transport: Transport): void {
    transport.onmessage = undefined;
    transport.onerror = undefined;
    transport.onclose = undefined;
  }
}

function describe(error: unknown): string {
  if (isHttpStatusError(error)) return `HTTP ${error.status}`;
  return error instanceof Error ? error.message : String(error);
}
