import type {
  JSONRPCMessage,
  JSONRPCNotification,
  JSONRPCRequest,
  JSONRPCResponse,
  RequestId,
  Transport,
  TransportSendOptions,
} from "@modelcontextprotocol/client";
import { describeError } from "../lib/errors.ts";
import { type Logger, silentLogger } from "../lib/logger.ts";
import { endedWithoutAnswer, mcpServer, timedOut } from "../lib/messages.ts";
import type { MessageBridgeOptions } from "./message-bridge-options.ts";
import { ProgressBarrier } from "./progress-barrier.ts";
import { type InFlight, isSessionGone, SessionReinitialiser } from "./session-reinitialiser.ts";
import { UnansweredRequests } from "./unanswered-requests.ts";
import { toJsonRpcError, toProxyError, upstreamJsonRpcError } from "./upstream-error.ts";
import { initializeDeclaresUrlElicitation } from "./url-elicitation.ts";

export type { MessageBridgeOptions } from "./message-bridge-options.ts";
export { isSessionGone } from "./session-reinitialiser.ts";

/** The `_meta` key of a 2026-07-28 request's protocol-version claim (SH §Request metadata). */
const PROTOCOL_VERSION_META_KEY = "io.modelcontextprotocol/protocolVersion";
/** Ids of the proxy's own upstream requests (replayed `initialize`); never seen by the client. */
const INTERNAL_ID_PREFIX = "mcp-u2m-proxy:";

/** Requests that stay open until the client leaves (2026-07-28 subscriptions): nothing to wait for at the end. */
const OPEN_ENDED_METHODS = new Set(["subscriptions/listen"]);

/**
 * Pipes JSON-RPC messages both ways between a downstream transport (the client's side: stdio, legacy SSE server
 * transport, …) and an upstream client transport (Streamable HTTP or SSE to the real server).
 *
 * Everything passes through untouched and in arrival order: requests, responses, notifications (progress),
 * server-to-client requests (sampling, elicitation, roots) and their answers, `notifications/cancelled`. The bridge
 * only looks at what it must:
 * - the client's `initialize` (to set the negotiated `MCP-Protocol-Version` on the upstream transport, T25
 *   §Protocol Version Header, and to replay it when the upstream session is lost);
 * - failures: a client request that cannot be sent is answered with a JSON-RPC error naming the upstream and the
 *   next step (e.g. the sign-in URL), never dropped; when the upstream refused it with its own JSON-RPC error (an
 *   HTTP 4xx carrying one), the client gets that error unchanged;
 * - 2026-07-28 requests: cancellation closes that request's stream (SH §Cancellation) instead of being forwarded;
 * - with `tools`, hidden tools: left out of `tools/list` results, their calls answered here (tool-filter.ts).
 *
 * Closing either side closes the other; closing ends the upstream session with DELETE when there is one.
 * {@link finish} is the graceful end when the client has stopped sending (stdin closed): answers first, then close.
 */
export class MessageBridge {
  private upstream: Transport;
  private readonly logger: Logger;
  private initialize: JSONRPCRequest | undefined;
  private initialized: JSONRPCNotification | undefined;
  /** Id of the client's `initialize` until its answer passes by. */
  private initializeId: RequestId | undefined;
  private urlElicitation = false;
  /** Starts a new upstream session when the old one is lost (session-reinitialiser.ts). */
  private readonly sessions: SessionReinitialiser;
  private internalSeq = 0;
  /** Holds back responses that would overtake their progress notifications (progress-barrier.ts). */
  private readonly barrier: ProgressBarrier;
  /** Settles when the last message to the client has left (as far as the downstream transport can tell). */
  private lastSent: Promise<void> = Promise.resolve();
  /** Abort controllers of in-flight 2026-07-28 requests, by id: closing the stream is their cancellation. */
  private readonly perRequest = new Map<RequestId, AbortController>();
  /** Client requests sent upstream and not answered yet: which transport carries them, and their method. */
  private readonly inflight = new Map<RequestId, InFlight>();
  /** Client requests whose answer has not gone to the client yet: finish() waits for them. */
  private readonly unanswered = new UnansweredRequests();
  private closing: Promise<void> | undefined;
  private resolveClosed!: () => void;
  /** Settles when both sides are closed. */
  readonly closed: Promise<void>;

  constructor(
    private readonly downstream: Transport,
    upstream: Transport,
    private readonly options: MessageBridgeOptions,
  ) {
    this.upstream = upstream;
    this.logger = options.logger ?? silentLogger;
    this.barrier = new ProgressBarrier({
      enabled: options.progressBarrier === true,
      send: (message) => this.toDownstream(message),
      lastSent: () => this.lastSent,
      nextId: () => this.nextInternalId("ping"),
      logger: this.logger,
      timeoutMs: options.progressBarrierTimeoutMs,
      delayMs: options.progressBarrierDelayMs,
    });
    this.sessions = new SessionReinitialiser(options, {
      current: () => this.upstream,
      initialize: () => this.initialize,
      initialized: () => this.initialized,
      replace: (next) => {
        this.upstream = next;
      },
      attach: (next) => this.attach(next),
      nextId: (kind) => this.nextInternalId(kind),
      inflight: this.inflight,
      answerWithError: (id, method, error) => this.answerWithError(id, method, error),
      logger: this.logger,
    });
    this.closed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
    downstream.onmessage = (message) => this.fromDownstream(message);
    downstream.onerror = (error) => this.logger.debug(`client transport: ${describeError(error)}`);
    downstream.onclose = () => void this.close();
    this.attach(upstream);
  }

