import { Transform, type TransformCallback } from "node:stream";
import { StringDecoder } from "node:string_decoder";

/**
 * Rewrites the `endpoint` event of a legacy HTTP+SSE stream (MCP 2024-11-05 §HTTP with SSE) so the client posts
 * its messages to the proxy, and passes every other byte through untouched. Only the beginning of the stream is
 * parsed: once the endpoint event has gone by, chunks flow straight through.
 */
export interface EndpointRewriteOptions {
  /**
   * Maps the upstream's endpoint URI (the event's data, as sent) to the one the client must use.
   * Throwing (e.g. for an endpoint on another origin) ends the stream with that error.
   */
  rewrite: (data: string) => string;
  /** Give up looking for the endpoint event after this many bytes (then pass everything through). */
  maxScanBytes?: number;
}

const EVENT_BOUNDARY = /\r\n\r\n|\n\n|\r\r/;

export class SseEndpointRewrite extends Transform {
  private readonly rewrite: (data: string) => string;
  private readonly maxScanBytes: number;
  private readonly decoder = new StringDecoder("utf8");
  private pending = "";
  private scanning = true;

  constructor(options: EndpointRewriteOptions) {
    super();
    this.rewrite = options.rewrite;
    this.maxScanBytes = options.maxScanBytes ?? 64 * 1024;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (!this.scanning) {
      callback(null, chunk);
      return;
    }
    this.pending += this.decoder.write(chunk);
    try {
      this.scan();
    } catch (error) {
      callback(error as Error);
      return;
    }
    callback();
  }

  override _flush(callback: TransformCallback): void {
    if (this.scanning) this.pending += this.decoder.end();
    if (this.pending) this.push(this.pending);
    this.pending = "";
    callback();
  }

  private scan(): void {
    for (;;) {
      const match = EVENT_BOUNDARY.exec(this.pending);
      if (!match) break;
      const end = match.index + match[0].length;
      const block = this.pending.slice(0, match.index);
      const rewritten = this.rewriteBlock(block);
      this.pending = this.pending.slice(end);
      if (rewritten !== undefined) {
        this.push(`${rewritten}\n\n`);
        this.stopScanning();
        return;
      }
      this.push(`${block}${match[0]}`);
    }
    if (Buffer.byteLength(this.pending) > this.maxScanBytes) this.stopScanning();
  }

  private stopScanning(): void {
    this.scanning = false;
    const rest = this.pending + this.decoder.end();
    this.pending = "";
    if (rest) this.push(rest);
  }

  /** The rewritten event when `block` is the endpoint event, else undefined. */
  private rewriteBlock(block: string): string | undefined {
    const lines = block.split(/\r\n|\n|\r/);
    let event = "message";
    const data: string[] = [];
    const others: string[] = [];
    for (const line of lines) {
      const colon = line.indexOf(":");
      const field = colon === -1 ? line : line.slice(0, colon);
      let value = colon === -1 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") event = value;
      else if (field === "data") data.push(value);
      else others.push(line);
    }
    if (event !== "endpoint") return undefined;
    const target = this.rewrite(data.join("\n"));
    if (/[\r\n]/.test(target)) throw new Error("The rewritten SSE endpoint contains a line break.");
    return [...others, "event: endpoint", `data: ${target}`].join("\n");
  }
}
