import type { JSONRPCMessage, JSONRPCRequest } from "@modelcontextprotocol/client";
import { describeError } from "../../lib/errors.ts";
import { type Logger, silentLogger } from "../../lib/logger.ts";
import { META } from "./protocol-versions.ts";

/**
 * A 2025 client's notification interest (list-changed notifications, `resources/subscribe`) as the one 2026-07-28
 * `subscriptions/listen` stream it becomes (2026-07-28 server/utilities/subscriptions): opened with a filter of
 * what the server offers and the client subscribed to, reopened when the subscribed set changes, and reopened with
 * bounded backoff when it drops. The acknowledgement is consumed here; the subscription id is stripped from what
 * reaches the client, which knows nothing of it.
 */

/** The filter of `subscriptions/listen` (2026-07-28 SubscriptionFilter). */
export interface SubscriptionFilter {
  toolsListChanged?: boolean;
  promptsListChanged?: boolean;
  resourcesListChanged?: boolean;
  resourceSubscriptions?: string[];
}

export interface ListenStreamOptions {
  /** Runs one listen request until it ends; `signal` closes it. Resolves when the server ends it, rejects when it fails. */
  run: (request: JSONRPCRequest, onMessage: (message: JSONRPCMessage) => void, signal: AbortSignal) => Promise<unknown>;
  /** Stamps the request (protocol version, client identity) as every other request. */
  stamp: (params: Record<string, unknown>) => Record<string, unknown>;
  /** Where the client's notifications go. */
  deliver: (message: JSONRPCMessage) => void;
  logger?: Logger | undefined;
  /** First reconnection delay (doubled each time, default 250 ms) and the attempts before giving up (default 6). */
  backoffMs?: number;
  maxAttempts?: number;
}

/** A stream that lived this long worked: the next drop starts the backoff over. */
const HEALTHY_MS = 30_000;

export class ListenStream {
  private controller: AbortController | undefined;
  private filter: SubscriptionFilter = {};
  private attempts = 0;
  private seq = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly logger: Logger;

  constructor(private readonly options: ListenStreamOptions) {
    this.logger = options.logger ?? silentLogger;
  }

  /** Listens for exactly `filter` from now on (closing the current stream first); nothing when it asks for nothing. */
  update(filter: SubscriptionFilter): void {
    if (this.closed) return;
    this.filter = filter;
    this.attempts = 0;
    this.restart();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.controller?.abort();
    this.controller = undefined;
  }

  private restart(): void {
    clearTimeout(this.retryTimer);
    this.controller?.abort();
    this.controller = undefined;
    if (!wantsAnything(this.filter)) return;
    const controller = new AbortController();
    this.controller = controller;
    const request: JSONRPCRequest = {
      jsonrpc: "2.0",
      id: `mcp-u2m-proxy:listen-${++this.seq}`,
      method: "subscriptions/listen",
      params: this.options.stamp({ notifications: this.filter }),
    };
    const opened = Date.now();
    this.options
      .run(request, (message) => this.onMessage(message), controller.signal)
      .then(
        () => this.dropped(controller, opened, undefined),
        (error: unknown) => this.dropped(controller, opened, error),
      );
  }

  private onMessage(message: JSONRPCMessage): void {
    if (!("method" in message) || "id" in message) return;
    if (message.method === "notifications/subscriptions/acknowledged") return;
    const meta = message.params?._meta as Record<string, unknown> | undefined;
    if (meta && META.subscriptionId in meta) {
      const { [META.subscriptionId]: _id, ...rest } = meta;
      const params = { ...message.params };
      if (Object.keys(rest).length === 0) delete params._meta;
      else params._meta = rest;
      this.options.deliver({ ...message, params });
      return;
    }
    this.options.deliver(message);
  }

  private dropped(controller: AbortController, opened: number, error: unknown): void {
    if (this.closed || controller.signal.aborted || this.controller !== controller) return;
    this.controller = undefined;
    if (Date.now() - opened >= HEALTHY_MS) this.attempts = 0;
    const max = this.options.maxAttempts ?? 6;
    if (this.attempts >= max) {
      this.logger.warn(
        `the upstream's subscriptions/listen stream keeps failing; list-changed and resource notifications stop until the client subscribes again`,
        error === undefined ? {} : { reason: describeError(error) },
      );
      return;
    }
    const delay = (this.options.backoffMs ?? 250) * 2 ** this.attempts++;
    this.logger.debug(`subscriptions/listen ended; reopening in ${delay} ms`);
    this.retryTimer = setTimeout(() => this.restart(), delay);
    this.retryTimer.unref?.();
  }
}

function wantsAnything(filter: SubscriptionFilter): boolean {
  return (
    filter.toolsListChanged === true ||
    filter.promptsListChanged === true ||
    filter.resourcesListChanged === true ||
    (filter.resourceSubscriptions?.length ?? 0) > 0
  );
}
