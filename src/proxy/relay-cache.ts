import type { IncomingHttpHeaders } from "node:http";
import { StringDecoder } from "node:string_decoder";
import { createParser } from "eventsource-parser";
import { headerString, isEventStream } from "./relay-headers.ts";
import { CACHEABLE_METHODS, type CacheCaller, cacheCallerOf, type UpstreamCache } from "./result-cache.ts";

/**
 * The result cache (result-cache.ts) on the HTTP face's pass-through relay, for 2026-07-28 clients in front of a
 * 2026-07-28 upstream. The relay parses nothing on its hot path, so this looks only at requests whose `Mcp-Method`
 * header (which only the 2026-07-28 wire sends) names a cacheable method: a repeat is answered from the cache, a
 * first one's answer is copied as it streams to the client and its result kept when the server allows it. A
 * `subscriptions/listen` stream is read as it passes for the list-changed and resource-updated notifications that
 * make entries stale.
 */

/** A cacheable 2026-07-28 request, as the relay saw it. */
export interface CacheableRequest {
  id: string | number;
  method: string;
  params: unknown;
  caller: CacheCaller;
}

/** What the relay feeds a streamed answer's bytes to. */
export interface BodyTap {
  chunk(chunk: Buffer): void;
  /** The answer ended whole (not on a cut stream). */
  end(): void;
}

/** The most of an answer copied for the cache: the cache keeps nothing larger (its own limit is 1 MiB of text). */
const MAX_COPIED_BYTES = 4 * 1024 * 1024;

export class RelayCache {
  constructor(private readonly cache: UpstreamCache) {}

  /** The cacheable request a POST carries, when its `Mcp-Method` names one and a caller is known. */
  requestOf(headers: IncomingHttpHeaders, body: Buffer | undefined): CacheableRequest | undefined {
    const method = headerString(headers["mcp-method"]);
    if (method === undefined || !CACHEABLE_METHODS.has(method) || !body) return undefined;
    const caller = cacheCallerOf(this.cache);
    if (!caller) return undefined;
    let message: unknown;
    try {
      message = JSON.parse(body.toString("utf8"));
    } catch {
      return undefined; // The upstream says what is wrong with it.
    }
    const { id, method: named, params } = (message ?? {}) as { id?: unknown; method?: unknown; params?: unknown };
    if (named !== method || (typeof id !== "string" && typeof id !== "number")) return undefined;
    return { id, method, params, caller };
  }

  /** The JSON-RPC response text answering `request` from the cache, or undefined (a miss). */
  answer(request: CacheableRequest): string | undefined {
    const result = this.cache.results.lookup(request.caller, request.method, request.params);
    return result ? JSON.stringify({ jsonrpc: "2.0", id: request.id, result }) : undefined;
  }

  /** A tap that keeps the result of `request` from a 2xx answer (JSON or SSE) once it has passed whole. */
  resultTap(request: CacheableRequest, status: number, headers: IncomingHttpHeaders): BodyTap | undefined {
    if (status !== 200) return undefined;
    const sse = isEventStream(headers);
    const chunks: Buffer[] = [];
    let size = 0;
    return {
      chunk: (chunk) => {
        size += chunk.length;
        if (size <= MAX_COPIED_BYTES) chunks.push(chunk);
      },
      end: () => {
        if (size > MAX_COPIED_BYTES) return;
        const text = Buffer.concat(chunks, size).toString("utf8");
        for (const message of sse ? eventsOf(text) : [parsed(text)]) this.offer(request, message);
      },
    };
  }

  /** A tap on a `subscriptions/listen` stream: its notifications make cached entries stale as they pass. */
  listenTap(status: number, headers: IncomingHttpHeaders): BodyTap | undefined {
    if (status !== 200 || !isEventStream(headers)) return undefined;
    const decoder = new StringDecoder("utf8");
    const parser = createParser({ onEvent: (event) => this.offer(undefined, parsed(event.data)) });
    return { chunk: (chunk) => parser.feed(decoder.write(chunk)), end: () => {} };
  }

  private offer(request: CacheableRequest | undefined, message: unknown): void {
    if (!message || typeof message !== "object") return;
    const { id, method, params, result } = message as {
      id?: unknown;
      method?: unknown;
      params?: unknown;
      result?: unknown;
    };
    if (typeof method === "string") {
      if (id === undefined) this.cache.results.notified(this.cache.upstream, method, params);
      return;
    }
    if (request && id === request.id && result !== undefined) {
      this.cache.results.store(request.caller, request.method, request.params, result);
    }
  }
}

function parsed(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function eventsOf(text: string): unknown[] {
  const messages: unknown[] = [];
  const parser = createParser({ onEvent: (event) => messages.push(parsed(event.data)) });
  parser.feed(text);
  parser.feed("\n\n");
  return messages;
}
