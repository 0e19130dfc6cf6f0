import { PassThrough, type Readable } from "node:stream";
import type { JSONRPCMessage, RequestId } from "@modelcontextprotocol/client";
import { brokeOff, malformedAnswer, mcpServer } from "../lib/messages.ts";
import { JsonOutline } from "./json-outline.ts";
import type { StreamedData } from "./sse-byte-reader.ts";
import { toJsonRpcError } from "./upstream-error.ts";

/**
 * The large-response path of the stdio face: an upstream answer from this size on is written to the client as its
 * bytes arrive, instead of being read whole, parsed and written (issue 8's lean message path). The upstream's
 * transfer and the client's then overlap, and the answer is never held whole in the proxy: a 5 MB result costs
 * the proxy a few 64 KiB chunks of memory, not the text, its parsed copy and the written buffer at once.
 *
 * What the proxy learns about such an answer it learns from its bytes (json-outline.ts): that it is a response (a
 * top-level `result` or `error`, no `method`), and at its end that it was one whole object with the request's id.
 * It stands in the message flow as a stand-in message with the request's id, so the bridge's bookkeeping (answered,
 * held behind progress) works unchanged; only a face that knows {@link streamedBodyOf} may be given one.
 */
export const STREAMED_RESPONSE_BYTES = 128 * 1024;

const bodies = new WeakMap<object, Readable>();

/** The bytes of the answer `message` stands for, when it is a streamed one; the face writes them, then a newline. */
export function streamedBodyOf(message: JSONRPCMessage): Readable | undefined {
  return bodies.get(message);
}

/** The request whose answer may be streamed, and where its messages go. */
export interface StreamableRequest {
  id: RequestId;
  method: string;
  /** Names the upstream in errors. */
  upstreamName: string;
  /** Hands a message (the stand-in, or an error answer) to the transport's reader. */
  deliver: (message: JSONRPCMessage) => void;
  /** The request's signal: when it aborts, the body is dropped and nothing more is delivered. */
  signal: AbortSignal;
}

/**
 * Starts passing on an answer whose first bytes are `prefix`: when they show a response to `request`, delivers its
 * stand-in at once and returns the sink for the rest of the bytes; else undefined (read it whole as usual).
 * Line breaks become spaces (JSON allows them only between tokens), so the answer stays one stdio line. If the
 * bytes do not end as one object with the request's id, or the stream breaks, the client's line is ended as it is
 * and the request is answered with an error naming what went wrong.
 */
export function startStreamedResponse(prefix: Buffer, request: StreamableRequest): StreamedData | undefined {
  const outline = new JsonOutline();
  outline.feed(prefix);
  if (!outline.valid || outline.keys.includes("method")) return undefined;
  if (!outline.keys.includes("result") && !outline.keys.includes("error")) return undefined;
  if (outline.id !== undefined && outline.id !== request.id) return undefined;

  const body = new PassThrough({ highWaterMark: 64 * 1024 });
  const party = mcpServer(request.upstreamName);
  let bytes = prefix.length;
  let over = false;
  const onAbort = () => body.destroy();
  request.signal.addEventListener("abort", onAbort, { once: true });
  const finish = (problem?: Error) => {
    if (over) return;
    over = true;
    request.signal.removeEventListener("abort", onAbort);
    body.end();
    if (problem && !request.signal.aborted) {
      request.deliver({ jsonrpc: "2.0", id: request.id, error: toJsonRpcError(problem, request.upstreamName) });
    }
  };
  const write = (chunk: Buffer): Promise<void> | undefined => {
    if (over || body.destroyed) return undefined;
    bytes += chunk.length;
    outline.feed(chunk);
    return body.write(oneLine(chunk)) ? undefined : drained(body);
  };

  const standIn = { jsonrpc: "2.0", id: request.id, result: {} } as JSONRPCMessage;
  bodies.set(standIn, body);
  body.write(oneLine(prefix));
  request.deliver(standIn);
  return {
    write,
    end: () => {
      let problem: string | undefined;
      if (!outline.complete) problem = "did not end as one JSON object";
      else if (outline.id !== request.id) problem = outline.id === undefined ? "had no id" : "named another request";
      finish(problem ? malformedAnswer(party, request.method, `${problem} (${bytes} bytes)`) : undefined);
    },
    abort: (reason) => finish(brokeOff(party, reason)),
  };
}

/**
 * Reads a JSON body: whole (its text) when it is small or not a response to `request`, or streamed (undefined)
 * once it passes {@link STREAMED_RESPONSE_BYTES} and shows a response.
 */
export async function readJsonOrStream(
  body: ReadableStream<Uint8Array>,
  request: StreamableRequest,
): Promise<string | undefined> {
  const reader = body.getReader();
  const chunks: Buffer[] = [];
  let size = 0;
  let sink: StreamedData | undefined;
  let declined = false;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      const chunk = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
      if (sink) {
        const wait = sink.write(chunk);
        if (wait) await wait;
        continue;
      }
      chunks.push(chunk);
      size += chunk.length;
      if (!declined && size > STREAMED_RESPONSE_BYTES) {
        sink = startStreamedResponse(Buffer.concat(chunks), request);
        declined = sink === undefined;
        if (sink) chunks.length = 0;
      }
    }
  } catch (error) {
    if (!sink) throw error;
    sink.abort(error);
    return undefined;
  } finally {
    reader.releaseLock();
  }
  if (sink) {
    sink.end();
    return undefined;
  }
  return Buffer.concat(chunks).toString("utf8");
}

function drained(body: PassThrough): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      body.off("drain", done);
      body.off("close", done);
      resolve();
    };
    body.on("drain", done);
    body.on("close", done);
  });
}

/** `chunk` with CR and LF as spaces (a copy only when it has any). */
function oneLine(chunk: Buffer): Buffer {
  if (chunk.indexOf(0x0a) === -1 && chunk.indexOf(0x0d) === -1) return chunk;
  const copy = Buffer.from(chunk);
  for (let i = 0; i < copy.length; i++) if (copy[i] === 0x0a || copy[i] === 0x0d) copy[i] = 0x20;
  return copy;
}
