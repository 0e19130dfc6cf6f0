import type { JSONRPCMessage, MessageExtraInfo, Transport, TransportSendOptions } from "@modelcontextprotocol/client";
import type { FetchLike } from "../auth/authorized-fetch.ts";
import { type AnnotatedInit, MESSAGE_METHOD } from "../lib/fetch-annotations.ts";
import { linkedSignal } from "../lib/linked-signal.ts";
import { modernRequestHeaders } from "./era/mcp-request-headers.ts";
import { isJsonRpcShape, isRequestMessage as isRequest } from "./json-rpc-shape.ts";
import { rememberRawJson } from "./raw-json.ts";
import type { UpstreamCache } from "./result-cache.ts";
import { fetchKeepingOrigin } from "./same-origin-redirects.ts";
import { SseByteReader } from "./sse-byte-reader.ts";
import {
  readJsonOrStream,
  STREAMED_RESPONSE_BYTES,
  type StreamableRequest,
  startStreamedResponse,
} from "./streamed-response.ts";
import { TransportCache } from "./transport-cache.ts";
import { HTTP_ERROR_CODES, UpstreamHttpError } from "./upstream-http-error.ts";

const PROTOCOL_VERSION_META_KEY = "io.modelcontextprotocol/protocolVersion";
/** Answers always read whole: the handshake, and the tool list (the proxy may hide tools from it, tool-filter.ts). */
const NEVER_STREAMED = new Set(["initialize", "tools/list"]);
/** Headers the transport derives itself; a caller's per-request headers may not override them (as the SDK). */
const RESERVED = new Set([
  "authorization",
  "dpop",
  "content-type",
  "mcp-protocol-version",
  "mcp-method",
  "mcp-name",
  "mcp-session-id",
]);

export interface LeanReconnection {
  initialDelayMs: number;
  maxDelayMs: number;
  growFactor: number;
  maxRetries: number;
}

const DEFAULT_RECONNECTION: LeanReconnection = {
  initialDelayMs: 1_000,
  maxDelayMs: 30_000,
  growFactor: 1.5,
  maxRetries: 5,
};

type StreamOptions = {
  resumptionToken?: string | undefined;
  replayId?: string | number | undefined;
  requestSignal?: AbortSignal | undefined;
  onRequestStreamEnd?: (() => void) | undefined;
  /** The request whose answer this stream carries, when that answer may be streamed (streamed-response.ts). */
  streamable?: StreamableRequest | undefined;
};

export interface LeanTransportOptions {
  /**
   * Pass large answers on as their bytes arrive (streamed-response.ts). Only for a reader that writes them
   * unchanged and knows stand-in messages: the stdio face's pass-through, never a bridge that rewrites results.
   */
  streamLargeResponses?: boolean;
}

/**
 * Streamable HTTP client transport for the proxy's message path, a drop-in for the SDK's
 * `StreamableHTTPClientTransport` as the proxy uses it, without its per-message schema validation and stream
 * pipelines: JSON bodies are parsed once, SSE bodies as they arrive (sse-byte-reader.ts); on the stdio face, large
 * answers are passed on as their bytes arrive (streamed-response.ts). Auth is the FetchLike's job.
 */
export class LeanHttpClientTransport implements Transport {
  onclose?: (() => void) | undefined;
  onerror?: ((error: Error) => void) | undefined;
  onmessage?: (<T extends JSONRPCMessage>(message: T, extra?: MessageExtraInfo) => void) | undefined;
  readonly hasPerRequestStream = true;

  private readonly abort = new AbortController();
  private session: string | undefined;
  private protocolVersion: string | undefined;
  private serverRetryMs: number | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;

  constructor(
    private readonly url: URL,
    private readonly fetch: FetchLike,
    private readonly reconnection: LeanReconnection = DEFAULT_RECONNECTION,
    /** Where 2026-07-28 cacheable results are kept and reused (result-cache.ts), and who asks. */
    cache?: UpstreamCache | undefined,
    private readonly options: LeanTransportOptions = {},
  ) {
    this.cache = cache ? new TransportCache(cache) : undefined;
  }

  private readonly cache: TransportCache | undefined;

