import type { ServerResponse } from "node:http";
import { JSON_RPC_ERROR } from "../proxy/relay-errors.ts";

/** A small JSON answer of the face's own (health, refusals): never cached, never sniffed; no body for HEAD. */
export function writeJson(res: ServerResponse, status: number, value: unknown, extra: string[] = []): void {
  const body = JSON.stringify(value);
  res.writeHead(status, [
    "content-type",
    "application/json",
    "content-length",
    String(Buffer.byteLength(body)),
    "cache-control",
    "no-store",
    "x-content-type-options",
    "nosniff",
    ...extra,
  ]);
  res.end(res.req?.method === "HEAD" ? undefined : body);
}

/** A JSON-RPC-shaped error (id null) for refusals that happen before any relaying. */
export function writeJsonError(res: ServerResponse, status: number, message: string, extra: string[] = []): void {
  writeJson(res, status, { jsonrpc: "2.0", id: null, error: { code: JSON_RPC_ERROR.INVALID_REQUEST, message } }, extra);
}

/** A JSON-RPC error (id null) with a chosen code, for the bridges' own refusals (no caching headers added). */
export function writeRpcError(
  res: ServerResponse,
  status: number,
  message: string,
  extra: string[] = [],
  code: number = JSON_RPC_ERROR.INVALID_REQUEST,
): void {
  const body = JSON.stringify({ jsonrpc: "2.0", id: null, error: { code, message } });
  res.writeHead(status, [
    "content-type",
    "application/json",
    "content-length",
    String(Buffer.byteLength(body)),
    ...extra,
  ]);
  res.end(body);
}
