/**
 * Whether an SSE byte stream, as written so far, ends between two events: at its very start, or right after a
 * blank line (two line terminators in a row, where a terminator is CRLF, LF or CR; WHATWG HTML §9.2.5). Only the
 * last few bytes are kept, so following a stream costs a few comparisons per chunk and never parses it.
 *
 * A trailing CR counts as "not yet": the next chunk may start with the LF of the same CRLF, and a comment written
 * between the two would split one terminator into two. A stream that uses bare CRs only therefore never reads as
 * being at a boundary, and gets no keep-alive comments (no known MCP server writes that).
 */
export class SseBoundary {
  /** The stream's last bytes (at most four), as char codes (the whole stream while it is shorter). */
  private tail: number[] = [];

  /** At a boundary now (a comment written here cannot land inside an event). */
  get atBoundary(): boolean {
    const tail = this.tail;
    let end = tail.length;
    if (end === 0) return true;
    if (tail[end - 1] !== LF) return false;
    // Drop one terminator: "\r\n" or "\n".
    end -= end >= 2 && tail[end - 2] === CR ? 2 : 1;
    // Before it must come another terminator, or the start of the stream.
    if (end === 0) return true;
    const before = tail[end - 1];
    return before === LF || before === CR;
  }

  /** Follows one written chunk. */
  feed(chunk: string | Uint8Array): void {
    const length = chunk.length;
    if (length === 0) return;
    const take = Math.min(length, KEEP);
    const tail = this.tail;
    if (typeof chunk === "string") {
      for (let i = length - take; i < length; i++) tail.push(chunk.charCodeAt(i));
    } else {
      for (let i = length - take; i < length; i++) tail.push(chunk[i] as number);
    }
    if (tail.length > KEEP) tail.splice(0, tail.length - KEEP);
  }
}

const LF = 0x0a;
const CR = 0x0d;
const KEEP = 4;
