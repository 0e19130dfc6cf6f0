import type { IncomingHttpHeaders } from "node:http";
import { StringDecoder } from "node:string_decoder";
import type { JSONRPCMessage, JSONRPCRequest } from "@modelcontextprotocol/client";
import { createParser } from "eventsource-parser";
import { headerString, isEventStream } from "./relay-headers.ts";
import { CACHEABLE_METHODS, type UpstreamCache } from "./result-cache.ts";
import { TransportCache } from "./transport-cache.ts";

/**
 * The result cache (result-cache.ts) on the HTTP face's pass-through relay, for 2026-07-28 clients in front of a
 * 2026-07-28 upstream. The relay parses nothing on its hot path, so this looks only at requests whose `Mcp-Method`
 * header (which only the 2026-07-28 wire sends) names a cacheable method: a repeat is answered from the cache, a
 * first one's answer is copied as it streams to the client and its result kept when the server allows it. A
 * `subscriptions/listen` stream is read as it passes for the list-changed and resource-updated notifications that
 * make entries stale. What to keep and drop is the transports' own TransportCache, one per relayed request (the
 * relay's clients choose their request ids independently).
 */

/** What the relay feeds a streamed answer's bytes to. */
export interface BodyTap {
  chunk(chunk: Buffer): void;
  /** The answer ended whole (not on a cut stream). */
  end(): void;
}

/** Given a streamed answer's head: the tap for its bytes, if they are wanted. */
export type TapFor = (status: number, headers: IncomingHttpHeaders) => BodyTap | undefined;

/** The most of an answer copied for the cache: the cache keeps nothing larger (its own limit is 1 MiB of text). */
const MAX_COPIED_BYTES = 4 * 1024 * 1024;

export class RelayCache {
  constructor(private readonly cache: UpstreamCache) {}

  /** The cacheable request a POST carries, when its `Mcp-Method` names one and its body is that request. */
  requestOf(headers: IncomingHttpHeaders, body: Buffer | undefined): JSONRPCRequest | undefined {
    const method = headerString(headers["mcp-method"]);
    if (method === undefined || !CACHEABLE_METHODS.has(method) || !body) return undefined;
    const message = parsed(body.toString("utf8")); // Unparsable: the upstream says what is wrong with it.
    const { id, method: named } = (message ?? {}) as { id?: unknown; method?: unknown };
    if (named !== method || (typeof id !== "string" && typeof id !== "number")) return undefined;
    return message as JSONRPCRequest;
  }

  /**
   * One cacheable request on its way: its cached response's JSON text when it may be answered from the cache
   * (`mayAnswer`) and a fresh result is there; otherwise the tap that keeps its result from a 200 answer (JSON or
   * SSE) once the answer has passed whole.
   */
  begin(request: JSONRPCRequest, mayAnswer: boolean): { answer: string } | { tap: TapFor } {
    const requests = new TransportCache(this.cache);
    if (mayAnswer) {
      const cached = requests.answer(request);
      if (cached) return { answer: JSON.stringify(cached) };
    } else {
      requests.expect(request);
    }
    return {
      tap: (status, headers) => {
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
            for (const message of sse ? eventsOf(text) : [parsed(text)]) offer(requests, message);
          },
        };
      },
    };
  }

  /** A tap on a `subscriptions/listen` stream: its notifications make cached entries stale as they pass. */
  readonly listenTap: TapFor = (status, headers) => {
    if (status !== 200 || !isEventStream(headers)) return undefined;
    const notifications = new TransportCache(this.cache);
    const decoder = new StringDecoder("utf8");
    const parser = createParser({ onEvent: (event) => offer(notifications, parsed(event.data)) });
    return { chunk: (chunk) => parser.feed(decoder.write(chunk)), end: () => {} };
  };
}

function offer(requests: TransportCache, message: unknown): void {
  if (message && typeof message === "object") requests.offer(message as JSONRPCMessage);
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
