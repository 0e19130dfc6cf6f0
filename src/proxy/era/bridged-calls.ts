import type {
  JSONRPCMessage,
  JSONRPCRequest,
  JSONRPCResponse,
  RequestId,
  TransportSendOptions,
} from "@modelcontextprotocol/client";
import { describeError, ProxyError } from "../../lib/errors.ts";
import type { Logger } from "../../lib/logger.ts";
import { endedWithoutAnswer, mcpServer } from "../../lib/messages.ts";
import type { JsonRpcErrorObject } from "../upstream-error.ts";
import { type BridgedCall, createBridgedCall } from "./bridged-call.ts";
import { inputRequestsOf, passInputResponses, refusedStateError, tooManyRounds } from "./input-required-rounds.ts";
import { digestParams, type InputRequiredStateSealer } from "./input-required-state.ts";
import type { LegacySession } from "./legacy-session.ts";
import { errorResponse, type ModernEnvelope, toModernResponse } from "./modern-results.ts";
import { missingCapabilityAnswer, routeServerRequest } from "./server-request-routing.ts";

/**
 * The calls a 2026-07-28 client has running on a 2025 upstream session, each from its first leg until its final
 * answer went out, and the multi-round-trip (2026-07-28 basic/patterns/mrtr) they may need on the way: an upstream
 * server-to-client request during a call turns the call's answer into `input_required`; the upstream request stays
 * parked until the client's retry brings the `inputResponses` and the HMAC-sealed `requestState`; then the answers
 * go to the parked upstream requests and the call waits for its final result (or another round).
 *
 * Which call an upstream server request belongs to is decided in server-request-routing.ts.
 */

export interface BridgedCallsOptions {
  /** Names the connection the requestStates are bound to. */
  connection: string;
  upstreamName: string;
  logger: Logger;
  sealer: InputRequiredStateSealer;
  /** How long a parked call waits for the client's retry. */
  ttlMs: number;
  /** Most `input_required` rounds one call may take (a server that keeps asking is stopped). */
  maxRounds: number;
  now: () => number;
  /** Sends a message to the client. */
  toClient: (message: JSONRPCMessage) => void;
}

export class BridgedCalls {
  private readonly calls = new Map<string, BridgedCall>();
  private readonly byUpstreamId = new Map<RequestId, BridgedCall>();
  private seq = 0;

  constructor(private readonly options: BridgedCallsOptions) {}

  /** Registers a new call; the returned promise settles once the client request `id` has been answered. */
  begin(
    request: JSONRPCRequest,
    session: LegacySession,
    envelope: ModernEnvelope,
    options: TransportSendOptions | undefined,
  ): { call: BridgedCall; answered: Promise<void> } {
    const call = createBridgedCall(request, session, envelope, `mcp-u2m-proxy:call-${++this.seq}`);
    this.calls.set(call.key, call);
    this.byUpstreamId.set(call.upstreamId, call);
    return { call, answered: this.wait(call, request.id, options) };
  }

  /** The client's retry of a call answered with `input_required`: refused with a clear error unless its state holds. */
  resume(request: JSONRPCRequest, options: TransportSendOptions | undefined): Promise<void> {
    this.expireParked();
    const params = request.params as Record<string, unknown>;
    const opened = this.options.sealer.open(params.requestState, {
      bridge: this.options.connection,
      method: request.method,
      digest: digestParams(params),
      now: this.options.now(),
    });
    const call = opened.ok ? this.calls.get(opened.state.call) : undefined;
    if (!opened.ok || !call || call.nonce === undefined || call.nonce !== opened.state.nonce) {
      const reason = opened.ok ? "replayed" : opened.reason;
      this.options.logger.debug(`${request.method}: refused a requestState (${reason})`);
      this.options.toClient(errorResponse(request.id, refusedStateError(reason, request.method)));
      options?.onRequestStreamEnd?.();
      return Promise.resolve();
    }
    call.nonce = undefined;
    clearTimeout(call.timer);
    if (call.outcome === undefined) passInputResponses(call, params.inputResponses, this.options.logger);
    const answered = this.wait(call, request.id, options);
    this.settle(call);
    return answered;
  }

  /** The upstream answered one of the calls: true when it was one. */
  answer(message: JSONRPCResponse): boolean {
    const call = message.id !== undefined ? this.byUpstreamId.get(message.id) : undefined;
    if (!call) return false;
    this.byUpstreamId.delete(call.upstreamId);
    call.outcome = message;
    this.settle(call);
    return true;
  }

  /** The call's upstream request ended without an answer. */
  streamEnded(call: BridgedCall): void {
    if (call.outcome !== undefined || !this.calls.has(call.key)) return;
    call.outcome = { failure: endedWithoutAnswer(mcpServer(this.options.upstreamName), call.method) };
    this.settle(call);
  }

  /** The call could not be sent upstream: forgotten; true when its client still waits (it was not cancelled). */
  sendFailed(call: BridgedCall): boolean {
    const waiting = call.waiting !== undefined;
    this.forget(call);
    return waiting;
  }

