/**
 * Bridge B: a 2026-07-28 client (stateless: `server/discover`, a `_meta` envelope on every request, no
 * `initialize`, no answers to server requests) in front of an upstream that speaks only the 2025 session wire.
 * Used as the message bridge's upstream transport in place of the real one (see the revision-bridging notes, §1.5).
 *
 * What it does:
 * - `server/discover` is answered locally from the upstream's `initialize` result (the proxy runs the handshake
 *   itself with the client's `_meta` capabilities and identity, {@link LegacySession}).
 * - Every other request loses the 2026 `_meta` keys the 2025 server does not know and is forwarded; a changed
 *   `logLevel` becomes a `logging/setLevel` first. Answers get `resultType: "complete"` (plus caching hints), and
 *   -32002 becomes -32602 ({@link toModernResponse}).
 * - A server-to-client request during a call (`sampling/createMessage`, `elicitation/create`, `roots/list`) turns
 *   the call's answer into `input_required`; the upstream call stays parked until the client's retry brings the
 *   `inputResponses` and the HMAC-sealed `requestState` ({@link InputRequiredStateSealer}; the rounds are kept by
 *   {@link BridgedCalls}); then the answers go to the parked upstream requests and the bridge waits for the final
 *   result (which may need another round, at most `maxInputRounds`).
 * - `subscriptions/listen` is served from `resources/subscribe` and the session's GET stream ({@link SubscriptionRelay}).
 * - Cancelling a request (its `requestSignal`) sends `notifications/cancelled` upstream; no answer follows.
 *
 * What it holds in memory, per client connection: the upstream session (its `Mcp-Session-Id` lives in the
 * transport) and the parked calls (an open upstream request waiting for the client's retry, at most
 * `requestStateTtlMs`, 5 minutes by default, then cancelled upstream). Behind a load balancer this needs affinity
 * by connection: a retry that reaches another proxy process finds neither the call nor the key that sealed its
 * state (the key is random per process unless `secret` is given), and gets a clear "call the tool again" error.
 */
import { randomUUID } from "node:crypto";
import type {
  JSONRPCMessage,
  JSONRPCNotification,
  JSONRPCRequest,
  JSONRPCResponse,
  RequestId,
  Transport,
  TransportSendOptions,
} from "@modelcontextprotocol/client";
import { describeError, ProxyError } from "../../lib/errors.ts";
import { type Logger, silentLogger } from "../../lib/logger.ts";
import { isSessionGone } from "../message-bridge.ts";
import type { JsonRpcErrorObject } from "../upstream-error.ts";
import { BridgedCalls } from "./bridged-calls.ts";
import { InputRequiredStateSealer } from "./input-required-state.ts";
import { LegacySession } from "./legacy-session.ts";
import type { SubscriptionFilter } from "./listen-stream.ts";
import { type HeaderDeclaration, scanToolHeaders } from "./mcp-request-headers.ts";
import {
  discoverResult,
  errorResponse,
  INPUT_REQUIRED_METHODS,
  type ModernEnvelope,
  REMOVED_METHODS,
  readEnvelope,
  toLegacyParams,
} from "./modern-results.ts";
import { ERA_ERROR, MODERN_PROTOCOL_VERSION } from "./protocol-versions.ts";
import { SubscriptionRelay } from "./subscription-relay.ts";

export interface ModernClientBridgeOptions {
  /** A fresh, unstarted client transport speaking the 2025 wire to the upstream (one per upstream session). */
  openLegacy: () => Transport;
  /** Names the upstream in errors and logs (its URL). */
  upstreamName: string;
  logger?: Logger;
  /** HMAC key for `requestState`; random per process by default. */
  secret?: Uint8Array;
  /** How long a parked call waits for the client's retry (default 5 minutes). */
  requestStateTtlMs?: number;
  /** Most `input_required` rounds one call may take (default 10). */
  maxInputRounds?: number;
  /** Longest wait for the proxy's own upstream requests (`initialize`, `resources/subscribe`; default 30 s). */
  ownRequestTimeoutMs?: number;
  /** The clock (ms since the epoch), for expiry. */
  now?: () => number;
}

export class ModernClientBridge implements Transport {
  onclose?: (() => void) | undefined;
  onerror?: ((error: Error) => void) | undefined;
  onmessage?: ((message: JSONRPCMessage) => void) | undefined;

  private readonly logger: Logger;
  private session: LegacySession | undefined;
  private opening: Promise<LegacySession> | undefined;
  private readonly calls: BridgedCalls;
  private closed = false;
  private readonly relay: SubscriptionRelay;
  /** Each tool's `x-mcp-header` declarations, from the proxy's own `tools/list` (again after a list change). */
  private toolHeaders: Promise<Map<string, HeaderDeclaration[]>> | undefined;

