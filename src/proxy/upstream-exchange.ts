import type { IncomingHttpHeaders } from "node:http";
import type { Writable } from "node:stream";
import type { Dispatcher } from "undici";
import type { ClientGone } from "./client-gone.ts";
import type { BodyTap, TapFor } from "./relay-cache.ts";

/**
 * One upstream request of the relay, as an undici dispatch handler: no response object, no body stream in between.
 * Once the response head is in, `decide` says whether to stream it to the client (the hot path: `open` writes the
 * head and returns the sink, then every chunk is written as it arrives, with backpressure) or to hold it for the
 * relay to act on (challenges, server errors, transport probes: the status, headers and up to `holdLimit` bytes).
 */
export type ExchangeResult =
  /** The head went to the client and the body is streaming (or streamed). */
  | { kind: "streaming" }
  /** The response was held back; nothing was written to the client. */
  | { kind: "held"; status: number; headers: IncomingHttpHeaders; body: Buffer }
  /** No response (connect error, timeout, reset before the head, client gone). */
  | { kind: "failed"; error: Error };

export interface ExchangeOptions {
  request: Dispatcher.DispatchOptions;
  gone: ClientGone;
  decide: (status: number, headers: IncomingHttpHeaders) => "stream" | "hold";
  /** Writes the head downstream and returns where the body goes (the client's response, or a transform to it). */
  open: (status: number, headers: IncomingHttpHeaders) => Writable;
  /** The upstream broke off a response that was streaming. */
  onStreamError: (error: Error) => void;
  /** Given a streamed answer's head: what also gets its bytes as they pass (the result cache's copy), if anything. */
  tap?: TapFor | undefined;
  holdLimit?: number;
}

const DEFAULT_HOLD_LIMIT = 64 * 1024;

export function exchange(dispatcher: Dispatcher, options: ExchangeOptions): Promise<ExchangeResult> {
  return new Promise((resolve) => {
    const handler = new ExchangeHandler(options, resolve);
    try {
      dispatcher.dispatch(options.request, handler);
    } catch (error) {
      handler.fail(error as Error);
    }
  });
}

class ExchangeHandler implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  private settled = false;
  private sink: Writable | undefined;
  private tap: BodyTap | undefined;
  private held: { status: number; headers: IncomingHttpHeaders; chunks: Buffer[]; size: number } | undefined;
  private truncated = false;
  private readonly holdLimit: number;
  private readonly onGone = () => {
    this.controller?.abort(this.options.gone.reason ?? new Error("client gone"));
  };
  private readonly onDrain = () => {
    this.controller?.resume();
  };

  constructor(
    private readonly options: ExchangeOptions,
    private readonly resolve: (result: ExchangeResult) => void,
  ) {
    this.holdLimit = options.holdLimit ?? DEFAULT_HOLD_LIMIT;
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    const { gone } = this.options;
    if (gone.aborted) {
      controller.abort(gone.reason ?? new Error("client gone"));
      return;
    }
    gone.once("abort", this.onGone);
  }

  onResponseStart(controller: Dispatcher.DispatchController, status: number, headers: IncomingHttpHeaders): void {
    if (status < 200) return; // 1xx: informational, the real head follows
    if (this.options.decide(status, headers) === "hold") {
      this.held = { status, headers, chunks: [], size: 0 };
      return;
    }
    const sink = this.options.open(status, headers);
    this.sink = sink;
    this.tap = this.options.tap?.(status, headers);
    sink.on("drain", this.onDrain);
    // A sink that goes away (client disconnect) is handled by `gone`; an error on it must not be unhandled.
    sink.on("error", () => controller.abort(new Error("client stream failed")));
    this.settle({ kind: "streaming" });
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    const held = this.held;
    if (held) {
      if (held.size + chunk.length > this.holdLimit) {
        held.chunks.push(chunk.subarray(0, this.holdLimit - held.size));
        held.size = this.holdLimit;
        this.truncated = true;
        controller.abort(new Error("held response too large"));
        return;
      }
      held.chunks.push(chunk);
      held.size += chunk.length;
      return;
    }
    this.tap?.chunk(chunk);
    if (this.sink && !this.sink.write(chunk)) controller.pause();
  }

  onResponseEnd(): void {
    this.cleanup();
    if (this.held) {
      this.settleHeld();
      return;
    }
    this.tap?.end();
    this.sink?.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.cleanup();
    if (this.held && this.truncated) {
      this.settleHeld();
      return;
    }
    if (this.sink) {
      if (!this.options.gone.aborted) this.options.onStreamError(error);
      return;
    }
    this.fail(error);
  }

  fail(error: Error): void {
    this.cleanup();
    this.settle({ kind: "failed", error });
  }

  private settleHeld(): void {
    const held = this.held as NonNullable<typeof this.held>;
    const body = held.chunks.length === 1 ? (held.chunks[0] as Buffer) : Buffer.concat(held.chunks, held.size);
    this.settle({ kind: "held", status: held.status, headers: held.headers, body });
  }

  private settle(result: ExchangeResult): void {
    if (this.settled) return;
    this.settled = true;
    this.resolve(result);
  }

  private cleanup(): void {
    this.options.gone.removeListener("abort", this.onGone);
    this.sink?.off("drain", this.onDrain);
  }
}