  get sessionId(): string | undefined {
    return this.session;
  }

  async start(): Promise<void> {}

  setProtocolVersion(version: string): void {
    this.protocolVersion = version;
  }

  async send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    const requestSignal = options?.requestSignal;
    // The request's own signal joined to the transport's, unhooked when the request is over (linked-signal.ts).
    let link: ReturnType<typeof linkedSignal> | undefined;
    let streamOwnsLink = false;
    try {
      if (options?.resumptionToken) {
        const replayId = isRequest(message) ? message.id : undefined;
        this.openGet({ resumptionToken: options.resumptionToken, replayId, requestSignal }).catch((e) => this.fail(e));
        return;
      }
      const handshake = isRequest(message) && message.method === "initialize";
      let modern = false;
      const headers = this.headers(!handshake);
      if (isRequest(message)) {
        const version = (message.params?._meta as Record<string, unknown> | undefined)?.[PROTOCOL_VERSION_META_KEY];
        if (typeof version === "string") {
          modern = version >= "2026";
          const cached = modern ? this.cache?.answer(message) : undefined;
          if (cached) {
            // Answered from the cache, as the upstream would have (asynchronously, after send resolves).
            queueMicrotask(() => this.onmessage?.(cached));
            return;
          }
          // As the SDK: the envelope's version, the method and Mcp-Name travel as headers.
          const derived = modernRequestHeaders(message.method, message.params as Record<string, unknown>);
          Object.assign(headers, derived, { "mcp-protocol-version": version });
        }
      }
      for (const [name, value] of Object.entries(options?.headers ?? {})) {
        if (!RESERVED.has(name.toLowerCase())) headers[name.toLowerCase()] = value;
      }
      headers["content-type"] = "application/json";
      headers.accept = "application/json, text/event-stream";
      if (requestSignal) link = linkedSignal(this.abort.signal, requestSignal);
      const init: AnnotatedInit = {
        method: "POST",
        headers,
        body: JSON.stringify(message),
        signal: link?.signal ?? this.abort.signal,
        // Named here, so that no layer below parses the body again to learn it (metered-fetch.ts).
        [MESSAGE_METHOD]: "method" in message ? message.method : "",
      };
      const response = await this.request(init);
      if (handshake && response.ok) this.session = response.headers.get("mcp-session-id") || undefined;
      if (!response.ok) {
        const text = await response.text().catch(() => null);
        const answer = response.status === 400 && modern ? errorAnswerTo(message, text) : undefined;
        if (answer) {
          // As the SDK: a 2026-07-28 server's 400 JSON-RPC error is the request's answer, not a transport failure.
          this.onmessage?.(answer);
          return;
        }
        const status = `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ""}`;
        throw new UpstreamHttpError(HTTP_ERROR_CODES.notImplemented, `Error POSTing to endpoint (${status}): ${text}`, {
          status: response.status,
          statusText: response.statusText,
          text,
        });
      }
      // 202 (or 204): accepted, nothing in the body; a request's answer then comes on the GET stream.
      if (response.status === 202 || response.status === 204 || !isRequest(message)) {
        await response.body?.cancel().catch(() => {});
        if (
          response.status === 202 &&
          !("id" in message) &&
          "method" in message &&
          message.method === "notifications/initialized"
        )
          this.openGet({}).catch((e) => this.fail(e));
        return;
      }
      const type = (response.headers.get("content-type") ?? "").split(";", 1)[0]?.trim().toLowerCase();
      const streamable = this.streamableRequest(message, init.signal as AbortSignal);
      if (type === "text/event-stream") {
        streamOwnsLink = true;
        void this.consume(
          response.body,
          { requestSignal, onRequestStreamEnd: options?.onRequestStreamEnd, streamable },
          false,
        ).finally(() => link?.release());
      } else if (type === "application/json") {
        const text =
          streamable && response.body ? await readJsonOrStream(response.body, streamable) : await response.text();
        if (text === undefined) return; // passed on as it arrived
        let data: unknown;
        try {
          data = JSON.parse(text);
        } catch {
          throw new Error(
            `The upstream answered ${message.method} with a body that is not JSON (${text.length} characters, HTTP ${response.status}).`,
          );
        }
        if (Array.isArray(data)) for (const one of data) this.deliver(one);
        else {
          if (isJsonRpcShape(data)) rememberRawJson(data, text);
          this.deliver(data);
        }
      } else {
        await response.body?.cancel().catch(() => {});
        throw new Error(`Unexpected content type: ${response.headers.get("content-type")}`);
      }
    } catch (error) {
      if (isRequest(message)) this.cache?.forget(message.id);
      if (!requestSignal?.aborted) this.onerror?.(error as Error);
      throw error;
    } finally {
      if (!streamOwnsLink) link?.release();
    }
  }

  /** DELETE with the session id; 405 means the server keeps sessions itself (fine). */
  async terminateSession(): Promise<void> {
    if (!this.session) return;
    const response = await this.request({
      method: "DELETE",
      headers: this.headers(true),
      signal: this.abort.signal,
    });
    await response.body?.cancel().catch(() => {});
    if (!response.ok && response.status !== 405) {
      throw new UpstreamHttpError(
        HTTP_ERROR_CODES.failedToTerminateSession,
        `Failed to terminate session: ${response.statusText}`,
        {
          status: response.status,
          statusText: response.statusText,
        },
      );
    }
    this.session = undefined;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.cache?.clear();
    this.abort.abort();
    this.onclose?.();
  }

  /** One request to the endpoint, following only same-origin redirects that keep the method. */
  private request(init: RequestInit): Promise<Response> {
    return fetchKeepingOrigin(this.fetch, this.url, init);
  }

  /** Hands on a parsed message that has the JSON-RPC 2.0 shape; anything else is reported, not delivered. */
  private deliver(message: unknown): void {
    if (!isJsonRpcShape(message)) {
      this.fail(new Error("The upstream sent a message that is not JSON-RPC 2.0; it was dropped."));
      return;
    }
    this.cache?.offer(message);
    this.onmessage?.(message);
  }

  /** The request, when its answer may be passed on as it arrives: not the handshake, nor one the cache awaits. */
  private streamableRequest(message: JSONRPCMessage, signal: AbortSignal): StreamableRequest | undefined {
    if (!this.options.streamLargeResponses || !isRequest(message) || NEVER_STREAMED.has(message.method)) {
      return undefined;
    }
    if (this.cache?.awaits(message.id)) return undefined;
    return {
      id: message.id,
      method: message.method,
      upstreamName: this.url.href,
      deliver: (answer) => this.deliver(answer),
      signal,
    };
  }

  private headers(withSession: boolean): Record<string, string> {
    const headers: Record<string, string> = {};
    if (withSession && this.session) headers["mcp-session-id"] = this.session;
    if (this.protocolVersion) headers["mcp-protocol-version"] = this.protocolVersion;
    return headers;
  }

  private fail(error: unknown): void {
    if (!this.closed) this.onerror?.(error instanceof Error ? error : new Error(String(error)));
  }

  /** GET stream: the standalone one (no token) or a resumed request stream (Last-Event-ID). 405: none offered. */
  private async openGet(options: StreamOptions, attempt = 0): Promise<void> {
    const headers = this.headers(true);
    headers.accept = "text/event-stream";
    if (options.resumptionToken) headers["last-event-id"] = options.resumptionToken;
    const link = options.requestSignal ? linkedSignal(this.abort.signal, options.requestSignal) : undefined;
    let response: Response;
    try {
      response = await this.request({ method: "GET", headers, signal: link?.signal ?? this.abort.signal });
    } catch (error) {
      link?.release();
      throw error;
    }
    if (!response.ok) {
      link?.release();
      await response.body?.cancel().catch(() => {});
      if (response.status === 405) {
        options.onRequestStreamEnd?.();
        return;
      }
      throw new UpstreamHttpError(
        HTTP_ERROR_CODES.failedToOpenStream,
        `Failed to open SSE stream: ${response.statusText}`,
        {
          status: response.status,
          statusText: response.statusText,
        },
      );
    }
    void this.consume(response.body, options, true, attempt).finally(() => link?.release());
  }

  /**
   * Delivers a stream's messages as they are parsed. A stream that ends or breaks before its response (or the
   * standalone stream, any time) is resumed from its last event id with bounded backoff, as the SDK does. The count
   * of attempts starts again only after a stream that carried an event: one that opens and drops at once (a proxy
   * in between timing out, a server that closes every stream) is retried at most `maxRetries` times, not forever.
   */
  private async consume(
    body: ReadableStream<Uint8Array> | null,
    options: StreamOptions,
    reconnectable: boolean,
    attempt = 0,
  ): Promise<void> {
    const aborted = () => this.closed || options.requestSignal?.aborted === true;
    let lastEventId = options.resumptionToken;
    let primed = false;
    let progressed = false;
    let answered = false;
    let broken: unknown;
    if (body) {
      const streamable = options.replayId === undefined ? options.streamable : undefined;
      const sse = new SseByteReader({
        onEvent: (event) => {
          progressed = true;
          if (event.id) {
            lastEventId = event.id;
            primed = true;
          }
          if (!event.data || (event.event && event.event !== "message")) return;
          let message: unknown;
          try {
            message = JSON.parse(event.data);
          } catch {
            this.fail(new Error(`The upstream sent an SSE event that is not JSON (${event.data.length} characters).`));
            return;
          }
          if (isJsonRpcShape(message) && !("method" in message) && "id" in message) {
            answered = true;
            if (options.replayId !== undefined) message.id = options.replayId;
            // Passed on unchanged, the upstream's own text goes to the client (no second serialisation).
            else rememberRawJson(message, event.data);
          }
          this.deliver(message);
        },
        onRetry: (ms) => {
          this.serverRetryMs = ms;
        },
        largeDataBytes: STREAMED_RESPONSE_BYTES,
        ...(streamable
          ? {
              onLargeData: (dataSoFar: Buffer, event: string | undefined) => {
                if ((event && event !== "message") || answered) return undefined;
                const sink = startStreamedResponse(dataSoFar, streamable);
                if (sink) answered = true;
                return sink;
              },
            }
          : {}),
      });
      const reader = body.getReader();
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          const wait = sse.feed(value);
          if (wait) await wait;
        }
        sse.end();
      } catch (error) {
        broken = error;
        sse.end(error);
      } finally {
        reader.releaseLock();
      }
    }
    if (aborted()) return;
    if (broken) this.fail(new Error(`SSE stream disconnected: ${broken}`));
    if (body && (reconnectable || primed) && !answered) {
      this.reconnect({ ...options, resumptionToken: lastEventId }, progressed ? 0 : attempt);
    } else {
      options.onRequestStreamEnd?.();
    }
  }

  private reconnect(options: StreamOptions, attempt: number): void {
    if (attempt >= this.reconnection.maxRetries) {
      this.fail(new Error(`Maximum reconnection attempts (${this.reconnection.maxRetries}) exceeded.`));
      options.onRequestStreamEnd?.();
      return;
    }
    const { initialDelayMs, growFactor, maxDelayMs } = this.reconnection;
    const delay = Math.min(this.serverRetryMs ?? initialDelayMs * growFactor ** attempt, maxDelayMs);
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (this.closed || options.requestSignal?.aborted) return;
      this.openGet(options, attempt + 1).catch((error) => {
        if (this.closed || options.requestSignal?.aborted) return;
        this.fail(
          new Error(`Failed to reconnect SSE stream: ${error instanceof Error ? error.message : String(error)}`),
        );
        this.reconnect(options, attempt + 1);
      });
    }, delay);
    this.timers.add(timer);
  }
}

/** The JSON-RPC error response in `text` when it answers `request`, else undefined. */
function errorAnswerTo(request: JSONRPCMessage, text: string | null): JSONRPCMessage | undefined {
  if (!text || !("id" in request)) return undefined;
  try {
    const parsed = JSON.parse(text) as { jsonrpc?: unknown; id?: unknown; error?: unknown };
    return parsed?.jsonrpc === "2.0" && parsed.error && parsed.id === request.id
      ? (parsed as JSONRPCMessage)
      : undefined;
  } catch {
    return undefined;
  }
}
