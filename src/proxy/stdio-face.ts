import type { Readable, Writable } from "node:stream";
import type { JSONRPCMessage, Transport } from "@modelcontextprotocol/client";
import { describeError } from "../lib/errors.ts";
import { type Logger, silentLogger } from "../lib/logger.ts";
import { jsonTextOf } from "./raw-json.ts";
import { streamedBodyOf } from "./streamed-response.ts";

export interface StdioFaceOptions {
  /** Where client messages come from (default process.stdin). */
  input?: Readable;
  /** Where messages for the client go (default process.stdout). Nothing else may write there. */
  output?: Writable;
  logger?: Logger;
  /** Longest accepted line (one message), in bytes (default 64 MiB). */
  maxMessageBytes?: number;
}

const NEWLINE = 0x0a;
/** How much of a streamed answer is written to stdout at a time. */
const STREAMED_WRITE_BYTES = 1024 * 1024;
/** How much of a streamed answer may wait in stdout's buffer before the upstream is paused. */
const STREAMED_BACKLOG_BYTES = 2 * STREAMED_WRITE_BYTES;
/** Longest a streamed answer's bytes wait for more before they are written anyway (an upstream that pauses). */
const STREAMED_WRITE_WAIT_MS = 10;

/**
 * The server side of the MCP stdio transport (2025-11-25 `basic/transports` §stdio): newline-delimited JSON-RPC
 * messages on stdin and stdout, UTF-8, no embedded newlines. Only MCP messages are written to the output.
 *
 * Unlike the SDK's stdio transports it does not schema-validate each message: the proxy passes messages on and the
 * upstream validates them, so the hot path is one `JSON.parse` in and one `JSON.stringify` out (none for an
 * upstream response passed on unchanged: its own text is written, raw-json.ts). A line that is not
 * JSON-RPC is answered with a JSON-RPC parse or invalid-request error (JSON-RPC 2.0 §5.1).
 * End of input closes the transport, unless `oninputend` is set: then the owner decides (e.g. answer the requests
 * still in flight first, then close), and the output stays open until close().
 */
export class StdioFaceTransport implements Transport {
  onclose?: (() => void) | undefined;
  onerror?: ((error: Error) => void) | undefined;
  onmessage?: ((message: JSONRPCMessage) => void) | undefined;
  /** The client's input ended (EOF); the output still works. Without a handler, end of input closes. */
  oninputend?: (() => void) | undefined;

  private readonly input: Readable;
  private readonly output: Writable;
  private readonly logger: Logger;
  private readonly maxMessageBytes: number;
  /** Bytes of a line not yet ended by a newline. */
  private partial: Buffer[] = [];
  private partialBytes = 0;
  private skipping = false;
  private started = false;
  private inputEnded = false;
  private closed = false;

  constructor(options: StdioFaceOptions = {}) {
    this.input = options.input ?? process.stdin;
    this.output = options.output ?? process.stdout;
    this.logger = options.logger ?? silentLogger;
    this.maxMessageBytes = options.maxMessageBytes ?? 64 * 1024 * 1024;
  }

  async start(): Promise<void> {
    if (this.started) throw new Error("StdioFaceTransport already started");
    this.started = true;
    this.input.on("data", this.onData);
    this.input.on("end", this.onEnd);
    this.input.on("close", this.onEnd);
    this.input.on("error", this.onInputError);
    this.output.on("error", this.onOutputError);
  }

  /** Resolves once the message has been handed to the operating system (the client may be slower than us). */
  send(message: JSONRPCMessage): Promise<void> {
    if (this.closed) return Promise.reject(new Error("stdio transport closed"));
    if (this.streaming || this.waiting.length !== 0) {
      // A large answer is being written as it arrives: later messages follow it, whole and in order.
      return new Promise((resolve, reject) => this.waiting.push(() => this.write(message).then(resolve, reject)));
    }
    return this.write(message);
  }

  /** Messages sent while a streamed answer was being written, in order. */
  private readonly waiting: Array<() => void> = [];
  private streaming: Readable | undefined;

  private write(message: JSONRPCMessage): Promise<void> {
    const body = streamedBodyOf(message);
    if (body) return this.writeStreamed(body);
    if (!this.corked) {
      // Messages produced in the same burst (a chunk of upstream SSE events) leave in one system call.
      this.corked = true;
      this.output.cork();
      process.nextTick(this.uncork);
    }
    // The text and its newline as two writes in one corked burst: no copy of a large message to append "\n".
    // Writes stay whole and in order (nothing else writes in between).
    const text = jsonTextOf(message);
    return new Promise((resolve, reject) => {
      this.output.write(text);
      this.output.write("\n", (error) => (error ? reject(error) : resolve()));
    });
  }

