import type { IncomingHttpHeaders } from "node:http";
import { StringDecoder } from "node:string_decoder";
import type { Dispatcher } from "undici";
import {
  type AnnotatedInit,
  attachTextBody,
  BODY_SETTLED,
  type BodySettled,
  TEXT_BODY,
  type TextBody,
  willReportBodySettled,
} from "./fetch-annotations.ts";
import { TextResponse } from "./text-response.ts";

type FetchLike = (input: string | URL, init?: RequestInit) => Promise<Response>;

/** Statuses whose response has no body (a Response with one cannot be built). */
const NULL_BODY_STATUSES = new Set([204, 205, 304]);

/**
 * `fetch` for the message path, straight over an undici dispatcher (`dispatch` with a handler of our own): the same
 * `Response` out, without fetch's per-request algorithm (a Request object, a cloned and teed body, the redirect and
 * cache steps), which was a fifth of the bridges' CPU per call. The body arrives as a ReadableStream fed with the
 * dispatcher's chunks, paused while the reader is behind. Redirects are never followed (the callers follow
 * same-origin ones themselves), as fetch with `redirect: "manual"` does in Node. String bodies only; anything else
 * goes to fetch. Failures reject as fetch's do (TypeError "fetch failed" with the cause), aborts with the signal's
 * reason, so error handling reads both alike. A BODY_SETTLED hook on the init (fetch-annotations.ts) hears when
 * each response body with content ended or was cut. With TEXT_BODY on the init, the body comes as text pieces
 * instead (`textBodyOf`; the Response's own `body` is null), on a lean Response (text-response.ts): no web stream,
 * reader, decoder or Headers object per call.
 */
export function dispatcherFetch(dispatcher: Dispatcher): FetchLike {
  return (input, init = {}) => {
    if (init.body !== undefined && init.body !== null && typeof init.body !== "string") {
      return fetch(input, Object.assign({ ...init }, { dispatcher }));
    }
    const url = typeof input === "string" ? new URL(input) : input;
    const method = (init.method ?? "GET").toUpperCase();
    const signal = init.signal ?? undefined;
    return new Promise<Response>((resolve, reject) => {
      if (signal?.aborted) {
        reject(abortReason(signal));
        return;
      }
      const settled = (init as AnnotatedInit)[BODY_SETTLED];
      const asText = (init as AnnotatedInit)[TEXT_BODY] === true;
      const handler = new ResponseHandler(method, signal, settled, asText, resolve, reject);
      try {
        dispatcher.dispatch(
          {
            origin: url.origin,
            path: `${url.pathname}${url.search}`,
            method: method as Dispatcher.HttpMethod,
            headers: withFetchDefaults(headerRecord(init.headers)),
            body: typeof init.body === "string" ? init.body : null,
          },
          handler,
        );
      } catch (error) {
        handler.onResponseError(undefined, error as Error);
      }
    });
  };
}

class ResponseHandler implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  private stream: ReadableStreamDefaultController<Uint8Array> | undefined;
  private text: QueuedTextBody | undefined;
  private answered = false;
  private response: Response | undefined;
  private readonly onAbort = () => this.controller?.abort(abortReason(this.signal as AbortSignal) as Error);

  constructor(
    private readonly method: string,
    private readonly signal: AbortSignal | undefined,
    private readonly settled: BodySettled | undefined,
    private readonly asText: boolean,
    private readonly resolve: (response: Response) => void,
    private readonly reject: (error: unknown) => void,
  ) {}

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.signal?.aborted) controller.abort(abortReason(this.signal) as Error);
    else this.signal?.addEventListener("abort", this.onAbort, { once: true });
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    status: number,
    headers: IncomingHttpHeaders,
    statusText?: string,
  ): void {
    if (status < 200) return; // 1xx: informational, the real head follows
    this.answered = true;
    if (this.asText && !NULL_BODY_STATUSES.has(status) && this.method !== "HEAD") {
      const text = new QueuedTextBody(controller, (reason) => {
        this.cleanup();
        this.settle(true);
        controller.abort(reason);
      });
      this.text = text;
      this.response = new TextResponse(status, statusText ?? "", headers, text) as unknown as Response;
      attachTextBody(this.response, text);
      if (this.settled) willReportBodySettled(this.response);
      this.resolve(this.response);
      return;
    }
    const init: ResponseInit = { status, headers: headerPairs(headers), ...(statusText ? { statusText } : {}) };
    if (NULL_BODY_STATUSES.has(status) || this.method === "HEAD") {
      this.resolve(new Response(null, init));
      return;
    }
    const body = new ReadableStream<Uint8Array>(
      {
        start: (stream) => {
          this.stream = stream;
        },
        pull: () => controller.resume(),
        cancel: (reason) => {
          this.cleanup();
          this.settle(true);
          controller.abort(reason instanceof Error ? reason : new Error("response body cancelled"));
        },
      },
      { highWaterMark: 1 },
    );
    this.response = new Response(body, init);
    if (this.settled) willReportBodySettled(this.response);
    this.resolve(this.response);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.text) {
      this.text.push(chunk);
      return;
    }
    const stream = this.stream;
    // undici hands an empty chunk on resume: nothing to pass on, and no reason to pause again.
    if (!stream || chunk.length === 0) return;
    // Passed on as it is, not copied: the chunk is a view of the bytes of one socket read, which undici neither
    // reuses nor changes, and this stream (not a byte stream) never transfers what it is given. A copy per chunk
    // doubled the memory a large answer left for the garbage collector (5 MB more per 5 MB result).
    stream.enqueue(chunk);
    if ((stream.desiredSize ?? 0) <= 0) controller.pause();
  }

  onResponseEnd(): void {
    this.cleanup();
    this.settle(false);
    this.text?.end();
    try {
      this.stream?.close();
    } catch {
      // cancelled by its reader meanwhile
    }
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, error: Error): void {
    this.cleanup();
    const reason = this.signal?.aborted ? abortReason(this.signal) : undefined;
    if (!this.answered) {
      this.reject(reason ?? new TypeError("fetch failed", { cause: error }));
      return;
    }
    this.settle(true);
    this.text?.fail(reason ?? new TypeError("terminated", { cause: error }));
    try {
      this.stream?.error(reason ?? new TypeError("terminated", { cause: error }));
    } catch {
      // cancelled by its reader meanwhile
    }
  }

  /** Tells the request's BODY_SETTLED hook, once, how this response's body ended. */
  private settle(cut: boolean): void {
    const response = this.response;
    if (!response || !this.settled) return;
    this.response = undefined;
    this.settled(response, cut);
  }

  private cleanup(): void {
    this.signal?.removeEventListener("abort", this.onAbort);
  }
}

