import type { OutgoingHttpHeader, OutgoingHttpHeaders, ServerResponse } from "node:http";
import { SseBoundary } from "./sse-boundary.ts";

/**
 * SSE keep-alive comments on the event streams the HTTP face serves (relayed `/mcp` answers and GET streams, legacy
 * `/sse`, the proxy's own bridged streams): a stream that has been quiet for a whole interval gets `: keep-alive`,
 * written only between two events, never inside one. Fronts and load balancers that drop idle connections (an idle
 * timeout of 60–120 s is common; MCP 2026-07-28 transports recommend comments on long-lived streams) then leave a
 * quiet stream alone. Comments are ignored by every SSE parser.
 *
 * One timer serves every stream: each tick, a stream written to since the last tick is only marked quiet, and a
 * stream still quiet gets a comment. So the longest silence on the wire is under two intervals, and a stream that
 * carries events costs one flag per write. It also knows which streams are open, for the shutdown to end them.
 */
export interface SseKeepAliveOptions {
  /** Interval in ms; 0 turns comments off (the streams are still followed for the shutdown). */
  intervalMs: number;
}

export const KEEP_ALIVE_COMMENT = ": keep-alive\n\n";

interface Watched {
  res: ServerResponse;
  boundary: SseBoundary;
  /** Written to since the last tick. */
  active: boolean;
  /** A GET stream, `/sse` or `subscriptions/listen`: ended at shutdown (an answer to a call is left to finish). */
  longLived: boolean;
  /** Ended by the proxy at the next event boundary (shutdown). */
  ending: boolean;
  /** The response's own write, for the comments and for writes after the proxy ended it. */
  write: ServerResponse["write"];
}

export class SseKeepAlive {
  readonly intervalMs: number;
  private readonly streams = new Set<Watched>();
  private timer: NodeJS.Timeout | undefined;

  constructor(options: SseKeepAliveOptions) {
    this.intervalMs = Math.max(0, options.intervalMs);
  }

  /** Streams followed now. */
  get size(): number {
    return this.streams.size;
  }

  /**
   * Follows `res` if it turns out to be an event stream (a 2xx `text/event-stream` head); anything else is left as
   * it is after its head. Call before the response's head is written.
   */
  watch(res: ServerResponse, options: { longLived: boolean }): void {
    const keepAlive = this;
    const writeHead = res.writeHead;
    // Node's implicit head (a write without writeHead) calls this.writeHead too.
    res.writeHead = function (this: ServerResponse, ...args: Parameters<ServerResponse["writeHead"]>) {
      res.writeHead = writeHead;
      const result = writeHead.apply(this, args);
      if (res.statusCode >= 200 && res.statusCode < 300 && isEventStream(res, args)) {
        keepAlive.follow(res, options.longLived);
      }
      return result;
    } as ServerResponse["writeHead"];
  }

  /**
   * Ends every long-lived stream at its next event boundary (at once when it is at one) and returns how many were
   * open. The clients see a clean end of stream, which MCP clients answer by reconnecting.
   */
  endLongLived(): number {
    let count = 0;
    for (const stream of this.streams) {
      if (!stream.longLived) continue;
      count++;
      stream.ending = true;
      if (stream.boundary.atBoundary) stream.res.end();
    }
    return count;
  }

  /** Stops the timer; the streams themselves end with their sockets. */
  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.streams.clear();
  }

  private follow(res: ServerResponse, longLived: boolean): void {
    const write = res.write;
    const end = res.end;
    // Counted as active at first: the first comment comes after a whole quiet interval, not at once.
    const stream: Watched = { res, boundary: new SseBoundary(), active: true, longLived, ending: false, write };
    res.write = function (this: ServerResponse, chunk: unknown, ...rest: unknown[]) {
      // Writes after the proxy ended the stream (the upstream still sending) go nowhere, without an error.
      if (res.writableEnded) return true;
      stream.active = true;
      if (typeof chunk === "string" || chunk instanceof Uint8Array) stream.boundary.feed(chunk);
      const result = (write as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
      if (stream.ending && stream.boundary.atBoundary) res.end();
      return result;
    } as ServerResponse["write"];
    res.end = function (this: ServerResponse, ...args: unknown[]) {
      if (res.writableEnded) return this;
      return (end as (...args: unknown[]) => ServerResponse).apply(this, args);
    } as ServerResponse["end"];
    this.streams.add(stream);
    res.once("close", () => {
      this.streams.delete(stream);
      if (this.streams.size === 0) this.stopTimer();
    });
    this.startTimer();
  }

  private startTimer(): void {
    if (this.timer || this.intervalMs === 0) return;
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    // The listening server keeps the process alive, not this.
    this.timer.unref();
  }

  private stopTimer(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    for (const stream of this.streams) {
      if (stream.active) {
        stream.active = false;
        continue;
      }
      const res = stream.res;
      // A client that is not reading gets nothing more piled up; a stream mid-event waits for its end.
      if (res.writableEnded || res.destroyed || res.writableNeedDrain || !stream.boundary.atBoundary) continue;
      (stream.write as (chunk: string) => boolean).call(res, KEEP_ALIVE_COMMENT);
    }
  }
}

/** Whether the head being written declares `text/event-stream` (flat header array, object, or set headers). */
function isEventStream(
  res: ServerResponse,
  args: [number, ...(string | OutgoingHttpHeaders | OutgoingHttpHeader[] | undefined)[]],
): boolean {
  let type: unknown = res.getHeader("content-type");
  for (const arg of args.slice(1)) {
    if (Array.isArray(arg)) {
      for (let i = 0; i + 1 < arg.length; i += 2) {
        if (String(arg[i]).toLowerCase() === "content-type") type = arg[i + 1];
      }
    } else if (arg && typeof arg === "object") {
      for (const [name, value] of Object.entries(arg)) if (name.toLowerCase() === "content-type") type = value;
    }
  }
  return typeof type === "string" && type.toLowerCase().startsWith("text/event-stream");
}
