import type { JSONRPCMessage, JSONRPCRequest, RequestId } from "@modelcontextprotocol/client";
import type { Logger } from "../lib/logger.ts";

type ProgressToken = string | number;
/** A client request that asked for progress, and whether progress notifications went to the client for it. */
type ProgressState = { id: RequestId; token: ProgressToken; notified: boolean };

export interface ProgressBarrierOptions {
  /** Off: every response passes at once. */
  enabled: boolean;
  /** Sends a message to the client: the barrier's pings, and a response it held back. */
  send: (message: JSONRPCMessage) => void;
  /** Settles when the last message to the client has left (as far as its transport can tell). */
  lastSent: () => Promise<void>;
  /** The id of the next ping (unique among the proxy's own requests). */
  nextId: () => string;
  logger: Logger;
  /** Longest wait for the client's answer to a ping once it has left (default 5 s). */
  timeoutMs?: number | undefined;
  /** The fallback's delay after the progress left (default 25 ms). */
  delayMs?: number | undefined;
}

/**
 * Keeps a response from overtaking the progress notifications before it (MessageBridgeOptions.progressBarrier): a
 * response that followed progress is passed on once the client answered a ping sent after that progress, or, for a
 * client that cannot answer (it stopped sending, or speaks 2026-07-28), a short delay after the progress left.
 */
export class ProgressBarrier {
  readonly #options: ProgressBarrierOptions;
  readonly #byId = new Map<RequestId, ProgressState>();
  readonly #byToken = new Map<ProgressToken, ProgressState>();
  /** The barrier's pings to the client not answered yet, by id. */
  readonly #pending = new Map<RequestId, () => void>();
  #mode: "ping" | "delay" | "off";
  /** The client speaks the 2026-07-28 wire. */
  #modern = false;

  constructor(options: ProgressBarrierOptions) {
    this.#options = options;
    this.#mode = options.enabled ? "ping" : "off";
  }

  /** A client request on its way upstream: its progress token is watched. */
  requested(message: JSONRPCRequest): void {
    if (this.#mode === "off") return;
    const token = (message.params?._meta as { progressToken?: ProgressToken } | undefined)?.progressToken;
    if (token === undefined) return;
    const state: ProgressState = { id: message.id, token, notified: false };
    this.#byId.set(message.id, state);
    this.#byToken.set(token, state);
  }

  /** A 2026-07-28 client sends no JSON-RPC responses (SH), so it cannot answer a ping. */
  clientIsModern(): void {
    this.#modern = true;
    if (this.#mode === "ping") this.#mode = "delay";
  }

  /** The client's answer with `id`: true when it answered one of the barrier's pings (nothing to pass upstream). */
  clientAnswered(id: RequestId): boolean {
    if (this.#pending.size === 0) return false;
    const release = this.#pending.get(id);
    if (!release) return false;
    release();
    return true;
  }

  /**
   * A message from the upstream on its way to the client: true when the barrier holds it back (it sends it on
   * later); progress notifications are noted.
   */
  holdsBack(message: JSONRPCMessage): boolean {
    if ("id" in message && !("method" in message) && message.id !== undefined) {
      if (this.#byId.size === 0) return false;
      const state = this.forget(message.id);
      if (!state?.notified || this.#mode === "off") return false;
      this.#afterClientCaughtUp(() => this.#options.send(message));
      return true;
    }
    if (this.#byToken.size !== 0 && "method" in message && message.method === "notifications/progress") {
      const token = (message.params as { progressToken?: ProgressToken } | undefined)?.progressToken;
      const state = token === undefined ? undefined : this.#byToken.get(token);
      if (state) state.notified = true;
    }
    return false;
  }

  /** The request `id` is answered or cancelled: its progress is no longer watched. */
  forget(id: RequestId): ProgressState | undefined {
    const state = this.#byId.get(id);
    if (state) {
      this.#byId.delete(id);
      if (this.#byToken.get(state.token) === state) this.#byToken.delete(state.token);
    }
    return state;
  }

  /** The client will send nothing more: it cannot answer pings; what waits for one passes now. */
  clientDone(): void {
    if (this.#mode === "ping") this.#mode = "delay";
    for (const release of [...this.#pending.values()]) release();
  }

  /** The bridge is closing: what waits passes (and is dropped by the closed bridge). */
  close(): void {
    for (const release of this.#pending.values()) release();
    this.#pending.clear();
  }

  /**
   * Runs `then` once the client has answered a ping sent now, i.e. has handled everything sent before it; or, for a
   * client that cannot answer, a short while later.
   */
  #afterClientCaughtUp(then: () => void): void {
    const { lastSent, logger } = this.#options;
    if (this.#mode === "delay") {
      const delay = () => void setTimeout(then, this.#options.delayMs ?? 25);
      lastSent().then(delay, delay);
      return;
    }
    const id = this.#options.nextId();
    let timer: NodeJS.Timeout | undefined;
    const release = () => {
      clearTimeout(timer);
      this.#pending.delete(id);
      then();
    };
    this.#pending.set(id, release);
    this.#options.send({ jsonrpc: "2.0", id, method: "ping" });
    // The clock starts once the ping has left: megabytes may be queued before it when the client reads slowly.
    const startClock = () => {
      if (this.#pending.get(id) !== release) return;
      timer = setTimeout(() => {
        logger.debug("the client did not answer ping in time; passing responses on after a short delay");
        if (this.#mode === "ping") this.#mode = "delay";
        then();
        // A late answer shows the client does answer, only slowly: go back to pinging.
        this.#pending.set(id, () => {
          this.#pending.delete(id);
          if (this.#mode === "delay" && !this.#modern) this.#mode = "ping";
        });
      }, this.#options.timeoutMs ?? 5_000);
    };
    lastSent().then(startClock, startClock);
  }
}
