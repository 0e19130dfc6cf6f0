import type { JSONRPCMessage, JSONRPCNotification, JSONRPCRequest } from "@modelcontextprotocol/client";

/**
 * Key-based JSON-RPC checks for the message path, in place of the SDK's guards and `parseJSONRPCMessage`, which run
 * a zod schema over the whole message (a 5 MB result included) every time. The proxy relays messages as they are:
 * field contents are the receiver's business.
 */

/**
 * An object with `jsonrpc: "2.0"` that is a request or notification (string `method`) or a response (an `id` with
 * `result` or `error`).
 */
export function isJsonRpcShape(value: unknown): value is JSONRPCMessage {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const message = value as Record<string, unknown>;
  if (message.jsonrpc !== "2.0") return false;
  if (typeof message.method === "string") return true;
  return "id" in message && ("result" in message || "error" in message);
}

/** A request: a method and an id (of a message already known to be JSON-RPC). */
export function isRequestMessage(message: JSONRPCMessage): message is JSONRPCRequest {
  return "method" in message && "id" in message;
}

/** A notification: a method and no id (of a message already known to be JSON-RPC). */
export function isNotificationMessage(message: JSONRPCMessage): message is JSONRPCNotification {
  return "method" in message && !("id" in message);
}

/**
 * The JSON-RPC messages of a POSTed body (one message or a batch), or the error text for a 400: not JSON, or an item
 * that is not a JSON-RPC message. The structure only: the upstream validates what it receives.
 */
export function parseJsonRpcBody(body: Buffer | undefined): JSONRPCMessage[] | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body?.toString("utf8") ?? "");
  } catch {
    return "Parse error: the body is not JSON.";
  }
  const items: unknown[] = Array.isArray(parsed) ? parsed : [parsed];
  return items.every(isJsonRpcShape) ? items : "Invalid request: the body is not a JSON-RPC message.";
}
