/**
 * Follows the outline of one JSON object as its bytes arrive, without building it: the top-level keys, the
 * top-level `id`, and whether the text ended as one complete object (strings closed, brackets balanced and matched,
 * nothing after it). The large-response path (streamed-response.ts) forwards an upstream answer byte for byte and
 * needs only this much to know what it forwarded. It does not check the grammar between the structure (numbers,
 * literals, commas): those bytes are the upstream's, passed on as the pass-through relay passes on a body.
 *
 * Inside strings, which are most of a large result, it jumps from quote to backslash with `indexOf` instead of
 * looking at every byte.
 */
export class JsonOutline {
  /** Top-level keys seen so far, in order. */
  readonly keys: string[] = [];
  /** The top-level `id` (string or number) once its value has ended. */
  id: string | number | undefined;

  private readonly closers: number[] = [];
  private started = false;
  private finished = false;
  private broken = false;
  private inString = false;
  private escaped = false;
  /** At depth 1, the next string is a key (after `{` or `,`). */
  private keyNext = false;
  /** The bytes of the top-level key or `id` value being read, when one is. */
  private capture: number[] | undefined;
  private capturing: "key" | "id-string" | "id-number" | undefined;
  private lastKey = "";
  /** After the top-level `"id":`, before its value starts. */
  private idNext = false;
  /** Where the next quote and backslash of the current chunk are (-1: none left, -2: not searched yet). */
  private nextQuote = -2;
  private nextBackslash = -2;

  /** Whether what has been seen can still be one JSON object. */
  get valid(): boolean {
    return !this.broken;
  }

  /** Whether the bytes so far hold one whole object and nothing else but whitespace. */
  get complete(): boolean {
    return this.finished && !this.broken;
  }

  feed(bytes: Uint8Array): void {
    if (this.broken) return;
    const data = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const end = data.length;
    this.nextQuote = this.nextBackslash = -2;
    let i = 0;
    while (i < end) {
      if (this.inString) {
        i = this.inStringFrom(data, i);
        continue;
      }
      const byte = data[i] as number;
      i++;
      if (byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09) {
        if (this.capturing === "id-number") this.endIdNumber();
        continue;
      }
      if (this.finished) {
        this.broken = true;
        return;
      }
      if (!this.started) {
        if (byte !== 0x7b) {
          this.broken = true;
          return;
        }
        this.started = true;
        this.closers.push(0x7d);
        this.keyNext = true;
        continue;
      }
      const depth = this.closers.length;
      if (this.capturing === "id-number") {
        if (byte === 0x2c || byte === 0x7d) this.endIdNumber();
        else {
          this.captureByte(byte);
          continue;
        }
      }
      switch (byte) {
        case 0x22: // "
          this.inString = true;
          if (depth === 1 && this.keyNext) this.startCapture("key");
          else if (depth === 1 && this.idNext) this.startCapture("id-string");
          this.idNext = false;
          break;
        case 0x7b: // {
        case 0x5b: // [
          this.closers.push(byte === 0x7b ? 0x7d : 0x5d);
          this.idNext = false;
          break;
        case 0x7d: // }
        case 0x5d: // ]
          if (this.closers.pop() !== byte) {
            this.broken = true;
            return;
          }
          if (this.closers.length === 0) this.finished = true;
          break;
        case 0x3a: // :
          if (depth === 1) this.idNext = this.lastKey === "id";
          break;
        case 0x2c: // ,
          if (depth === 1) this.keyNext = true;
          break;
        default:
          if (depth === 1 && this.idNext) {
            this.idNext = false;
            this.startCapture("id-number");
            this.captureByte(byte);
          }
      }
    }
  }

  /** Reads string bytes from `i`; returns where to go on. */
  private inStringFrom(data: Buffer, from: number): number {
    let i = from;
    if (this.escaped) {
      this.escaped = false;
      if (this.capture) this.captureByte(data[i] as number);
      return i + 1;
    }
    // Each search runs once per occurrence, not once per stop: a text full of escapes stays linear.
    if (this.nextQuote !== -1 && this.nextQuote < i) this.nextQuote = data.indexOf(0x22, i);
    if (this.nextBackslash !== -1 && this.nextBackslash < i) this.nextBackslash = data.indexOf(0x5c, i);
    const quote = this.nextQuote;
    const backslash = this.nextBackslash;
    const stop = quote === -1 ? backslash : backslash === -1 ? quote : Math.min(quote, backslash);
    const upTo = stop === -1 ? data.length : stop;
    if (this.capture) for (; i < upTo; i++) this.captureByte(data[i] as number);
    if (stop === -1) return data.length;
    if (stop === backslash) {
      if (this.capture) this.captureByte(0x5c);
      this.escaped = true;
      return stop + 1;
    }
    this.inString = false;
    this.endStringCapture();
    return stop + 1;
  }

  private startCapture(kind: "key" | "id-string" | "id-number"): void {
    this.capturing = kind;
    this.capture = [];
    if (kind === "key") this.keyNext = false;
  }

  private captureByte(byte: number): void {
    // Keys and ids are short; a longer one is kept only in part (it cannot be "id", "result" or "method").
    if (this.capture && this.capture.length < 256) this.capture.push(byte);
  }

  private endStringCapture(): void {
    const kind = this.capturing;
    if (kind !== "key" && kind !== "id-string") return;
    const text = decodeJsonString(this.capture ?? []);
    this.capture = undefined;
    this.capturing = undefined;
    if (kind === "key") {
      this.lastKey = text ?? "";
      this.keys.push(this.lastKey);
    } else if (text !== undefined) this.id = text;
  }

  private endIdNumber(): void {
    const text = Buffer.from(this.capture ?? []).toString("latin1");
    this.capture = undefined;
    this.capturing = undefined;
    const value = Number(text);
    if (text !== "" && Number.isFinite(value)) this.id = value;
  }
}

function decodeJsonString(bytes: number[]): string | undefined {
  try {
    return JSON.parse(`"${Buffer.from(bytes).toString("utf8")}"`) as string;
  } catch {
    return undefined;
  }
}
