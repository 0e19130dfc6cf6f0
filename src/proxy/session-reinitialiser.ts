// Re-initialising a lost upstream session (T25 §Session Management), apart from the message bridge it serves.
import type {
  JSONRPCNotification,
  JSONRPCRequest,
  JSONRPCResponse,
  RequestId,
  Transport,
} from "@modelcontextprotocol/client";
import { ProxyError } from "../lib/errors.ts";
import type { Logger } from "../lib/logger.ts";
import type { MessageBridgeOptions } from "./message-bridge-options.ts";
import { toProxyError } from "./upstream-error.ts";
import { isHttpStatusError } from "./upstream-http-error.ts";

/** A client request sent upstream and not answered yet: which transport carries it, and its method. */
export type InFlight = { upstream: Transport; method: string };

/** What a re-initialisation needs from the bridge: its upstream, the client's handshake, its requests in flight. */
export interface ReinitialiseHost {
  /** The upstream transport in use now. */
  current(): Transport;
  /** Makes `next` the upstream in use (the new session is ready). */
  replace(next: Transport): void;
  /** The client's `initialize` (there is one whenever a re-initialisation starts). */
  initialize(): JSONRPCRequest | undefined;
  /** The client's `notifications/initialized`, once it sent one. */
  initialized(): JSONRPCNotification | undefined;
  /** Wires a new transport's callbacks to the bridge, before it starts. */
  attach(next: Transport): void;
  /** An id for one of the proxy's own upstream requests, never seen by the client. */
  nextId(kind: string): string;
  /** The bridge's client requests in flight, by id: those in the lost session fail once the new one is ready. */
  readonly inflight: Map<RequestId, InFlight>;
  /** Answers a client request with an error (the bridge's error answer). */
  answerWithError(id: RequestId, method: string, error: unknown): void;
  readonly logger: Logger;
}

type Pending = { resolve: (message: JSONRPCResponse) => void; reject: (error: unknown) => void };

/**
 * Starts a new upstream session when the old one is lost, by replaying the client's `initialize` and
 * `notifications/initialized` on a fresh transport (`reconnect`); once that session is ready it replaces the lost
 * one, and requests still in flight there get an error. One at a time: client messages wait for it ({@link pending}).
 * The replayed `initialize` is the proxy's own request; its answer comes back through {@link settle}.
 */
export class SessionReinitialiser {
  private reopening: Promise<void> | undefined;
  private readonly internal = new Map<RequestId, Pending>();

  constructor(
    private readonly options: Pick<MessageBridgeOptions, "upstreamName" | "reconnect" | "reinitializeTimeoutMs">,
    private readonly host: ReinitialiseHost,
  ) {}

  /** The re-initialisation under way, or undefined when there is none. */
  get pending(): Promise<void> | undefined {
    return this.reopening;
  }

  /** One re-initialisation at a time; client messages wait for it. */
  reinitialise(failed: Transport): Promise<void> {
    if (this.reopening) return this.reopening;
    if (failed !== this.host.current()) return Promise.resolve(); // already replaced
    this.reopening = this.reopen().finally(() => {
      this.reopening = undefined;
    });
    return this.reopening;
  }

  /** Hands an upstream answer to the proxy's own request with that id: true when it was one (not for the client). */
  settle(id: RequestId, message: JSONRPCResponse): boolean {
    if (this.internal.size === 0) return false;
    const pending = this.internal.get(id);
    if (!pending) return false;
    this.internal.delete(id);
    pending.resolve(message);
    return true;
  }

  /** The bridge is closing: the proxy's own requests will get no answer. */
  close(): void {
    for (const pending of this.internal.values()) pending.reject(new ProxyError("NETWORK", "The proxy is closing."));
    this.internal.clear();
  }

  private async reopen(): Promise<void> {
    const name = this.options.upstreamName;
    const initialize = this.host.initialize()!;
    const next = await this.options.reconnect!();
    this.host.attach(next);
    try {
      await next.start();
      const id = this.host.nextId("reinitialize");
      const answer = await this.request(next, { ...initialize, id });
      if ("error" in answer) {
        throw new ProxyError(
          "UPSTREAM_SESSION_EXPIRED",
          `The upstream ${name} lost the session and refused a new one: ${answer.error.message}`,
          {
            hint: "Reconnect the MCP client.",
          },
        );
      }
      const version = (answer.result as { protocolVersion?: unknown }).protocolVersion;
      if (typeof version === "string") next.setProtocolVersion?.(version);
      const initialized = this.host.initialized();
      if (initialized) await next.send(initialized);
    } catch (error) {
      next.onclose = undefined;
      await next.close().catch(() => {});
      if (error instanceof ProxyError) throw error;
      throw new ProxyError(
        "UPSTREAM_SESSION_EXPIRED",
        `The upstream ${name} lost the session and a new one could not be started: ${toProxyError(error, name).message}`,
        {
          hint: "Reconnect the MCP client.",
          cause: error,
        },
      );
    }
    const old = this.host.current();
    this.host.replace(next);
    old.onclose = undefined;
    void old.close().catch(() => {});
    this.host.logger.info(`started a new session with ${name}`);
    // Requests still running in the lost session will never be answered there.
    for (const [id, entry] of this.host.inflight) {
      if (entry.upstream !== old) continue;
      this.host.inflight.delete(id);
      this.host.answerWithError(
        id,
        entry.method,
        new ProxyError(
          "UPSTREAM_SESSION_EXPIRED",
          `The upstream ${name} lost the session while ${entry.method} was running.`,
          {
            hint: "Try again.",
          },
        ),
      );
    }
  }

  /** Sends one of the proxy's own requests and waits for its answer (bounded). */
  private request(transport: Transport, message: JSONRPCRequest): Promise<JSONRPCResponse> {
    const timeoutMs = this.options.reinitializeTimeoutMs ?? 30_000;
    return new Promise<JSONRPCResponse>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.internal.delete(message.id);
        reject(
          new ProxyError("UPSTREAM_TIMEOUT", `The upstream ${this.options.upstreamName} did not answer initialize.`),
        );
      }, timeoutMs);
      this.internal.set(message.id, {
        resolve: (answer) => {
          clearTimeout(timer);
          resolve(answer);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      transport.send(message).catch((error: unknown) => {
        const pending = this.internal.get(message.id);
        this.internal.delete(message.id);
        pending?.reject(error);
      });
    });
  }
}

/** Whether a send failed because the upstream no longer knows the session (HTTP 404 on a session, T25). */
export function isSessionGone(error: unknown, upstream: Transport): boolean {
  if (isHttpStatusError(error)) return error.status === 404 && upstream.sessionId !== undefined;
  // The legacy SSE client transport reports a refused POST as a plain Error naming the status.
  return error instanceof Error && !(error instanceof ProxyError) && /\(HTTP 404\)/.test(error.message);
}
