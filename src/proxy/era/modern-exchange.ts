import type { JSONRPCMessage, JSONRPCRequest, JSONRPCResponse } from "@modelcontextprotocol/client";
import { createParser } from "eventsource-parser";
import type { FetchLike } from "../../auth/authorized-fetch.ts";
import {
  type AnnotatedInit,
  MESSAGE_METHOD,
  readAllText,
  TEXT_BODY,
  type TextBody,
  textPiecesOf,
} from "../../lib/fetch-annotations.ts";
import { HTTP_ERROR_CODES, UpstreamHttpError } from "../upstream-http-error.ts";

/**
 * One 2026-07-28 request over Streamable HTTP, as a client: POST it, then read the answer, a JSON body or an SSE
 * stream parsed as its bytes arrive (notifications first, then the response). The wire is stateless, so there is
 * nothing else: no session, no GET stream. Closing the stream (aborting `signal`) is the request's cancellation.
 */
export interface ModernExchangeOptions {
  /** The request's own headers (MCP-Protocol-Version, Mcp-Method, Mcp-Name, Mcp-Param-*). */
  headers: Record<string, string>;
  signal?: AbortSignal | undefined;
  /** Every message on the stream that is not the response (progress, log messages, list-changed notifications). */
  onMessage?: ((message: JSONRPCMessage) => void) | undefined;
}

/**
 * Sends `request` and resolves with its response (a result or a JSON-RPC error). Rejects with an UpstreamHttpError
 * (status and body text, as the SDK transports report a refused POST) for a non-2xx answer, with the fetch's own
 * error (a ProxyError when a sign-in is needed, a network failure), or when the stream ends without the response.
 */
export async function exchangeModern(
  url: URL,
  fetch: FetchLike,
  request: JSONRPCRequest,
  options: ModernExchangeOptions,
): Promise<JSONRPCResponse> {
  const init: AnnotatedInit = {
    method: "POST",
    headers: {
      ...options.headers,
      accept: "application/json, text/event-stream",
      "content-type": "application/json",
    },
    body: JSON.stringify(request),
    ...(options.signal ? { signal: options.signal } : {}),
    // Named here, so the metering layer need not read it back from the headers; the body read as text pieces.
    [MESSAGE_METHOD]: request.method,
    [TEXT_BODY]: true,
  };
  const response = await fetch(url, init);
  const body = textPiecesOf(response);
  if (!response.ok) {
    const text = await readAllText(body).catch(() => "");
    throw new UpstreamHttpError(HTTP_ERROR_CODES.notImplemented, `Error POSTing to endpoint: ${text}`, {
      status: response.status,
      statusText: response.statusText,
      text,
    });
  }
  const type = (response.headers.get("content-type") ?? "").split(";")[0]?.trim().toLowerCase();
  if (type === "text/event-stream") return readStream(body, request, options);
  const text = await readAllText(body);
  const parsed = text.length === 0 ? undefined : (JSON.parse(text) as unknown);
  for (const message of Array.isArray(parsed) ? parsed : [parsed]) {
    if (isResponseTo(message, request)) return message;
    if (message && typeof message === "object") options.onMessage?.(message as JSONRPCMessage);
  }
  throw new Error(`The server answered ${request.method} with status ${response.status} but without a response.`);
}

function isResponseTo(message: unknown, request: JSONRPCRequest): message is JSONRPCResponse {
  if (!message || typeof message !== "object" || "method" in message) return false;
  return (message as { id?: unknown }).id === request.id;
}

async function readStream(
  body: TextBody,
  request: JSONRPCRequest,
  options: ModernExchangeOptions,
): Promise<JSONRPCResponse> {
  let answer: JSONRPCResponse | undefined;
  let bad: Error | undefined;
  const parser = createParser({
    onEvent: (event) => {
      if (answer || bad || (event.event !== undefined && event.event !== "message") || event.data.length === 0) return;
      let message: unknown;
      try {
        message = JSON.parse(event.data);
      } catch {
        bad = new Error(`The server sent an event that is not JSON while answering ${request.method}.`);
        return;
      }
      if (isResponseTo(message, request)) answer = message;
      else if (message && typeof message === "object") options.onMessage?.(message as JSONRPCMessage);
    },
  });
  try {
    while (!answer && !bad) {
      const piece = await body.next();
      if (piece === undefined) break;
      parser.feed(piece);
    }
  } finally {
    // The response is in: nothing else may come on this stream, and leaving it open would hold the connection.
    body.cancel();
  }
  if (bad) throw bad;
  if (!answer) throw new Error(`The server's stream for ${request.method} ended before its response.`);
  return answer;
}