  /** Starts the upstream transport, then the downstream one (which may deliver messages at once). */
  async start(): Promise<void> {
    await this.upstream.start();
    await this.downstream.start();
  }

  /** Closes both sides; ends the upstream session (DELETE) first when it has one. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  /**
   * The client will send nothing more (its input ended) but still reads: every request it sent gets its answer
   * first, for at most `timeoutMs` (then the ones left get a timeout error), and once the answers have left, the
   * bridge closes (ending the upstream session). Subscriptions (`subscriptions/listen`) are not waited for.
   */
  async finish(timeoutMs = 10_000): Promise<void> {
    if (this.closing) return this.closing;
    // A client that sends nothing more cannot answer the progress barrier's ping either.
    this.barrier.clientDone();
    if (this.unanswered.size !== 0) await this.unanswered.allAnswered(timeoutMs);
    const party = mcpServer(this.options.upstreamName);
    for (const [id, method] of this.unanswered.entries()) this.answerWithError(id, method, timedOut(party));
    await this.lastSent.catch(() => {});
    await this.close();
  }

  private async shutdown(): Promise<void> {
    this.unanswered.stopWaiting();
    const upstream = this.upstream;
    this.sessions.close();
    this.barrier.close();
    const terminate = (upstream as { terminateSession?: () => Promise<void> }).terminateSession;
    if (typeof terminate === "function" && upstream.sessionId) {
      const timeout = this.options.terminateTimeoutMs ?? 3_000;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        terminate.call(upstream).catch((error: unknown) => {
          this.logger.debug(`ending the upstream session failed: ${describeError(error)}`);
        }),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, timeout);
        }),
      ]);
      clearTimeout(timer);
    }
    upstream.onclose = undefined;
    await upstream.close().catch(() => {});
    this.downstream.onclose = undefined;
    await this.downstream.close().catch(() => {});
    this.resolveClosed();
  }

  private attach(upstream: Transport): void {
    upstream.onmessage = (message) => this.fromUpstream(message);
    upstream.onerror = (error) => this.logger.debug(`upstream transport: ${describeError(error)}`);
    upstream.onclose = () => {
      if (upstream === this.upstream) void this.close();
    };
  }

  private fromDownstream(message: JSONRPCMessage): void {
    if (this.closing) return;
    const refusal = this.options.tools?.refusal(message);
    if (refusal) {
      this.toDownstream(refusal);
      return;
    }
    if ("method" in message) {
      const method = message.method;
      if ("id" in message && !OPEN_ENDED_METHODS.has(method)) this.unanswered.add(message.id, method);
      if ("id" in message) this.barrier.requested(message as JSONRPCRequest);
      if (method === "initialize" && "id" in message) {
        this.initialize = message;
        this.initializeId = message.id;
        this.urlElicitation = initializeDeclaresUrlElicitation(message);
      } else if (method === "notifications/initialized") {
        this.initialized = message as JSONRPCNotification;
      } else if (method === "notifications/cancelled") {
        const id = (message.params as { requestId?: RequestId } | undefined)?.requestId;
        if (id !== undefined) {
          // The upstream will not answer a cancelled request (2025) and nobody waits for the answer any more.
          this.inflight.delete(id);
          this.unanswered.answered(id);
          this.barrier.forget(id);
          const controller = this.perRequest.get(id);
          if (controller) {
            this.perRequest.delete(id);
            controller.abort();
            return;
          }
        }
      }
    } else if (message.id !== undefined && this.barrier.clientAnswered(message.id)) {
      return;
    }
    const wait = this.sessions.pending ?? this.options.gate?.();
    if (wait === undefined) this.forward(message, 0);
    else {
      const go = () => this.forward(message, 0);
      wait.then(go, go);
    }
  }

  private forward(message: JSONRPCMessage, attempt: number): void {
    if (this.closing) return;
    const upstream = this.upstream;
    let options: TransportSendOptions | undefined;
    if ("id" in message && "method" in message) {
      const id = message.id;
      const entry: InFlight = { upstream, method: message.method };
      this.inflight.set(id, entry);
      // Called when the request's response stream ends (Streamable HTTP), answered or not.
      options = { onRequestStreamEnd: () => this.onStreamEnd(id, entry) };
      const version = (message.params?._meta as Record<string, unknown> | undefined)?.[PROTOCOL_VERSION_META_KEY];
      if (typeof version === "string" && version >= "2026") {
        const controller = new AbortController();
        this.perRequest.set(id, controller);
        options.requestSignal = controller.signal;
        // A 2026-07-28 client sends no JSON-RPC responses (SH), so it cannot answer the barrier's ping.
        this.barrier.clientIsModern();
      }
    }
    upstream.send(message, options).catch((error: unknown) => {
      if (options?.requestSignal?.aborted) return; // the client cancelled it
      this.onSendFailed(message, error, upstream, attempt);
    });
  }

  /** A request's response stream ended: if no answer came (upstream died mid-stream), the client gets an error. */
  private onStreamEnd(id: RequestId, entry: InFlight): void {
    if (this.perRequest.size !== 0) this.perRequest.delete(id);
    if (this.inflight.get(id) !== entry) return;
    this.inflight.delete(id);
    this.answerWithError(id, entry.method, endedWithoutAnswer(mcpServer(this.options.upstreamName), entry.method));
  }

  private onSendFailed(message: JSONRPCMessage, error: unknown, upstream: Transport, attempt: number): void {
    if (this.closing) return;
    const isRequest = "id" in message && "method" in message;
    if (isRequest) {
      this.inflight.delete(message.id);
      if (this.perRequest.size !== 0) this.perRequest.delete(message.id);
    }
    if (
      attempt === 0 &&
      this.options.reconnect &&
      this.initialize &&
      !(isRequest && message.method === "initialize") &&
      isSessionGone(error, upstream)
    ) {
      this.logger.warn(`the upstream ${this.options.upstreamName} lost the session; starting a new one`);
      this.sessions.reinitialise(upstream).then(
        () => {
          // A client answer or notification meant for the lost session has no one to go to now.
          if (isRequest) this.forward(message, attempt + 1);
        },
        (reinitError: unknown) => this.reject(message, reinitError),
      );
      return;
    }
    const retry = isRequest && attempt === 0 ? this.options.retryAfter?.(error) : undefined;
    if (retry) {
      retry.then(
        (again) => (again ? this.forward(message, attempt + 1) : this.reject(message, error)),
        () => this.reject(message, error),
      );
      return;
    }
    this.reject(message, error);
  }

  /** Answers a request that could not reach the upstream; other messages can only be logged. */
  private reject(message: JSONRPCMessage, error: unknown): void {
    if (this.closing) return;
    if ("id" in message && "method" in message) {
      this.answerWithError(message.id, message.method, error);
    } else {
      const what = "method" in message ? message.method : "a response";
      const reason = toProxyError(error, this.options.upstreamName).toLine();
      this.logger.warn(`could not pass ${what} to the upstream: ${reason}`);
    }
  }

  private answerWithError(id: RequestId, method: string, error: unknown): void {
    if (this.closing) return;
    this.barrier.forget(id);
    const upstreamError = upstreamJsonRpcError(error);
    if (upstreamError) {
      // The server's own answer, passed on as it is: nothing failed in the proxy.
      this.logger.debug(`${method}: the upstream answered with JSON-RPC error ${upstreamError.code}`);
      this.toDownstream({ jsonrpc: "2.0", id, error: upstreamError } as JSONRPCMessage);
      return;
    }
    const rpcError = toJsonRpcError(error, this.options.upstreamName, { urlElicitation: this.urlElicitation });
    this.logger.warn(`${method} failed: ${rpcError.message}`);
    this.toDownstream({ jsonrpc: "2.0", id, error: rpcError });
  }

  private fromUpstream(message: JSONRPCMessage): void {
    if ("id" in message && !("method" in message) && message.id !== undefined) {
      const id = message.id;
      if (this.options.tools && this.inflight.get(id)?.method === "tools/list") {
        message = this.options.tools.filterList(message);
      }
      this.inflight.delete(id);
      if (this.sessions.settle(id, message as JSONRPCResponse)) return;
      if (this.initializeId !== undefined && id === this.initializeId) {
        this.initializeId = undefined;
        const version = (message as { result?: { protocolVersion?: unknown } }).result?.protocolVersion;
        if (typeof version === "string") this.upstream.setProtocolVersion?.(version);
      }
    }
    if (this.barrier.holdsBack(message)) return;
    this.toDownstream(message);
  }

  private toDownstream(message: JSONRPCMessage): void {
    if (this.closing) return;
    if (this.unanswered.size !== 0 && !("method" in message) && message.id !== undefined) {
      this.unanswered.answered(message.id);
    }
    this.lastSent = this.downstream.send(message);
    this.lastSent.catch((error: unknown) => {
      this.logger.debug(`could not pass a message to the client: ${describeError(error)}`);
    });
  }

  /** Ids of the proxy's own upstream requests (progress barrier pings, replayed `initialize`). */
  private nextInternalId(kind: string): string {
    return `${INTERNAL_ID_PREFIX}${kind}-${++this.internalSeq}`;
  }
}
