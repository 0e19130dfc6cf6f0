// Writing the relayed answer to the client (head, transform, a broken stream's tail), apart from the relay loop.
import type { IncomingHttpHeaders, ServerResponse } from "node:http";
import type { Writable } from "node:stream";
import { describeError } from "../lib/errors.ts";
import type { Logger } from "../lib/logger.ts";
import { filterResponseHeaders, RELAYED_RESPONSE_SECURITY_HEADERS } from "./header-filter.ts";
import { networkErrorFor } from "./relay-call-errors.ts";
import { jsonRpcErrorOf, noteAnsweredError, requestIdsOf } from "./relay-errors.ts";
import { removeHeader } from "./relay-headers.ts";
import type { RelayTarget } from "./relay-target.ts";

/** What the writer needs of its relay: the upstream (its origin for Location rewrites, its href for logs). */
export interface DownstreamContext {
  /** The upstream MCP endpoint. */
  readonly upstream: URL;
  /** The upstream's origin (kept as a string: the hot path reads it per response). */
  readonly origin: string;
  readonly logger: Logger;
}

/** Writes the filtered head and returns where the body goes: the response, or the target's transform to it. */
export function openDownstream(
  res: ServerResponse,
  status: number,
  responseHeaders: IncomingHttpHeaders,
  target: RelayTarget,
  isSse: boolean,
  context: DownstreamContext,
): Writable {
  const transform = target.transform && status < 300 && isSse ? target.transform() : undefined;
  const headers = filterResponseHeaders(responseHeaders);
  if (transform) removeHeader(headers, "content-length");
  rewriteLocation(headers, context.origin);
  headers.push(...RELAYED_RESPONSE_SECURITY_HEADERS);
  res.writeHead(status, headers);
  // A GET stream may stay quiet for long: its head goes out now. A POST's head leaves with its first event, in
  // the same write (one syscall less per call); every event is then written as it arrives (noDelay sockets).
  if (isSse && res.req?.method === "GET") res.flushHeaders();
  if (!transform) return res;
  transform.on("error", (error) => {
    context.logger.warn("legacy SSE stream refused", { upstream: context.upstream.href, error: describeError(error) });
    res.destroy();
  });
  transform.pipe(res);
  return transform;
}

/**
 * The upstream broke off a response that was streaming. For an SSE answer to requests, end the stream with a
 * JSON-RPC error per request instead of a silent cut, so the client's pending calls settle with a reason (the
 * request body is parsed only now, on this error path); otherwise cut the client's response too.
 */
export function endBrokenStream(
  res: ServerResponse,
  error: Error,
  sseForRequests: boolean,
  body: Buffer | undefined,
  context: DownstreamContext,
): void {
  if (res.destroyed || res.writableEnded) return;
  context.logger.warn("upstream stream broke", { upstream: context.upstream.href, error: describeError(error) });
  noteAnsweredError(res, "NETWORK");
  const ids = sseForRequests ? requestIdsOf(body) : undefined;
  if (!ids) {
    res.destroy();
    return;
  }
  const rpcError = jsonRpcErrorOf(networkErrorFor(context.upstream.href, error, "response"));
  let tail = "\n\n";
  for (const id of ids) {
    tail += `event: message\ndata: ${JSON.stringify({ jsonrpc: "2.0", id, error: rpcError })}\n\n`;
  }
  res.end(tail);
}

/** Passes a held answer on: its filtered head with the relayed-response security headers and length, then its body. */
export function writeHeldAnswer(res: ServerResponse, status: number, headers: IncomingHttpHeaders, body: Buffer): void {
  const passed = filterResponseHeaders(headers);
  removeHeader(passed, "content-length");
  passed.push("content-length", String(body.length), ...RELAYED_RESPONSE_SECURITY_HEADERS);
  res.writeHead(status, passed);
  res.end(body);
}

/** A request the relay answers itself (from the result cache, or refusing a hidden tool): the JSON body, HTTP 200. */
export function writeJsonAnswer(res: ServerResponse, json: string): void {
  res.writeHead(200, [
    "content-type",
    "application/json",
    "content-length",
    String(Buffer.byteLength(json)),
    ...RELAYED_RESPONSE_SECURITY_HEADERS,
  ]);
  res.end(json);
}

/** An absolute redirect to the upstream origin becomes a path on the proxy (which relays it back there). */
function rewriteLocation(flat: string[], origin: string): void {
  for (let i = 0; i + 1 < flat.length; i += 2) {
    if (flat[i] !== "location") continue;
    const value = flat[i + 1] as string;
    if (value.startsWith(`${origin}/`)) flat[i + 1] = value.slice(origin.length);
  }
}
