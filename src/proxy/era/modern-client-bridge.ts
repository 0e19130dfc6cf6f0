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
 *   `inputResponses` and the HMAC-sealed `requestState` ({@link InputRequiredStateSealer}); then the answers go to
 *   the parked upstream requests and the bridge waits for the final result (which may need another round).
 * - `subscriptions/listen` is served from `resources/subscribe` and the session's GET stream ({@link SubscriptionRelay}).
 * - Cancelling a request (its `requestSignal`) sends `notifications/cancelled` upstream; no answer follows.
 *
 * What it holds in memory, per client connection: the upstream session (its `Mcp-Session-Id` lives in the
 * transport) and the parked calls (an open upstream request waiting for the client's retry, at most
 * `requestStateTtlMs`, 5 minutes by default, then cancelled upstream). Behind a load balancer this needs affinity
 * by connection: a retry that reaches another proxy process finds neither the call nor the key that sealed its
 * state (the key is random per process unless `secret` is given), and gets a clear "call the tool again" error.
 *
 * Limit: the 2025 wire does not say which call a server request belongs to (the client transport does not report
 * the stream it arrived on). With one call that can take input in flight, that call is it; with several, the
 * oldest one that declared the capability gets the `input_required`, and the answer still reaches the upstream
 * request that asked (only the call that shows the question may be the wrong one).
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
import { endedWithoutAnswer, mcpServer } from "../../lib/messages.ts";
import { isSessionGone } from "../message-bridge.ts";
import type { JsonRpcErrorObject } from "../upstream-error.ts";
import { digestParams, InputRequiredStateSealer, type StateRefusal } from "./input-required-state.ts";
import { LegacySession } from "./legacy-session.ts";
import type { SubscriptionFilter } from "./listen-stream.ts";
import {
  discoverResult,
  errorResponse,
  INPUT_REQUIRED_METHODS,
  type ModernEnvelope,
  REMOVED_METHODS,
  readEnvelope,
  toLegacyParams,
  toModernResponse,
} from "./modern-results.ts";
import { ERA_ERROR } from "./protocol-versions.ts";
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
  /** Longest wait for the proxy's own upstream requests (`initialize`, `resources/subscribe`; default 30 s). */
  ownRequestTimeoutMs?: number;
  /** The clock (ms since the epoch), for expiry. */
  now?: () => number;
}

/** The client's server capabilities per input request method. */
const INPUT_CAPABILITY: Readonly<Record<string, string>> = {
  "sampling/createMessage": "sampling",
  "elicitation/create": "elicitation",
  "roots/list": "roots",
};

/** The client request waiting for a call's answer now. */
type Waiter = {
  id: RequestId;
  resolve: () => void;
  reject: (error: unknown) => void;
  options: TransportSendOptions | undefined;
};

/** One upstream request of the client's, from its first leg until its final answer went out. */
interface Call {
  key: string;
  method: string;
  params: Record<string, unknown> | undefined;
  digest: string;
  upstreamId: string;
  session: LegacySession;
  envelope: ModernEnvelope;
  waiting: Waiter | undefined;
  /** Server requests put to the client (in an `input_required`) and not answered yet, by input key. */
  asked: Map<string, JSONRPCRequest>;
  /** Server requests that arrived and wait for the next `input_required`. */
  queued: JSONRPCRequest[];
  inputSeq: number;
  /** The live requestState's nonce (single use) while parked. */
  nonce: string | undefined;
  expiresAt: number;
  timer: NodeJS.Timeout | undefined;
  flushing: boolean;
  /** The upstream's final answer, or why there will be none. */
  outcome: JSONRPCResponse | { failure: unknown } | undefined;
}

const REFUSAL_TEXT: Readonly<Record<StateRefusal | "replayed", string>> = {
  malformed: "is not a requestState this proxy issued",
  tampered: "failed its integrity check (it was altered or issued by another proxy process)",
  "other-connection": "was issued to another client connection",
  expired: "has expired",
  "other-request": "was issued for a different request",
  replayed: "was already used (or its call has ended)",
};

export class ModernClientBridge implements Transport {
  onclose?: (() => void) | undefined;
  onerror?: ((error: Error) => void) | undefined;
  onmessage?: ((message: JSONRPCMessage) => void) | undefined;