/** Text queued before the socket is paused for a slow reader (and resumed once it is read below half of it). */
const TEXT_HIGH_WATER = 1024 * 1024;

/**
 * A response body as UTF-8 text pieces: each chunk decoded as it arrives (a character split between chunks is kept
 * for the next), handed to the waiting reader or queued; the socket paused while too much is queued.
 */
class QueuedTextBody implements TextBody {
  private readonly decoder = new StringDecoder("utf8");
  private readonly pieces: string[] = [];
  private queued = 0;
  private paused = false;
  private done = false;
  private failure: unknown;
  private waiting: { resolve: (piece: string | undefined) => void; reject: (error: unknown) => void } | undefined;

  constructor(
    private readonly controller: Dispatcher.DispatchController,
    private readonly onCancel: (reason: Error) => void,
  ) {}

  push(chunk: Buffer): void {
    if (this.done) return;
    this.hand(this.decoder.write(chunk));
    if (this.queued > TEXT_HIGH_WATER && !this.paused) {
      this.paused = true;
      this.controller.pause();
    }
  }

  end(): void {
    if (this.done) return;
    this.hand(this.decoder.end());
    this.done = true;
    this.wake();
  }

  fail(error: unknown): void {
    if (this.done) return;
    this.done = true;
    this.failure = error;
    this.wake();
  }

  next(): Promise<string | undefined> {
    const piece = this.pieces.shift();
    if (piece !== undefined) {
      this.queued -= piece.length;
      if (this.paused && this.queued < TEXT_HIGH_WATER / 2) {
        this.paused = false;
        this.controller.resume();
      }
      return Promise.resolve(piece);
    }
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.done) return Promise.resolve(undefined);
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
    });
  }

  cancel(reason?: Error): void {
    if (this.done) return;
    this.done = true;
    this.pieces.length = 0;
    this.queued = 0;
    this.onCancel(reason ?? new Error("response body cancelled"));
    this.wake();
  }

  private hand(piece: string): void {
    if (piece.length === 0) return;
    const waiting = this.waiting;
    if (waiting) {
      this.waiting = undefined;
      waiting.resolve(piece);
      return;
    }
    this.pieces.push(piece);
    this.queued += piece.length;
  }

  /** Ends the wait of a reader with nothing left to give it: the body's failure, or its end. */
  private wake(): void {
    const waiting = this.waiting;
    if (!waiting) return;
    this.waiting = undefined;
    if (this.failure !== undefined) waiting.reject(this.failure);
    else waiting.resolve(undefined);
  }
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("This operation was aborted", "AbortError");
}

/**
 * RequestInit headers as a new plain lower-case record, the form undici takes (a name given twice in a list is
 * joined with ", ", as Headers does).
 */
export function headerRecord(headers: RequestInit["headers"]): Record<string, string> {
  const record: Record<string, string> = {};
  if (!headers) return record;
  if (headers instanceof Headers) {
    for (const [name, value] of headers) record[name] = value;
    return record;
  }
  if (Array.isArray(headers)) {
    for (const [name, value] of headers as [string, string][]) {
      const key = name.toLowerCase();
      record[key] = key in record ? `${record[key]}, ${value}` : value;
    }
    return record;
  }
  for (const [name, value] of Object.entries(headers as Record<string, string>)) record[name.toLowerCase()] = value;
  return record;
}

/**
 * The request headers fetch adds when the caller did not: `user-agent` ("node", as Node's fetch sends; some fronts
 * refuse a request without one) and `accept`. Not `accept-encoding`: nothing here decompresses, so no compressed
 * answer is invited.
 */
function withFetchDefaults(headers: Record<string, string>): Record<string, string> {
  headers["user-agent"] ??= "node";
  headers.accept ??= "*/*";
  return headers;
}

/** undici's response headers (repeated ones as arrays) as pairs for a Response. */
function headerPairs(headers: IncomingHttpHeaders): [string, string][] {
  const pairs: [string, string][] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (Array.isArray(value)) for (const one of value) pairs.push([name, one]);
    else if (value !== undefined) pairs.push([name, value]);
  }
  return pairs;
}
