import type { IncomingHttpHeaders } from "node:http";
import { readAllText, type TextBody } from "./fetch-annotations.ts";

/**
 * The Response dispatcher-fetch gives a request that asked for a text body (TEXT_BODY): the status and headers as
 * undici delivered them, the body only as text pieces (`textBodyOf`). A `new Response()` builds a Headers object
 * (validating and sorting every header) and a body state per call: together with reading its headers back, that
 * was a twentieth of the era bridge's CPU for an answer whose headers are read twice. Reads here are lookups in the
 * record undici parsed. The body methods (`text()`, `json()`) read the text body; `body` stays null.
 */
export class TextResponse {
  readonly headers: Headers;
  readonly body = null;
  readonly bodyUsed = false;
  readonly redirected = false;
  readonly type = "basic" as const;
  readonly url = "";

  constructor(
    readonly status: number,
    readonly statusText: string,
    headers: IncomingHttpHeaders,
    private readonly textBody: TextBody,
  ) {
    this.headers = new RecordHeaders(headers) as unknown as Headers;
  }

  get ok(): boolean {
    return this.status >= 200 && this.status <= 299;
  }

  text(): Promise<string> {
    return readAllText(this.textBody);
  }

  async json(): Promise<unknown> {
    return JSON.parse(await this.text());
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    const bytes = Buffer.from(await this.text(), "utf8");
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  }

  clone(): never {
    throw new TypeError("A text-body response cannot be cloned.");
  }
}

/** Read-only Headers over undici's header record (lower-case names; a repeated header as an array). */
class RecordHeaders {
  constructor(private readonly record: IncomingHttpHeaders) {}

  get(name: string): string | null {
    const value = this.record[name.toLowerCase()];
    if (value === undefined) return null;
    return Array.isArray(value) ? value.join(", ") : value;
  }

  has(name: string): boolean {
    return this.record[name.toLowerCase()] !== undefined;
  }

  getSetCookie(): string[] {
    const value = this.record["set-cookie"];
    return value === undefined ? [] : Array.isArray(value) ? [...value] : [value];
  }

  forEach(callback: (value: string, name: string, headers: RecordHeaders) => void): void {
    for (const [name, value] of this.entries()) callback(value, name, this);
  }

  *entries(): IterableIterator<[string, string]> {
    // As Headers iterates: sorted by name, a repeated header joined, except set-cookie (one entry per cookie).
    for (const name of Object.keys(this.record).sort()) {
      if (name === "set-cookie") for (const cookie of this.getSetCookie()) yield [name, cookie];
      else {
        const value = this.get(name);
        if (value !== null) yield [name, value];
      }
    }
  }

  *keys(): IterableIterator<string> {
    for (const [name] of this.entries()) yield name;
  }

  *values(): IterableIterator<string> {
    for (const [, value] of this.entries()) yield value;
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }

  append(): never {
    throw new TypeError("These response headers are read-only.");
  }

  set(): never {
    throw new TypeError("These response headers are read-only.");
  }

  delete(): never {
    throw new TypeError("These response headers are read-only.");
  }
}