  private readonly id = randomUUID();
  private readonly logger: Logger;
  private readonly sealer: InputRequiredStateSealer;
  private readonly ttlMs: number;
  private readonly now: () => number;
  private session: LegacySession | undefined;
  private opening: Promise<LegacySession> | undefined;
  private readonly calls = new Map<string, Call>();
  private readonly byUpstreamId = new Map<RequestId, Call>();
  private seq = 0;
  private closed = false;
  private readonly relay: SubscriptionRelay;

  constructor(private readonly options: ModernClientBridgeOptions) {
    this.logger = options.logger ?? silentLogger;
    this.sealer = new InputRequiredStateSealer(options.secret);
    this.ttlMs = options.requestStateTtlMs ?? 5 * 60_000;
    this.now = options.now ?? Date.now;
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
    this.expireParked();
    if (!("method" in message)) return; // a 2026-07-28 client answers nothing; nobody asked it
    if (!("id" in message)) return this.fromClientNotification(message);
    const request = message as JSONRPCRequest;
    const params = request.params as Record<string, unknown> | undefined;
    if (REMOVED_METHODS.has(request.method)) {
      return this.answer(request.id, options, {
        code: ERA_ERROR.methodNotFound,
        message: `${request.method} does not exist in protocol version 2026-07-28.`,
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
      return this.resume(request, options);
    }
    return this.startCall(request, envelope.envelope, options, 0);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const call of [...this.calls.values()]) {
      this.cancelUpstream(call, "The client disconnected.");
      call.waiting?.resolve();
      this.forget(call);
    }
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
    if (this.relay.has(id)) {
      this.relay.close(id);
      return;
    }
    for (const call of this.calls.values()) {
      if (call.waiting?.id === id) {
        this.cancel(call, "The client cancelled the request.");
        return;
      }
    }
  }

  private async startCall(
    request: JSONRPCRequest,
    envelope: ModernEnvelope,
    options: TransportSendOptions | undefined,
    attempt: number,
  ): Promise<void> {
    const session = await this.ensureSession(envelope);
    await this.applyLogLevel(session, envelope.logLevel);
    const params = request.params as Record<string, unknown> | undefined;
    const call: Call = {
      key: randomUUID(),
      method: request.method,
      params,
      digest: digestParams(params),
      upstreamId: `mcp-u2m-proxy:call-${++this.seq}`,
      session,
      envelope,
      waiting: undefined,
      asked: new Map(),
      queued: [],
      inputSeq: 0,
      nonce: undefined,
      expiresAt: 0,
      timer: undefined,
      flushing: false,
      outcome: undefined,
    };
    this.calls.set(call.key, call);
    this.byUpstreamId.set(call.upstreamId, call);
    const answered = this.wait(call, request.id, options);
    const upstreamParams = toLegacyParams(params);
    const upstream: JSONRPCRequest = {
      jsonrpc: "2.0",
      id: call.upstreamId,
      method: request.method,
      ...(upstreamParams ? { params: upstreamParams } : {}),
    };
    try {
      await session.send(upstream, { onRequestStreamEnd: () => this.onUpstreamStreamEnd(call) });
    } catch (error) {
      const waiter = call.waiting;
      this.forget(call);
      if (waiter === undefined) return; // cancelled meanwhile
      if (attempt === 0 && isSessionGone(error, session.transport)) {
        this.logger.warn(`the upstream ${this.options.upstreamName} lost the session; starting a new one`);
        this.dropSession(session);
        return this.startCall(request, envelope, options, attempt + 1);
      }
      throw error;
    }
    return answered;
  }

  /** The client's retry of a call answered with `input_required`. */
  private resume(request: JSONRPCRequest, options: TransportSendOptions | undefined): Promise<void> {
    const params = request.params as Record<string, unknown>;
    const opened = this.sealer.open(params.requestState, {
      bridge: this.id,
      method: request.method,
      digest: digestParams(params),
      now: this.now(),
    });
    const call = opened.ok ? this.calls.get(opened.state.call) : undefined;
    if (!opened.ok || !call || call.nonce === undefined || call.nonce !== opened.state.nonce) {
      const reason = opened.ok ? "replayed" : opened.reason;
      this.logger.debug(`${request.method}: refused a requestState (${reason})`);
      this.answer(request.id, options, {
        code: ERA_ERROR.invalidParams,
        message: `The requestState ${REFUSAL_TEXT[reason]}. Call the tool again: send ${request.method} without requestState and inputResponses.`,
      });
      return Promise.resolve();
    }
    call.nonce = undefined;
    clearTimeout(call.timer);
    const responses = params.inputResponses;
    const given = responses && typeof responses === "object" ? (responses as Record<string, unknown>) : {};
    for (const [key, asked] of call.outcome === undefined ? [...call.asked] : []) {
      const result = given[key];
      if (!result || typeof result !== "object") continue; // asked again in the next round
      call.asked.delete(key);
      call.session.send({ jsonrpc: "2.0", id: asked.id, result } as JSONRPCMessage).catch((error: unknown) => {
        this.logger.debug(`could not pass an input response upstream: ${describeError(error)}`);
      });
    }
    const answered = this.wait(call, request.id, options);
    this.settle(call);
    return answered;
  }

  /** Makes `id` the client request waiting for `call`; cancellation of it cancels the call. */
  private wait(call: Call, id: RequestId, options: TransportSendOptions | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      call.waiting = { id, resolve, reject, options };
      const signal = options?.requestSignal;
      if (!signal) return;
      const onAbort = () => {
        if (call.waiting?.id === id) this.cancel(call, "The client cancelled the request.");
      };
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Answers the waiting client request when there is something to say: the final result, or input needed. */
  private settle(call: Call): void {
    const waiter = call.waiting;
    if (!waiter) return;
    const outcome = call.outcome;
    if (outcome !== undefined) {
      call.waiting = undefined;
      this.forget(call);
      if ("failure" in outcome) {
        waiter.reject(outcome.failure);
        return;
      }
      this.toClient(toModernResponse(waiter.id, call.method, outcome, call.params));
      waiter.options?.onRequestStreamEnd?.();
      waiter.resolve();
      return;
    }
    for (const request of call.queued.splice(0)) call.asked.set(`input-${++call.inputSeq}`, request);
    if (call.asked.size === 0) return;
    const inputRequests = Object.fromEntries(
      [...call.asked].map(([key, request]) => [key, { method: request.method, params: request.params ?? {} }]),
    );
    call.expiresAt = this.now() + this.ttlMs;
    const { token, nonce } = this.sealer.seal({
      bridge: this.id,
      call: call.key,
      method: call.method,
      digest: call.digest,
      expiresAt: call.expiresAt,
    });
    call.nonce = nonce;
    call.waiting = undefined;
    clearTimeout(call.timer);
    call.timer = setTimeout(() => this.expireParked(), this.ttlMs + 1);
    call.timer.unref?.();
    this.toClient({
      jsonrpc: "2.0",
      id: waiter.id,
      result: { resultType: "input_required", inputRequests, requestState: token },
    } as JSONRPCResponse);
    waiter.options?.onRequestStreamEnd?.();
    waiter.resolve();
  }

  /** Parked calls whose client did not come back in time are cancelled upstream. */
  private expireParked(): void {
    const now = this.now();
    for (const call of [...this.calls.values()]) {
      if (call.waiting || call.nonce === undefined || now < call.expiresAt) continue;
      this.logger.debug(`${call.method}: the client did not retry in time; cancelling the upstream call`);
      this.cancelUpstream(call, "The client did not provide the requested input in time.");
      this.forget(call);
    }
  }

  private cancel(call: Call, reason: string): void {
    const waiter = call.waiting;
    call.waiting = undefined;
    this.cancelUpstream(call, reason);
    this.forget(call);
    waiter?.resolve();
  }

  private cancelUpstream(call: Call, reason: string): void {
    if (call.outcome !== undefined) return;
    call.session
      .send({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: call.upstreamId, reason } })
      .catch((error: unknown) => this.logger.debug(`could not cancel upstream: ${describeError(error)}`));
  }

  private forget(call: Call): void {
    clearTimeout(call.timer);
    this.calls.delete(call.key);
    if (this.byUpstreamId.get(call.upstreamId) === call) this.byUpstreamId.delete(call.upstreamId);
  }

  private onUpstreamStreamEnd(call: Call): void {
    if (call.outcome !== undefined || !this.calls.has(call.key)) return;
    call.outcome = { failure: endedWithoutAnswer(mcpServer(this.options.upstreamName), call.method) };
    this.settle(call);
  }

  private fromUpstream(session: LegacySession, message: JSONRPCMessage): void {
    if (!("method" in message)) {
      const call = "id" in message && message.id !== undefined ? this.byUpstreamId.get(message.id) : undefined;
      if (!call) return;
      this.byUpstreamId.delete(call.upstreamId);
      call.outcome = message as JSONRPCResponse;
      this.settle(call);
      return;
    }
    if ("id" in message) {
      this.fromUpstreamRequest(session, message as JSONRPCRequest);
      return;
    }
    const notification = message as JSONRPCNotification;
    if (notification.method === "notifications/progress") {
      this.toClient(notification);
      return;
    }
    if (notification.method === "notifications/message") {
      // Unattributed on the 2025 wire: passed on only while a call that asked for logs runs (CHG 5).
      if ([...this.calls.values()].some((call) => call.envelope.logLevel !== undefined)) this.toClient(notification);
      return;
    }
    if (notification.method === "notifications/cancelled") {
      const id = (notification.params as { requestId?: RequestId } | undefined)?.requestId;
      for (const call of this.calls.values()) {
        call.queued = call.queued.filter((request) => request.id !== id);
        for (const [key, request] of call.asked) if (request.id === id) call.asked.delete(key);
      }
      return;
    }
    if (!this.relay.deliver(notification)) this.logger.debug(`dropped ${notification.method}: nobody listens for it`);
  }

  private fromUpstreamRequest(session: LegacySession, request: JSONRPCRequest): void {
    const refuse = (error: JsonRpcErrorObject) => {
      session.send({ jsonrpc: "2.0", id: request.id, error } as JSONRPCMessage).catch(() => {});
    };
    if (request.method === "ping") {
      session.send({ jsonrpc: "2.0", id: request.id, result: {} } as JSONRPCMessage).catch(() => {});
      return;
    }
    const capability = INPUT_CAPABILITY[request.method];
    if (capability === undefined) {
      refuse({ code: ERA_ERROR.methodNotFound, message: `${request.method} is not relayed to this client.` });
      return;
    }
    const candidates = [...this.calls.values()].filter(
      (call) => call.session === session && call.outcome === undefined && INPUT_REQUIRED_METHODS.has(call.method),
    );
    if (candidates.length === 0) {
      refuse({
        code: ERA_ERROR.methodNotFound,
        message: `The client can only be asked for ${capability} during tools/call, prompts/get or resources/read.`,
      });
      return;
    }
    const call = candidates.find((candidate) => declares(candidate.envelope.capabilities, request));
    if (!call) {
      refuse({
        code: ERA_ERROR.methodNotFound,
        message: `The MCP client did not declare the ${capability} capability.`,
      });
      return;
    }
    call.queued.push(request);
    if (!call.flushing && call.waiting) {
      // Server requests sent together (Promise.all) go out in one input_required.
      call.flushing = true;
      setImmediate(() => {
        call.flushing = false;
        this.settle(call);
      });
    }
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
    void session.close(false);
    for (const call of [...this.calls.values()]) {
      if (call.session !== session || call.outcome !== undefined) continue;
      call.outcome = {
        failure: new ProxyError(
          "UPSTREAM_SESSION_EXPIRED",
          `The upstream ${this.options.upstreamName} lost the session while ${call.method} was running.`,
          { hint: "Try again." },
        ),
      };
      if (call.waiting) this.settle(call);
    }
  }

  private answer(id: RequestId, options: TransportSendOptions | undefined, error: JsonRpcErrorObject): void {
    this.toClient(errorResponse(id, error));
    options?.onRequestStreamEnd?.();
  }

  private toClient(message: JSONRPCMessage): void {
    if (!this.closed) this.onmessage?.(message);
  }
}

/** Whether the request's client declared what an upstream server request needs (MRTR: only ask for that). */
function declares(capabilities: Record<string, unknown>, request: JSONRPCRequest): boolean {
  const capability = INPUT_CAPABILITY[request.method];
  if (capability === undefined || !capabilities[capability]) return false;
  if (request.method !== "elicitation/create") return true;
  const elicitation = capabilities.elicitation as Record<string, unknown>;
  const mode = (request.params as { mode?: unknown } | undefined)?.mode;
  if (mode === "url") return elicitation.url !== undefined;
  // An empty `elicitation: {}` is form mode.
  return Object.keys(elicitation).length === 0 || elicitation.form !== undefined;
}
