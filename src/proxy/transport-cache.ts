import type { JSONRPCMessage, JSONRPCRequest, RequestId } from "@modelcontextprotocol/client";
import { CACHEABLE_METHODS, type CacheCaller, cacheCallerOf, type UpstreamCache } from "./result-cache.ts";

/**
 * One upstream transport's use of the result cache (result-cache.ts): a repeat 2026-07-28 cacheable request is
 * answered from it, a fresh one's result is offered to it when it comes, and notifications make entries stale.
 */
export class TransportCache {
  /** Cacheable requests sent and not yet answered: their results are offered to the cache. */
  private readonly awaiting = new Map<RequestId, { method: string; params: unknown; caller: CacheCaller }>();

  constructor(private readonly cache: UpstreamCache) {}

  /**
   * The cached answer to a 2026-07-28 request, or undefined; in that case a cacheable request is remembered so
   * that its result is kept when it comes.
   */
  answer(message: JSONRPCRequest): JSONRPCMessage | undefined {
    const caller = this.callerFor(message);
    if (!caller) return undefined;
    const cached = this.cache.results.lookup(caller, message.method, message.params);
    if (cached) return { jsonrpc: "2.0", id: message.id, result: cached };
    this.awaiting.set(message.id, { method: message.method, params: message.params, caller });
    return undefined;
  }

  /** Remembers a cacheable request without looking it up, so that its result is kept when it comes. */
  expect(message: JSONRPCRequest): void {
    const caller = this.callerFor(message);
    if (caller) this.awaiting.set(message.id, { method: message.method, params: message.params, caller });
  }

  private callerFor(message: JSONRPCRequest): CacheCaller | undefined {
    return CACHEABLE_METHODS.has(message.method) ? cacheCallerOf(this.cache) : undefined;
  }

  /** Whether the cache waits for this request's result (so the result must be read, not streamed). */
  awaits(id: RequestId): boolean {
    return this.awaiting.has(id);
  }

  /** The request failed: no result will come. */
  forget(id: RequestId): void {
    this.awaiting.delete(id);
  }

  /** A cacheable request's result goes to the cache; a list-changed notification makes entries stale. */
  offer(message: JSONRPCMessage): void {
    if ("method" in message) {
      if (!("id" in message)) this.cache.results.notified(this.cache.upstream, message.method, message.params);
      return;
    }
    if (message.id === undefined || this.awaiting.size === 0) return;
    const request = this.awaiting.get(message.id);
    if (!request) return;
    this.awaiting.delete(message.id);
    if ("result" in message) this.cache.results.store(request.caller, request.method, request.params, message.result);
  }

  clear(): void {
    this.awaiting.clear();
  }
}
