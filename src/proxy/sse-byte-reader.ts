/**
 * An SSE parser over bytes (WHATWG HTML §9.2.6 "Interpreting an event stream") that can hand on a large event's
 * data as it arrives instead of collecting it. eventsource-parser, used elsewhere, delivers an event only once it is
 * whole; the stdio face's large-response path (streamed-response.ts) must start writing a 5 MB answer while it is
 * still arriving, so that the upstream's transfer and the client's overlap and the answer is never held whole.
 *
 * Small events are delivered whole, as eventsource-parser does: lines end with CRLF, LF or CR; `data` lines are
 * joined with LF; `event`, `id` and `retry` as the standard says; comments skipped; a leading BOM dropped.
 */

export interface SseEvent {
  /** The `event` field, if the event had one. */
  event: string | undefined;
  /** The `id` field, if the event had one. */
  id: string | undefined;
  /** The joined `data` lines; empty when the data was streamed. */
  data: string;
  /** The data went to a {@link StreamedData} sink instead of `data`. */
  streamed: boolean;
}

/** Where a streamed event's data goes. A returned promise makes the reader wait before it reads on. */
export interface StreamedData {
  /** The next bytes of the data (a line break between two `data` lines arrives as one LF byte). */
  write(bytes: Buffer): Promise<void> | undefined;
  /** The event ended: all its data has been written. */
  end(): void;
  /** The stream ended or broke inside the event. */
  abort(reason: unknown): void;
}

export interface SseByteReaderOptions {
  onEvent: (event: SseEvent) => void;
  onRetry?: (ms: number) => void;
  /**
   * Called once per event whose data grows past `largeDataBytes`, with the data so far: return a sink to stream the
   * rest into, or undefined to collect the event whole as usual.
   */
  onLargeData?: (dataSoFar: Buffer, event: string | undefined) => StreamedData | undefined;
  largeDataBytes?: number;
}

const LF = 0x0a;
const CR = 0x0d;
const COLON = 0x3a;
const SPACE = 0x20;
const LINE_BREAK = Buffer.from([LF]);

export class SseByteReader {
  private readonly largeDataBytes: number;
  private started = false;
  /** The previous chunk ended with CR: an LF at the start of this one belongs to it. */
  private skipLf = false;
  /** Pieces of the line not yet ended. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  // The event being read.
  private eventType: string | undefined;
  private eventId: string | undefined;
  private data: Buffer[] = [];
  private dataBytes = 0;
  private hasData = false;
  private declined = false;
  private sink: StreamedData | undefined;
  /** The line being read is a `data` line whose bytes go straight to the sink. */
  private streamingLine = false;
  /** A data line's start already went into `data` (the offer was declined): the rest of the line follows it. */
  private continuingData = false;

  constructor(private readonly options: SseByteReaderOptions) {
    this.largeDataBytes = options.largeDataBytes ?? 128 * 1024;
  }

  /** Reads the next chunk; when it returns a promise, the caller waits for it before feeding more. */
  feed(chunk: Uint8Array): Promise<void> | undefined {
    let bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (!this.started && bytes.length > 0) {
      this.started = true;
      if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(3);
    }
    let wait: Promise<void> | undefined;
    let nextLf = -2;
    let nextCr = -2;
    let i = 0;
    while (i < bytes.length) {
      if (this.skipLf) {
        this.skipLf = false;
        if (bytes[i] === LF) {
          i++;
          continue;
        }
      }
      if (nextLf !== -1 && nextLf < i) nextLf = bytes.indexOf(LF, i);
      if (nextCr !== -1 && nextCr < i) nextCr = bytes.indexOf(CR, i);
      const stop = nextLf === -1 ? nextCr : nextCr === -1 ? nextLf : Math.min(nextLf, nextCr);
      if (stop === -1) {
        wait = this.partialLine(bytes.subarray(i)) ?? wait;
        break;
      }
      if (bytes[stop] === CR) this.skipLf = true;
      wait = this.lineEnd(bytes.subarray(i, stop)) ?? wait;
      i = stop + 1;
    }
    return wait;
  }

  /** The stream is over (or broke): an event not ended by a blank line is dropped, as the standard says. */
  end(reason: unknown = new Error("the stream ended inside an event")): void {
    const sink = this.sink;
    this.resetEvent();
    this.pending = [];
    this.pendingBytes = 0;
    sink?.abort(reason);
  }

