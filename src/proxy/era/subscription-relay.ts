import type { JSONRPCMessage, JSONRPCNotification, RequestId } from "@modelcontextprotocol/client";
import { describeError } from "../../lib/errors.ts";
import type { Logger } from "../../lib/logger.ts";
import type { SubscriptionFilter } from "./listen-stream.ts";
import { META } from "./protocol-versions.ts";

/**
 * 2026-07-28 `subscriptions/listen` streams served from one 2025 session (2026-07-28 basic/patterns/subscriptions):
 * each listen's resource URIs become upstream `resources/subscribe` calls, reference-counted across the listens of
 * the connection (one listen ending never unsubscribes a URI another still wants); list-changed notifications come
 * from the session's GET stream. Each listen first gets `notifications/subscriptions/acknowledged` with the subset
 * the upstream can honour, then only the notifications its filter asked for, tagged with its subscription id (the
 * listen request's id).
 */

export interface SubscriptionRelayOptions {
  /** `resources/subscribe` upstream: resolves true when the upstream accepted it. */
  subscribe: (uri: string) => Promise<boolean>;
  unsubscribe: (uri: string) => Promise<void>;
  /** Sends a message to the client. */
  deliver: (message: JSONRPCMessage) => void;
  logger: Logger;
}

const LIST_CHANGED: Readonly<Record<string, keyof SubscriptionFilter>> = {
  "notifications/tools/list_changed": "toolsListChanged",
  "notifications/prompts/list_changed": "promptsListChanged",
  "notifications/resources/list_changed": "resourcesListChanged",
};

export class SubscriptionRelay {
  private readonly listens = new Map<RequestId, SubscriptionFilter>();
  /** Per URI: how many listens hold it, and the upstream subscribe's outcome. */
  private readonly uris = new Map<string, { count: number; accepted: Promise<boolean> }>();

  constructor(private readonly options: SubscriptionRelayOptions) {}

  /**
   * Opens listen `id` for `filter` against a server with `capabilities` (its `initialize` result's): subscribes
   * what is new, then acknowledges the honoured subset. Resolves with that subset.
   */
  async open(
    id: RequestId,
    filter: SubscriptionFilter,
    capabilities: Record<string, unknown>,
  ): Promise<SubscriptionFilter> {
    const caps = capabilities as {
      tools?: { listChanged?: boolean };
      prompts?: { listChanged?: boolean };
      resources?: { listChanged?: boolean; subscribe?: boolean };
    };
    const honoured: SubscriptionFilter = {};
    if (filter.toolsListChanged === true && caps.tools?.listChanged === true) honoured.toolsListChanged = true;
    if (filter.promptsListChanged === true && caps.prompts?.listChanged === true) honoured.promptsListChanged = true;
    if (filter.resourcesListChanged === true && caps.resources?.listChanged === true) {
      honoured.resourcesListChanged = true;
    }
    const wanted = [...new Set((filter.resourceSubscriptions ?? []).filter((uri) => typeof uri === "string"))];
    if (wanted.length > 0 && caps.resources?.subscribe === true) {
      const outcomes = await Promise.all(wanted.map((uri) => this.hold(uri)));
      const accepted = wanted.filter((_, i) => outcomes[i]);
      for (const uri of wanted.filter((_, i) => !outcomes[i])) this.release(uri);
      if (accepted.length > 0) honoured.resourceSubscriptions = accepted;
    }
    this.listens.set(id, honoured);
    this.options.deliver({
      jsonrpc: "2.0",
      method: "notifications/subscriptions/acknowledged",
      params: { _meta: { [META.subscriptionId]: id }, notifications: honoured },
    });
    return honoured;
  }

  /** Listen `id` ended (the client closed it): its URIs are released. */
  close(id: RequestId): void {
    const filter = this.listens.get(id);
    if (!filter) return;
    this.listens.delete(id);
    for (const uri of filter.resourceSubscriptions ?? []) this.release(uri);
  }

  has(id: RequestId): boolean {
    return this.listens.has(id);
  }

  /** The URIs held now (to subscribe again on a new upstream session). */
  heldUris(): string[] {
    return [...this.uris.keys()];
  }

  /** An upstream notification: to every listen that asked for it, tagged with its id. False when none did. */
  deliver(notification: JSONRPCNotification): boolean {
    const flag = LIST_CHANGED[notification.method];
    const uri = (notification.params as { uri?: unknown } | undefined)?.uri;
    let delivered = false;
    for (const [id, filter] of this.listens) {
      const wants =
        flag !== undefined
          ? filter[flag] === true
          : notification.method === "notifications/resources/updated" &&
            typeof uri === "string" &&
            (filter.resourceSubscriptions ?? []).includes(uri);
      if (!wants) continue;
      delivered = true;
      const params = { ...notification.params };
      params._meta = { ...(params._meta as Record<string, unknown> | undefined), [META.subscriptionId]: id };
      this.options.deliver({ ...notification, params });
    }
    return delivered;
  }

  private hold(uri: string): Promise<boolean> {
    const held = this.uris.get(uri);
    if (held) {
      held.count++;
      return held.accepted;
    }
    const accepted = this.options.subscribe(uri).catch((error: unknown) => {
      this.options.logger.debug(`resources/subscribe failed upstream: ${describeError(error)}`);
      return false;
    });
    this.uris.set(uri, { count: 1, accepted });
    return accepted;
  }

  private release(uri: string): void {
    const held = this.uris.get(uri);
    if (!held) return;
    if (--held.count > 0) return;
    this.uris.delete(uri);
    void held.accepted.then((accepted) => {
      // Subscribed again meanwhile: that listen holds the upstream subscription now.
      if (!accepted || this.uris.has(uri)) return;
      this.options.unsubscribe(uri).catch((error: unknown) => {
        this.options.logger.debug(`resources/unsubscribe failed upstream: ${describeError(error)}`);
      });
    });
  }
}
