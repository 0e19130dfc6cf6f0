import { Transform, type TransformCallback } from "node:stream";
import { StringDecoder } from "node:string_decoder";
import { createParser, type EventSourceMessage, type EventSourceParser } from "eventsource-parser";
import { ProxyError } from "../lib/errors.ts";

/**
 * Rewrites the `endpoint` events of a legacy HTTP+SSE stream (MCP 2024-11-05 §HTTP with SSE) so the client posts
 * its messages to the proxy.
 *
 * The stream is parsed as a client parses it (WHATWG HTML §9.2.6 "event stream interpretation": UTF-8, one leading
 * BOM dropped, CRLF/LF/CR line ends, `field:value` with one optional space) and every event is written out again in
 * one canonical form (`\n` line ends, `field: value`). No upstream byte reaches the client unparsed, so the client
 * sees exactly the events the proxy saw, and every `endpoint` event among them — not only the first — has been
 * rewritten or has ended the stream.
 *
 * What the client gets differs from the upstream's bytes only where the spec says it cannot matter: comments are
 * kept as `: text` lines, `retry` is kept when it is a valid number, unknown fields are dropped, and an `id` in a
 * block without data (which dispatches nothing) is dropped. An unterminated last event is never dispatched by a
 * client, so it is not sent.
 */
export interface EndpointRewriteOptions {
  /**
   * Maps the upstream's endpoint URI (the event's data, as parsed) to the one the client must use.
   * Called for every `endpoint` event. Throwing (e.g. for an endpoint on another origin) ends the stream with that
   * error.
   */
  rewrite: (data: string) => string;
  /**
   * Most characters the parser holds for one event (its data so far plus an unterminated line) before the stream
   * is ended with an error. Default {@link DEFAULT_MAX_EVENT_CHARS}.
   */
  maxEventChars?: number;
}

/**
 * 16 Mi characters: far above any endpoint event, and above the large tool results (resources, images as base64)
 * legacy servers send as single `message` events; memory per stream stays bounded at a few times this.
 */
export const DEFAULT_MAX_EVENT_CHARS = 16 * 1024 * 1024;

const BOM = "\uFEFF";

export class SseEndpointRewrite extends Transform {
  private readonly rewrite: (data: string) => string;
  private readonly maxEventChars: number;
  private readonly decoder = new StringDecoder("utf8");
  private readonly parser: EventSourceParser;
  /** Until the first decoded character: a leading BOM is still possible. */
  private atStart = true;
  /** The last text ended in CR, already fed as CRLF: an LF that starts the next text belongs to that line end. */
  private skipLf = false;
  /** Canonical text of what the last feed parsed, sent as one write. */
  private out: string[] = [];
  private failure: Error | undefined;

  constructor(options: EndpointRewriteOptions) {
    super();
    this.rewrite = options.rewrite;
    this.maxEventChars = options.maxEventChars ?? DEFAULT_MAX_EVENT_CHARS;
    this.parser = createParser({
      onEvent: (event) => this.out.push(this.serialise(event)),
      onRetry: (ms) => {
        if (Number.isSafeInteger(ms)) this.out.push(`retry: ${ms}\n`);
      },
      onComment: (comment) => this.out.push(`: ${comment}\n`),
      onError: (error) => {
        if (error.type !== "max-buffer-size-exceeded") return; // unknown fields, bad retry: ignored, as by clients
        this.failure ??= new ProxyError(
          "UPSTREAM_ERROR",
          `The upstream sent an SSE event larger than ${this.maxEventChars} characters; the stream was ended.`,
          { hint: "Check the upstream server; the proxy holds at most that much of one event." },
        );
      },
      maxBufferSize: this.maxEventChars,
    });
    // The parser drops "\xEF\xBB\xBF" (a BOM's bytes read as Latin-1) at the start of its first chunk; it is given
    // decoded text, where that is three ordinary characters. This empty first chunk turns that off: the real BOM
    // (U+FEFF) is dropped here, as the spec's UTF-8 decode does.
    this.parser.feed("");
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.feed(this.decoder.write(chunk), callback);
  }

  override _flush(callback: TransformCallback): void {
    // Whatever is left unterminated is an event no client dispatches: it is dropped, not sent.
    this.feed(this.decoder.end(), callback);
  }

  private feed(text: string, callback: TransformCallback): void {
    if (this.failure) {
      callback(this.failure);
      return;
    }
    if (this.atStart && text) {
      this.atStart = false;
      if (text.startsWith(BOM)) text = text.slice(1);
    }
    if (this.skipLf && text) {
      this.skipLf = false;
      if (text.startsWith("\n")) text = text.slice(1);
    }
    // A CR at the end of a chunk ends its line now (the parser would wait for a possible LF, holding an event
    // a client has already dispatched).
    if (text.endsWith("\r")) {
      text += "\n";
      this.skipLf = true;
    }
    try {
      if (text) this.parser.feed(text);
    } catch (error) {
      this.failure = error as Error;
    }
    // Events before a refused one still go out, as they would have in smaller chunks.
    const out = this.out.join("");
    this.out = [];
    if (this.failure) {
      if (out) this.push(out);
      callback(this.failure);
      return;
    }
    callback(null, out || undefined);
  }

  /** One event in canonical form; an `endpoint` event carries the rewritten URI. */
  private serialise(event: EventSourceMessage): string {
    let data = event.data;
    if (event.event === "endpoint") {
      data = this.rewrite(data);
      if (/[\r\n]/.test(data)) throw new Error("The rewritten SSE endpoint contains a line break.");
    }
    let text = "";
    if (event.id !== undefined) text += `id: ${event.id}\n`;
    if (event.event !== undefined) text += `event: ${event.event}\n`;
    // Parsed values hold no CR or LF; data lines were joined with LF.
    for (const line of data.split("\n")) text += `data: ${line}\n`;
    return `${text}\n`;
  }
}
