// The few reads and edits of request and response heads the relay makes, apart so the relay loop reads as a loop.
import type { IncomingHttpHeaders, IncomingMessage } from "node:http";
import { operationOf } from "../auth/authorized-fetch.ts";
import { isAuthChallenge } from "../auth/upstream-call-policy.ts";

/** An answer the OAuth core must act on: a 401, or a 403 `insufficient_scope` (isAuthChallenge). */
export function isChallenge(status: number, headers: IncomingHttpHeaders): boolean {
  return isAuthChallenge(status, headerString(headers["www-authenticate"]));
}

/** Whether the answer is an SSE stream (`text/event-stream`, parameters allowed). */
export function isEventStream(headers: IncomingHttpHeaders): boolean {
  const type = headers["content-type"];
  return typeof type === "string" && type.startsWith("text/event-stream");
}

/** The request's `Mcp-Session-Id`, if any. */
export function sessionIdOf(req: IncomingMessage): string | undefined {
  return headerString(req.headers["mcp-session-id"]);
}

/** A parsed header value as one string (repeated headers joined the way HTTP folds them). */
export function headerString(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(", ") : value;
}

/** The record with its keys in lower case (header names are case-insensitive). */
export function lowerKeys(record: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(record ?? {})) out[key.toLowerCase()] = value;
  return out;
}

/** "method:name" for per-operation step-up limits: from the 2026 headers when present, else from the body. */
export function operationFor(headers: IncomingHttpHeaders, body: Buffer | undefined): string | undefined {
  const method = headers["mcp-method"];
  if (typeof method === "string") {
    const name = headers["mcp-name"];
    return typeof name === "string" ? `${method}:${name}` : method;
  }
  if (!body) return undefined;
  return operationOf({ body: body.toString("utf8") });
}

/** Removes every entry named `name` (lower case) from a flat `[name, value, …]` header list. */
export function removeHeader(flat: string[], name: string): void {
  for (let i = flat.length - 2; i >= 0; i -= 2) {
    if ((flat[i] as string).toLowerCase() === name) flat.splice(i, 2);
  }
}
