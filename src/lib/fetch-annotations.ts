/**
 * Extra properties a request's `RequestInit` may carry through the proxy's fetch layers (each layer passes `init`
 * on with a spread, which keeps symbol-keyed properties; `fetch` itself ignores them). They save the layers work on
 * the message path: no second parse of a body the proxy serialised itself, no second stream around a body.
 */

/** The JSON-RPC method of the one message in the body ("" for a response), set by the transport that wrote it. */
export const MESSAGE_METHOD = Symbol("mcp-u2m-proxy.messageMethod");

/**
 * Called once when the body of a response to this request has ended (`cut` false) or broke or was cancelled
 * (`cut` true), by the fetch that honours it (dispatcher-fetch.ts, which then marks the response: see
 * `reportsBodySettled`). Each response of the request (a 401 before a retry too) reports itself.
 */
export const BODY_SETTLED = Symbol("mcp-u2m-proxy.bodySettled");

export type BodySettled = (response: Response, cut: boolean) => void;

/**
 * Asks for the response body as text pieces (`textBodyOf`) instead of a ReadableStream, from a fetch that honours it
 * (dispatcher-fetch.ts): the Response then has a null `body`, and its text comes from `textBodyOf(response)`. The
 * message path's own reader (modern-exchange.ts) asks for it: a web stream per upstream call, its reader and a
 * decoder were a tenth of the era bridge's CPU. A fetch that ignores it gives an ordinary Response; `textPiecesOf` reads
 * both. Layers between must end a response's body with `discardBody`, which knows both.
 */
export const TEXT_BODY = Symbol("mcp-u2m-proxy.textBody");

export interface AnnotatedInit extends RequestInit {
  [MESSAGE_METHOD]?: string;
  [BODY_SETTLED]?: BodySettled;
  [TEXT_BODY]?: boolean;
}

/** A response body read as UTF-8 text, piece by piece as it arrives. */
export interface TextBody {
  /** The next piece, or undefined at the end; rejects when the body broke (as a stream read would). */
  next(): Promise<string | undefined>;
  /** Stops reading: the rest is dropped and the connection is not kept waiting. */
  cancel(reason?: Error): void;
}

/** The whole of a text body, read to its end. */
export async function readAllText(body: TextBody): Promise<string> {
  let text = "";
  for (let piece = await body.next(); piece !== undefined; piece = await body.next()) text += piece;
  return text;
}

const textBodies = new WeakMap<Response, TextBody>();

/** Gives `response` (whose `body` is null) its text body. */
export function attachTextBody(response: Response, body: TextBody): void {
  textBodies.set(response, body);
}

/** The text body of a response fetched with TEXT_BODY, when the fetch honoured it. */
export function textBodyOf(response: Response): TextBody | undefined {
  return textBodies.get(response);
}

/** `response`'s body as text pieces, whichever kind it has: its text body, else its stream decoded. */
export function textPiecesOf(response: Response): TextBody {
  const text = textBodyOf(response);
  if (text) return text;
  const stream = response.body;
  if (!stream) return { next: async () => undefined, cancel: () => {} };
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let ended = false;
  return {
    next: async () => {
      if (ended) return undefined;
      const { done, value } = await reader.read();
      if (!done) return decoder.decode(value, { stream: true });
      ended = true;
      return decoder.decode();
    },
    cancel: () => {
      reader.cancel().catch(() => {});
    },
  };
}

/** Drops whatever body `response` has (a stream or a text body), so its connection is free again. */
export async function discardBody(response: Response): Promise<void> {
  textBodyOf(response)?.cancel();
  await response.body?.cancel().catch(() => {});
}

const reporting = new WeakSet<Response>();

/** Marks `response` as one whose end will be reported to its request's BODY_SETTLED hook. */
export function willReportBodySettled(response: Response): void {
  reporting.add(response);
}

/** Whether the end of `response`'s body is reported to its request's BODY_SETTLED hook. */
export function reportsBodySettled(response: Response): boolean {
  return reporting.has(response);
}