  private partialLine(piece: Buffer): Promise<void> | undefined {
    if (piece.length === 0) return undefined;
    if (this.streamingLine) return this.sink?.write(piece);
    this.pending.push(piece);
    this.pendingBytes += piece.length;
    if (this.sink || this.declined || !this.options.onLargeData) return undefined;
    if (this.dataBytes + this.pendingBytes <= this.largeDataBytes) return undefined;
    // A long line still arriving: if it is a data line, its value so far joins the data collected before it.
    const line = Buffer.concat(this.pending);
    if (fieldOf(line) !== "data") {
      // A long line of another field (a comment): collected as usual, and not looked at again.
      this.declined = true;
      return undefined;
    }
    if (this.hasData) this.data.push(LINE_BREAK);
    this.data.push(fieldValue(line));
    this.pending = [];
    this.pendingBytes = 0;
    this.hasData = true;
    this.streamingLine = this.offerLarge();
    if (!this.streamingLine) {
      // Collected whole after all: the line's start is in `data`, its rest must follow it there.
      this.continuingData = true;
    }
    return undefined;
  }

  private lineEnd(lastPiece: Buffer): Promise<void> | undefined {
    if (this.streamingLine) {
      this.streamingLine = false;
      return lastPiece.length > 0 ? this.sink?.write(lastPiece) : undefined;
    }
    let line = lastPiece;
    if (this.pending.length !== 0) {
      this.pending.push(lastPiece);
      line = Buffer.concat(this.pending);
      this.pending = [];
      this.pendingBytes = 0;
    }
    if (this.continuingData) {
      this.continuingData = false;
      this.data.push(line);
      this.dataBytes += line.length;
      return undefined;
    }
    return this.line(line);
  }

  private line(line: Buffer): Promise<void> | undefined {
    if (line.length === 0) {
      this.dispatch();
      return undefined;
    }
    if (line[0] === COLON) return undefined;
    const field = fieldOf(line);
    const value = fieldValue(line);
    switch (field) {
      case "data":
        if (this.sink) {
          this.sink.write(LINE_BREAK);
          return value.length > 0 ? this.sink.write(value) : undefined;
        }
        if (this.hasData) {
          this.data.push(LINE_BREAK);
          this.dataBytes += 1;
        }
        this.data.push(value);
        this.dataBytes += value.length;
        this.hasData = true;
        if (!this.declined && this.options.onLargeData && this.dataBytes > this.largeDataBytes) this.offerLarge();
        return undefined;
      case "event":
        this.eventType = value.toString("utf8");
        return undefined;
      case "id":
        if (value.indexOf(0) === -1) this.eventId = value.toString("utf8");
        return undefined;
      case "retry":
        if (/^[0-9]+$/.test(value.toString("latin1"))) this.options.onRetry?.(Number(value.toString("latin1")));
        return undefined;
      default:
        return undefined;
    }
  }

  /** Asks whether to stream this event's data from here on; true when a sink took it (and the data so far). */
  private offerLarge(): boolean {
    const sink = this.options.onLargeData?.(Buffer.concat(this.data), this.eventType);
    if (!sink) {
      this.declined = true;
      this.dataBytes = this.data.reduce((sum, piece) => sum + piece.length, 0);
      return false;
    }
    this.sink = sink;
    this.data = [];
    this.dataBytes = 0;
    return true;
  }

  private dispatch(): void {
    const event = this.eventType;
    const id = this.eventId;
    if (this.sink) {
      const sink = this.sink;
      this.resetEvent();
      sink.end();
      this.options.onEvent({ event, id, data: "", streamed: true });
      return;
    }
    if (!this.hasData) {
      // No data: nothing is dispatched (the standard), but the id still counts for reconnection.
      if (id !== undefined) this.options.onEvent({ event, id, data: "", streamed: false });
      this.resetEvent();
      return;
    }
    const data = Buffer.concat(this.data).toString("utf8");
    this.resetEvent();
    this.options.onEvent({ event, id, data, streamed: false });
  }

  private resetEvent(): void {
    this.eventType = undefined;
    this.eventId = undefined;
    this.data = [];
    this.dataBytes = 0;
    this.hasData = false;
    this.declined = false;
    this.sink = undefined;
    this.streamingLine = false;
    this.continuingData = false;
  }
}

function fieldOf(line: Buffer): string {
  const colon = line.indexOf(COLON);
  return line.toString("utf8", 0, colon === -1 ? line.length : colon);
}

function fieldValue(line: Buffer): Buffer {
  const colon = line.indexOf(COLON);
  if (colon === -1) return line.subarray(line.length);
  const start = line[colon + 1] === SPACE ? colon + 2 : colon + 1;
  return line.subarray(start);
}
