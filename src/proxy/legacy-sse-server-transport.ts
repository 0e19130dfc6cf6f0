import { randomUUID } from "node:crypto";
import type { ServerResponse } from "node:http";
import type { JSONRPCMessage, Transport } from "@modelcontextprotocol/client";
import { parseJsonRpcBody } from "./json-rpc-shape.ts";

/** The response header of `GET /sse` naming the legacy session (deploy/haproxy/haproxy.cfg sticks on it). */
export const LEGACY_SESSION_HEADER = "x-mcp-sse-session-id";

import { jsonTextOf } from "./raw-json.ts";

/**
 * The server side of the legacy HTTP+SSE transport (MCP 2024-11-05 §HTTP with SSE), facing a downstream client when
 * the upstream does not speak it: the GET response is the event stream (`endpoint` first, then `message` events),
 * and the client's POSTs to the endpoint are handed in with {@link receive}. The message bridge connects it to an
 * upstream client transport.
 */
export class LegacySseServerTransport implements Transport {
  readonly sessionId = randomUUID();
  onclose?: (() => void) | undefined;
  onerror?: ((error: Error) => void) | undefined;
  onmessage?: ((message: JSONRPCMessage) => void) | undefined;
  private closed = false;

  /**
   * @param res the response of the client's `GET /sse`, not yet written
   * @param endpointPath where the client must POST (the session id is added as `?sessionId=`)
   */
  constructor(
    private readonly res: ServerResponse,
    private readonly endpointPath = "/message",
  ) {}

  async start(): Promise<void> {
    this.res.writeHead(200, {
      "content-type": "text/event-stream",
      "cache-control": "no-cache, no-transform",
      "x-accel-buffering": "no",
      // The session id in a header as well as in the endpoint event: a load balancer reads headers, not the
      // stream, and routes the session's POSTs (`?sessionId=`) to this replica, which holds it in memory.
      [LEGACY_SESSION_HEADER]: this.sessionId,
    });
    this.res.write(`event: endpoint\ndata: ${this.endpointPath}?sessionId=${this.sessionId}\n\n`);
    this.res.once("close", () => this.finish());
  }

  /**
   * Writes one message event; resolves once the socket took it (or at once when already closed). Events of one
   * tick (a chunk of upstream SSE) leave in one system call; while the socket is full, every send waits on one
   * shared drain (a listener per send would make each drain cost as much as the backlog: quadratic in a burst).
   */
  send(message: JSONRPCMessage): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (!this.corked) {
      this.corked = true;
      this.res.cork();
      process.nextTick(this.uncork);
    }
    // Three writes in one corked burst rather than one concatenated copy of a large message.
    this.res.write("event: message\ndata: ");
    this.res.write(jsonTextOf(message));
    if (this.res.write("\n\n")) return Promise.resolve();
    this.drained ??= new Promise<void>((resolve) => {
      const done = () => {
        this.res.off("drain", done);
        this.res.off("close", done);
        this.drained = undefined;
        resolve();
      };
      this.res.on("drain", done);
      this.res.on("close", done);
    });
    return this.drained;
  }

  private corked = false;
  private drained: Promise<void> | undefined;
  private readonly uncork = (): void => {
    this.corked = false;
    this.res.uncork();
  };

  /**
   * Hands in a POSTed body. Returns an error text for a body that is not JSON-RPC (the POST then gets 400),
   * undefined when every message was delivered.
   */
  receive(body: Buffer | undefined): string | undefined {
    const messages = parseJsonRpcBody(body);
    if (typeof messages === "string") return messages;
    for (const message of messages) this.onmessage?.(message);
    return undefined;
  }

  async close(): Promise<void> {
    if (!this.res.writableEnded) this.res.end();
    this.finish();
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.onclose?.();
  }
}