  /**
   * Writes the bytes of an answer passed on as it arrives (streamed-response.ts), then its newline, pausing the
   * upstream while more than STREAMED_BACKLOG_BYTES wait for the client (it reads slower than the upstream sends).
   * Bytes go out in pieces of up to 1 MiB (or what
   * came within 10 ms), not chunk by chunk: a client cannot use a line before it is whole, and the SDK clients copy
   * their whole read buffer on every read, so many small reads of one long line cost them more. A body cut
   * short still gets its newline, so the next message starts on a line of its own (the transport then answers the
   * request with an error).
   */
  private writeStreamed(body: Readable): Promise<void> {
    this.streaming = body;
    return new Promise((resolve, reject) => {
      let held: Buffer[] = [];
      let heldBytes = 0;
      let timer: NodeJS.Timeout | undefined;
      // Bytes handed to stdout and not yet taken by the system. The upstream is paused above the backlog and resumed
      // once half of it is gone (not when stdout is empty), so the upstream sends while the client reads: the two
      // overlap instead of taking turns.
      let queued = 0;
      const written = (bytes: number) => () => {
        queued -= bytes;
        if (body.isPaused() && queued <= STREAMED_BACKLOG_BYTES / 2) body.resume();
      };
      const flush = (): void => {
        clearTimeout(timer);
        timer = undefined;
        if (held.length === 0) return;
        const pieces = held;
        held = [];
        heldBytes = 0;
        // One system call for the pieces (corked: writev), without first copying them into one buffer.
        this.output.cork();
        for (const piece of pieces) {
          queued += piece.length;
          this.output.write(piece, written(piece.length));
        }
        this.output.uncork();
      };
      const onData = (chunk: Buffer) => {
        held.push(chunk);
        heldBytes += chunk.length;
        if (heldBytes >= STREAMED_WRITE_BYTES) flushOrPause();
        else timer ??= setTimeout(flushOrPause, STREAMED_WRITE_WAIT_MS);
      };
      const flushOrPause = () => {
        flush();
        if (queued > STREAMED_BACKLOG_BYTES) body.pause();
      };
      let over = false;
      const done = () => {
        if (over) return;
        over = true;
        body.off("data", onData);
        flush();
        this.output.write("\n", (error) => (error ? reject(error) : resolve()));
        this.streaming = undefined;
        while (!this.streaming && this.waiting.length !== 0) this.waiting.shift()?.();
      };
      body.on("data", onData);
      body.once("end", done);
      body.once("close", done);
    });
  }

  private corked = false;
  private readonly uncork = (): void => {
    this.corked = false;
    this.output.uncork();
  };

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // An answer still arriving cannot be finished for the client any more.
    this.streaming?.destroy();
    this.input.off("data", this.onData);
    this.input.off("end", this.onEnd);
    this.input.off("close", this.onEnd);
    // Stop reading so the process can exit; the output stays open for writes already queued.
    if (this.input === process.stdin) this.input.pause();
    else this.input.destroy();
    this.onclose?.();
  }

  private readonly onData = (chunk: Buffer | string): void => {
    const data = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    let start = 0;
    let newline = data.indexOf(NEWLINE);
    while (newline !== -1) {
      if (this.partialBytes !== 0 || this.skipping) {
        if (!this.skipping) {
          this.partial.push(data.subarray(start, newline));
          this.handleLine(Buffer.concat(this.partial).toString("utf8"));
        }
        this.partial = [];
        this.partialBytes = 0;
        this.skipping = false;
      } else {
        this.handleLine(data.toString("utf8", start, newline));
      }
      start = newline + 1;
      newline = data.indexOf(NEWLINE, start);
    }
    if (start < data.length && !this.skipping) {
      this.partial.push(start === 0 ? data : data.subarray(start));
      this.partialBytes += data.length - start;
      if (this.partialBytes > this.maxMessageBytes) {
        this.logger.warn(`dropped a client message larger than ${this.maxMessageBytes} bytes`);
        this.partial = [];
        this.partialBytes = 0;
        this.skipping = true;
        this.replyError(null, -32600, "Message too large");
      }
    }
  };

  private handleLine(line: string): void {
    let text = line;
    if (text.endsWith("\r")) text = text.slice(0, -1);
    if (text.trim().length === 0) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      this.logger.warn("the client sent a line that is not JSON");
      this.replyError(null, -32700, "Parse error");
      return;
    }
    // JSON-RPC batches (2025-03-26 only) are taken apart; upstreams since 2025-06-18 accept single messages only.
    const messages = Array.isArray(parsed) ? parsed : [parsed];
    for (const message of messages) {
      if (typeof message !== "object" || message === null || (message as { jsonrpc?: unknown }).jsonrpc !== "2.0") {
        const id = (message as { id?: unknown } | null)?.id;
        this.replyError(typeof id === "string" || typeof id === "number" ? id : null, -32600, "Invalid Request");
        continue;
      }
      this.onmessage?.(message as JSONRPCMessage);
    }
  }

  private replyError(id: string | number | null, code: number, message: string): void {
    if (this.closed) return;
    // Through send, so that it never lands inside an answer being streamed.
    this.send({ jsonrpc: "2.0", id, error: { code, message } } as unknown as JSONRPCMessage).catch(() => {});
  }

  private readonly onEnd = (): void => {
    if (this.inputEnded || this.closed) return;
    this.inputEnded = true;
    // The last line may lack its newline (`printf '%s' '{…}' | …`): it is still a message.
    if (this.partialBytes !== 0 && !this.skipping) {
      const line = Buffer.concat(this.partial).toString("utf8");
      this.partial = [];
      this.partialBytes = 0;
      this.handleLine(line);
    }
    if (this.oninputend) this.oninputend();
    else void this.close();
  };

  private readonly onInputError = (error: Error): void => {
    this.logger.debug(`stdin: ${describeError(error)}`);
    void this.close();
  };

  private readonly onOutputError = (error: Error): void => {
    // EPIPE: the host went away. Nothing more can reach it.
    this.logger.debug(`stdout: ${describeError(error)}`);
    this.onerror?.(error);
    void this.close();
  };
}
