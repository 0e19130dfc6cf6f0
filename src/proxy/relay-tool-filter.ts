import type { JSONRPCMessage, RequestId } from "@modelcontextprotocol/client";
import { createParser } from "eventsource-parser";
import { isRequestMessage, parseJsonRpcBody } from "./json-rpc-shape.ts";
import type { ToolFilter } from "./tool-filter.ts";

/**
 * Hidden tools (tool-filter.ts) on the pass-through relay, which otherwise parses nothing: when the proxy hides
 * tools, each POSTed body is read, a call of a hidden tool is answered here, and the answer to a `tools/list` is held
 * whole (JSON or an event stream), filtered and then passed on. Everything else still streams through unparsed.
 */
export type ToolScreen =
  /** Nothing here concerns tools: relay as usual. */
  | { kind: "pass" }
  /** Answer with this JSON body (HTTP 200) instead of relaying: the body calls a hidden tool. */
  | { kind: "refuse"; answer: string }
  /** Relay, but hold the answer and filter the results of these `tools/list` requests. */
  | { kind: "filter-lists"; ids: Set<RequestId> };

/** Largest `tools/list` answer held to be filtered (servers with hundreds of tools send a few MB at most). */
export const TOOL_LIST_HOLD_LIMIT = 16 * 1024 * 1024;

export function screenToolRequests(filter: ToolFilter, body: Buffer | undefined): ToolScreen {
  const messages = parseJsonRpcBody(body);
  // Not JSON-RPC: the upstream refuses it, with its own words.
  if (typeof messages === "string") return { kind: "pass" };
  const refusals = messages.map((message) => filter.refusal(message));
  if (refusals.some((refusal) => refusal !== undefined)) {
    if (messages.length === 1) return { kind: "refuse", answer: JSON.stringify(refusals[0]) };
    // A batch (2025-03-26) is refused whole, so no part of it runs while another part failed here.
    const answers = messages.flatMap((message, index) => {
      if (!isRequestMessage(message)) return [];
      return [refusals[index] ?? batchRefused(message.id)];
    });
    return { kind: "refuse", answer: JSON.stringify(answers) };
  }
  const ids = new Set<RequestId>();
  for (const message of messages) {
    if (isRequestMessage(message) && message.method === "tools/list") ids.add(message.id);
  }
  return ids.size > 0 ? { kind: "filter-lists", ids } : { kind: "pass" };
}

/**
 * A held answer to a POST with `tools/list` requests, their results without the hidden tools: a JSON body (one
 * message or a batch) or an event stream (each event written again with its id and type). Undefined when the
 * answer cannot be read (truncated, not JSON): the caller answers with an error rather than pass on the list.
 */
export function filterHeldToolLists(
  filter: ToolFilter,
  body: Buffer,
  contentType: string | undefined,
  ids: ReadonlySet<RequestId>,
): Buffer | undefined {
  const filterOne = (message: unknown): unknown =>
    message && typeof message === "object" && ids.has((message as { id?: RequestId }).id as RequestId)
      ? filter.filterList(message as JSONRPCMessage)
      : message;
  const type = (contentType ?? "").split(";")[0]?.trim().toLowerCase();
  if (type !== "text/event-stream") {
    try {
      const parsed: unknown = JSON.parse(body.toString("utf8"));
      return Buffer.from(JSON.stringify(Array.isArray(parsed) ? parsed.map(filterOne) : filterOne(parsed)));
    } catch {
      return undefined;
    }
  }
  let out = "";
  let unreadable = false;
  const parser = createParser({
    onEvent: (event) => {
      let data = event.data;
      if (data.length > 0) {
        try {
          data = JSON.stringify(filterOne(JSON.parse(data)));
        } catch {
          unreadable = true;
        }
      }
      if (event.id !== undefined) out += `id: ${event.id}\n`;
      if (event.event !== undefined) out += `event: ${event.event}\n`;
      out += `${data
        .split("\n")
        .map((line) => `data: ${line}`)
        .join("\n")}\n\n`;
    },
    onRetry: (retry) => {
      out += `retry: ${retry}\n\n`;
    },
  });
  parser.feed(body.toString("utf8"));
  return unreadable ? undefined : Buffer.from(out);
}

function batchRefused(id: RequestId): JSONRPCMessage {
  return {
    jsonrpc: "2.0",
    id,
    error: {
      code: -32600,
      message: "Not run: this batch also calls a tool the proxy hides. Send the other requests again without it.",
    },
  } as JSONRPCMessage;
}