  /** The upstream asked the client something: queued on the call it most likely belongs to, or refused. */
  serverRequest(session: LegacySession, request: JSONRPCRequest): void {
    const refuse = (error: JsonRpcErrorObject) => {
      session.send({ jsonrpc: "2.0", id: request.id, error } as JSONRPCMessage).catch(() => {});
    };
    const route = routeServerRequest(this.calls.values(), session, request);
    if ("refusal" in route) {
      refuse(route.refusal);
      if (route.undeclared) this.failUndeclared(route.undeclared.call, route.undeclared.capability);
      return;
    }
    const call = route.call;
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

  /** The upstream withdrew one of its server requests (`notifications/cancelled`). */
  serverRequestCancelled(id: RequestId): void {
    for (const call of this.calls.values()) {
      call.queued = call.queued.filter((request) => request.id !== id);
      for (const [key, request] of call.asked) if (request.id === id) call.asked.delete(key);
    }
  }

  /** The client cancelled request `id` (a first leg or a retry): false when no call waits on it. */
  cancelByClientId(id: RequestId): boolean {
    for (const call of this.calls.values()) {
      if (call.waiting?.id === id) {
        this.cancel(call, "The client cancelled the request.");
        return true;
      }
    }
    return false;
  }

  /** Whether a running call asked for log messages (2026-07-28 sends them only to requests that asked). */
  anyWantsLogs(): boolean {
    for (const call of this.calls.values()) if (call.envelope.logLevel !== undefined) return true;
    return false;
  }

  /** The session was lost: its calls fail (the client can try again; the next request opens a new session). */
  sessionLost(session: LegacySession): void {
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

  /** Every call ends (the client went away): cancelled upstream, nothing answered. */
  closeAll(reason: string): void {
    for (const call of [...this.calls.values()]) {
      this.cancelUpstream(call, reason);
      call.waiting?.resolve();
      this.forget(call);
    }
  }

  /** Parked calls whose client did not come back in time are cancelled upstream. */
  expireParked(): void {
    const now = this.options.now();
    for (const call of [...this.calls.values()]) {
      if (call.waiting || call.nonce === undefined || now < call.expiresAt) continue;
      this.options.logger.debug(`${call.method}: the client did not retry in time; cancelling the upstream call`);
      this.cancelUpstream(call, "The client did not provide the requested input in time.");
      this.forget(call);
    }
  }

  /** Calls in memory now (running or parked). */
  get size(): number {
    return this.calls.size;
  }

  /** Makes `id` the client request waiting for `call`; cancellation of it cancels the call. */
  private wait(call: BridgedCall, id: RequestId, options: TransportSendOptions | undefined): Promise<void> {
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
  private settle(call: BridgedCall): void {
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
      this.options.toClient(toModernResponse(waiter.id, call.method, outcome, call.params));
      waiter.options?.onRequestStreamEnd?.();
      waiter.resolve();
      return;
    }
    for (const request of call.queued.splice(0)) call.asked.set(`input-${++call.inputSeq}`, request);
    if (call.asked.size === 0) return;
    if (++call.rounds > this.options.maxRounds) {
      call.waiting = undefined;
      this.cancelUpstream(call, "The server asked for input too many times.");
      this.forget(call);
      const error = tooManyRounds(this.options.upstreamName, this.options.maxRounds, call.method);
      this.options.toClient(errorResponse(waiter.id, error));
      waiter.options?.onRequestStreamEnd?.();
      waiter.resolve();
      return;
    }
    call.expiresAt = this.options.now() + this.options.ttlMs;
    const { token, nonce } = this.options.sealer.seal({
      bridge: this.options.connection,
      call: call.key,
      method: call.method,
      digest: call.digest,
      expiresAt: call.expiresAt,
    });
    call.nonce = nonce;
    call.waiting = undefined;
    clearTimeout(call.timer);
    call.timer = setTimeout(() => this.expireParked(), this.options.ttlMs + 1);
    call.timer.unref?.();
    this.options.toClient({
      jsonrpc: "2.0",
      id: waiter.id,
      result: { resultType: "input_required", inputRequests: inputRequestsOf(call.asked), requestState: token },
    } as JSONRPCResponse);
    waiter.options?.onRequestStreamEnd?.();
    waiter.resolve();
  }

  /** Ends `call` with -32021: its server asked for a capability the client did not declare. */
  private failUndeclared(call: BridgedCall, capability: string): void {
    this.cancelUpstream(call, `The client did not declare the ${capability} capability.`);
    call.outcome = missingCapabilityAnswer(call, capability);
    this.settle(call);
  }

  private cancel(call: BridgedCall, reason: string): void {
    const waiter = call.waiting;
    call.waiting = undefined;
    this.cancelUpstream(call, reason);
    this.forget(call);
    waiter?.resolve();
  }

  private cancelUpstream(call: BridgedCall, reason: string): void {
    if (call.outcome !== undefined) return;
    call.session
      .send({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: call.upstreamId, reason } })
      .catch((error: unknown) => this.options.logger.debug(`could not cancel upstream: ${describeError(error)}`));
  }

  private forget(call: BridgedCall): void {
    clearTimeout(call.timer);
    this.calls.delete(call.key);
    if (this.byUpstreamId.get(call.upstreamId) === call) this.byUpstreamId.delete(call.upstreamId);
  }
}