  constructor(private readonly options: ModernClientBridgeOptions) {
    this.logger = options.logger ?? silentLogger;
    this.calls = new BridgedCalls({
      connection: randomUUID(),
      upstreamName: options.upstreamName,
      logger: this.logger,
      sealer: new InputRequiredStateSealer(options.secret),
      ttlMs: options.requestStateTtlMs ?? 5 * 60_000,
      maxRounds: options.maxInputRounds ?? 10,
      now: options.now ?? Date.now,
      toClient: (message) => this.toClient(message),
    });
    this.relay = new SubscriptionRelay({
      subscribe: (uri) => this.ownRequest("resources/subscribe", { uri }).then((answer) => "result" in answer),
      unsubscribe: (uri) => this.ownRequest("resources/unsubscribe", { uri }).then(() => undefined),
      deliver: (message) => this.toClient(message),
      logger: this.logger,
    });
  }

  async start(): Promise<void> {}

  /** Takes one client message; for a request, settles once it has been answered (or cancelled). */
  async send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    if (this.closed) throw new ProxyError("NETWORK", "The proxy's bridge to the upstream is closed.");
    this.calls.expireParked();
    if (!("method" in message)) return; // a 2026-07-28 client answers nothing; nobody asked it
    if (!("id" in message)) return this.fromClientNotification(message);
    const request = message as JSONRPCRequest;
    const params = request.params as Record<string, unknown> | undefined;
    if (REMOVED_METHODS.has(request.method)) {
      return this.answer(request.id, options, {
        code: ERA_ERROR.methodNotFound,
        message: `${request.method} does not exist in protocol version ${MODERN_PROTOCOL_VERSION}.`,
      });
    }
    const envelope = readEnvelope(params);
    if (!envelope.ok) return this.answer(request.id, options, envelope.error);
    if (request.method === "server/discover") {
      const session = await this.ensureSession(envelope.envelope);
      this.toClient({ jsonrpc: "2.0", id: request.id, result: discoverResult(session.initializeResult) });
      options?.onRequestStreamEnd?.();
      return;
    }
    if (request.method === "subscriptions/listen") return this.listen(request, envelope.envelope, options);
    if (params?.requestState !== undefined && INPUT_REQUIRED_METHODS.has(request.method)) {
      return this.calls.resume(request, options);
    }
    return this.startCall(request, envelope.envelope, options, 0);
  }

  /**
   * The `x-mcp-header` declarations of tool `name`, for the HTTP face's `Mcp-Param-*` check (the 2025 upstream
   * makes none). Read from the upstream's `tools/list` once per session, and again after it announced a change.
   */
  async toolHeaderDeclarations(name: string, envelope: ModernEnvelope): Promise<readonly HeaderDeclaration[]> {
    this.toolHeaders ??= this.listToolHeaders(envelope).catch((error: unknown) => {
      this.logger.debug(`could not list the upstream's tools for their headers: ${describeError(error)}`);
      this.toolHeaders = undefined;
      return new Map<string, HeaderDeclaration[]>();
    });
    return (await this.toolHeaders).get(name) ?? [];
  }

  private async listToolHeaders(envelope: ModernEnvelope): Promise<Map<string, HeaderDeclaration[]>> {
    const session = await this.ensureSession(envelope);
    const declarations = new Map<string, HeaderDeclaration[]>();
    if (!session.capabilities.tools) return declarations;
    let cursor: string | undefined;
    for (let page = 0; page < 100; page++) {
      const answer = await session.request("tools/list", cursor ? { cursor } : {});
      if (!("result" in answer)) break;
      const result = answer.result as { tools?: unknown; nextCursor?: unknown };
      for (const tool of Array.isArray(result.tools) ? result.tools : []) {
        const { name, inputSchema } = (tool ?? {}) as { name?: unknown; inputSchema?: unknown };
        const scan = scanToolHeaders(inputSchema);
        if (typeof name === "string" && scan.valid && scan.declarations.length > 0) {
          declarations.set(name, scan.declarations);
        }
      }
      cursor = typeof result.nextCursor === "string" ? result.nextCursor : undefined;
      if (cursor === undefined) break;
    }
    return declarations;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.calls.closeAll("The client disconnected.");
    const session = this.session;
    this.session = undefined;
    await session?.close();
    this.onclose?.();
  }

  private fromClientNotification(message: JSONRPCNotification): void {
    // The message bridge turns a 2026-07-28 cancellation into `requestSignal`; this covers a transport that does not.
    if (message.method !== "notifications/cancelled") return;
    const id = (message.params as { requestId?: RequestId } | undefined)?.requestId;
    if (id === undefined) return;
    if (this.relay.has(id)) this.relay.close(id);
    else this.calls.cancelByClientId(id);
  }

  private async startCall(
    request: JSONRPCRequest,
    envelope: ModernEnvelope,
    options: TransportSendOptions | undefined,
    attempt: number,
  ): Promise<void> {
    const session = await this.ensureSession(envelope);
    await this.applyLogLevel(session, envelope.logLevel);
    const { call, answered } = this.calls.begin(request, session, envelope, options);
    const upstreamParams = toLegacyParams(request.params as Record<string, unknown> | undefined);
    const upstream: JSONRPCRequest = {
      jsonrpc: "2.0",
      id: call.upstreamId,
      method: request.method,
      ...(upstreamParams ? { params: upstreamParams } : {}),
    };
    try {
      await session.send(upstream, { onRequestStreamEnd: () => this.calls.streamEnded(call) });
    } catch (error) {
      if (!this.calls.sendFailed(call)) return; // cancelled meanwhile
      if (attempt === 0 && isSessionGone(error, session.transport)) {
        this.logger.warn(`the upstream ${this.options.upstreamName} lost the session; starting a new one`);
        this.dropSession(session);
        return this.startCall(request, envelope, options, attempt + 1);
      }
      throw error;
    }
    return answered;
  }

  private fromUpstream(session: LegacySession, message: JSONRPCMessage): void {
    if (!("method" in message)) {
      if ("id" in message) this.calls.answer(message as JSONRPCResponse);
      return;
    }
    if ("id" in message) {
      const request = message as JSONRPCRequest;
      if (request.method === "ping") {
        session.send({ jsonrpc: "2.0", id: request.id, result: {} } as JSONRPCMessage).catch(() => {});
      } else {
        this.calls.serverRequest(session, request);
      }
      return;
    }
    const notification = message as JSONRPCNotification;
    if (notification.method === "notifications/progress") {
      this.toClient(notification);
      return;
    }
    if (notification.method === "notifications/message") {
      // Unattributed on the 2025 wire: passed on only while a call that asked for logs runs (CHG 5).
      if (this.calls.anyWantsLogs()) this.toClient(notification);
      return;
    }
    if (notification.method === "notifications/cancelled") {
      const id = (notification.params as { requestId?: RequestId } | undefined)?.requestId;
      if (id !== undefined) this.calls.serverRequestCancelled(id);
      return;
    }
    if (notification.method === "notifications/tools/list_changed") this.toolHeaders = undefined;
    if (!this.relay.deliver(notification)) this.logger.debug(`dropped ${notification.method}: nobody listens for it`);
  }

  private async listen(
    request: JSONRPCRequest,
    envelope: ModernEnvelope,
    options: TransportSendOptions | undefined,
  ): Promise<void> {
    const session = await this.ensureSession(envelope);
    const filter = ((request.params as { notifications?: unknown } | undefined)?.notifications ??
      {}) as SubscriptionFilter;
    await this.relay.open(request.id, filter, session.capabilities);
    const signal = options?.requestSignal;
    if (signal?.aborted) this.relay.close(request.id);
    else signal?.addEventListener("abort", () => this.relay.close(request.id), { once: true });
  }

  private async applyLogLevel(session: LegacySession, level: string | undefined): Promise<void> {
    if (level === undefined || level === session.logLevel || !session.capabilities.logging) return;
    session.logLevel = level;
    const answer = await session.request("logging/setLevel", { level }).catch((error: unknown) => error);
    if (!answer || typeof answer !== "object" || !("result" in answer)) {
      this.logger.debug(`logging/setLevel was refused upstream: ${describeError(answer)}`);
    }
  }

  private async ownRequest(method: string, params: Record<string, unknown>): Promise<JSONRPCResponse> {
    const session = this.session ?? (await this.opening);
    if (!session) throw new ProxyError("NETWORK", `No session with ${this.options.upstreamName}.`);
    return session.request(method, params);
  }

  /** The session, opened on first use (one at a time); a new one when the last was lost. */
  private ensureSession(envelope: ModernEnvelope): Promise<LegacySession> {
    if (this.session) return Promise.resolve(this.session);
    this.opening ??= this.openSession(envelope).finally(() => {
      this.opening = undefined;
    });
    return this.opening;
  }

  private async openSession(envelope: ModernEnvelope): Promise<LegacySession> {
    let session: LegacySession | undefined;
    session = await LegacySession.open(
      {
        transport: this.options.openLegacy(),
        upstreamName: this.options.upstreamName,
        logger: this.logger,
        timeoutMs: this.options.ownRequestTimeoutMs ?? 30_000,
        onMessage: (message) => session && this.fromUpstream(session, message),
        onClosed: () => session && this.dropSession(session),
      },
      { capabilities: envelope.capabilities, clientInfo: envelope.clientInfo },
    );
    if (this.closed) {
      await session.close();
      throw new ProxyError("NETWORK", "The proxy's bridge to the upstream is closed.");
    }
    this.session = session;
    for (const uri of this.relay.heldUris()) {
      session.request("resources/subscribe", { uri }).catch(() => {}); // listens outlive a lost session
    }
    return session;
  }

  /** The upstream forgot the session (or its transport closed): calls in it fail, the next request opens another. */
  private dropSession(session: LegacySession): void {
    if (this.session === session) this.session = undefined;
    this.toolHeaders = undefined;
    void session.close(false);
    this.calls.sessionLost(session);
  }

  private answer(id: RequestId, options: TransportSendOptions | undefined, error: JsonRpcErrorObject): void {
    this.toClient(errorResponse(id, error));
    options?.onRequestStreamEnd?.();
  }

  private toClient(message: JSONRPCMessage): void {
    if (!this.closed) this.onmessage?.(message);
  }
}
