import { randomUUID } from "node:crypto";
import type { JSONRPCMessage, JSONRPCRequest, RequestId } from "@modelcontextprotocol/client";
import { ProxyError } from "../../lib/errors.ts";

/**
 * The 2025 half of a 2026-07-28 `input_required` round: each embedded input request (`elicitation/create`,
 * `sampling/createMessage`, `roots/list`) becomes a real server-to-client request to the 2025 client, and its bare
 * result becomes the matching `inputResponses` entry of the retry (2026-07-28 basic/patterns/mrtr). The client only
 * gets requests for capabilities it declared in its `initialize`; anything else fails the call with a clear error.
 */

/** Most embedded requests accepted in one round: a server asking for more is misbehaving. */
export const MAX_INPUTS_PER_ROUND = 8;
/** Ids of the proxy's own requests to the client; the message bridge keeps this prefix for the proxy's own. */
const INPUT_ID_PREFIX = "mcp-u2m-proxy:input-";

type Waiting = { resolve: (result: unknown) => void; reject: (error: unknown) => void };

export class ClientInputRequests {
  private readonly waiting = new Map<RequestId, Waiting>();
  private seq = 0;

  /** `send` delivers a message to the client; `capabilities` are what it declared in `initialize`. */
  constructor(
    private readonly send: (message: JSONRPCMessage) => void,
    private readonly capabilities: () => Record<string, unknown>,
  ) {}

  /**
   * Asks the client for every entry of `inputRequests`, all at once, and resolves with the `inputResponses` map.
   * Rejects with a ProxyError when an entry is malformed or needs a capability the client did not declare, or when
   * the client answers one with an error; aborting `signal` (the client cancelled the call) withdraws them all.
   */
  async ask(inputRequests: Record<string, unknown>, signal: AbortSignal): Promise<Record<string, unknown>> {
    const entries = Object.entries(inputRequests);
    if (entries.length > MAX_INPUTS_PER_ROUND) {
      throw new ProxyError(
        "UPSTREAM_ERROR",
        `The server asked for ${entries.length} client inputs at once (at most ${MAX_INPUTS_PER_ROUND} are relayed).`,
        { hint: "Report this to the MCP server's maintainers." },
      );
    }
    const requests = entries.map(([key, request]) => [key, this.toClientRequest(request)] as const);
    const answers = await Promise.all(requests.map(([, request]) => this.request(request, signal)));
    return Object.fromEntries(requests.map(([key], i) => [key, answers[i]]));
  }

  /** A response from the client: true when it answered one of ours (and was consumed). */
  answer(message: JSONRPCMessage): boolean {
    if ("method" in message || !("id" in message) || message.id === undefined) return false;
    const waiting = this.waiting.get(message.id);
    if (!waiting) return false;
    this.waiting.delete(message.id);
    if ("error" in message) {
      const error = message.error as { code: number; message: string };
      waiting.reject(
        new ProxyError("UPSTREAM_ERROR", `The client refused the server's request: ${error.message}`, {
          details: { code: error.code },
        }),
      );
    } else waiting.resolve((message as { result: unknown }).result);
    return true;
  }

  /** The connection ended: nobody will answer. */
  abandon(): void {
    for (const waiting of this.waiting.values()) waiting.reject(new ProxyError("NETWORK", "The client disconnected."));
    this.waiting.clear();
  }

  private toClientRequest(raw: unknown): Omit<JSONRPCRequest, "id" | "jsonrpc"> {
    const request = raw as { method?: unknown; params?: unknown } | null;
    const method = request?.method;
    const params = (request?.params ?? {}) as Record<string, unknown>;
    if (typeof method !== "string" || typeof params !== "object") {
      throw new ProxyError("UPSTREAM_ERROR", "The server sent an input request without a method.", {
        hint: "Report this to the MCP server's maintainers.",
      });
    }
    const missing = this.missingCapability(method, params);
    if (missing) {
      throw new ProxyError(
        "UPSTREAM_ERROR",
        `The server needs ${missing} from the client, which this client did not declare in initialize.`,
        { hint: "Use an MCP client that supports it, or a tool that does not need it." },
      );
    }
    if (method === "elicitation/create" && params.mode === "url" && typeof params.elicitationId !== "string") {
      // 2025-11-25 URL mode requires an id the client echoes in notifications; the retry does not need it.
      return { method, params: { ...params, elicitationId: randomUUID() } };
    }
    return { method, params };
  }

  private missingCapability(method: string, params: Record<string, unknown>): string | undefined {
    const capabilities = this.capabilities();
    if (method === "sampling/createMessage") return capabilities.sampling ? undefined : "sampling";
    if (method === "roots/list") return capabilities.roots ? undefined : "roots";
    if (method === "elicitation/create") {
      const elicitation = capabilities.elicitation as Record<string, unknown> | undefined;
      if (!elicitation) return "elicitation";
      if (params.mode === "url") return elicitation.url ? undefined : "URL-mode elicitation";
      // An empty `elicitation: {}` is form mode (2025-11-25 client/elicitation §Capabilities).
      const formOnly = Object.keys(elicitation).length === 0 || elicitation.form !== undefined;
      return formOnly ? undefined : "form-mode elicitation";
    }
    return `${method} (not a client request this proxy relays)`;
  }

  private request(request: Omit<JSONRPCRequest, "id" | "jsonrpc">, signal: AbortSignal): Promise<unknown> {
    const id = `${INPUT_ID_PREFIX}${++this.seq}`;
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        if (!this.waiting.delete(id)) return;
        this.send({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: id } });
        reject(signal.reason);
      };
      this.waiting.set(id, {
        resolve: (result) => {
          signal.removeEventListener("abort", onAbort);
          resolve(result);
        },
        reject: (error) => {
          signal.removeEventListener("abort", onAbort);
          reject(error);
        },
      });
      signal.addEventListener("abort", onAbort, { once: true });
      this.send({ jsonrpc: "2.0", id, ...request } as JSONRPCRequest);
    });
  }
}
