import { randomUUID } from "node:crypto";
import type { ServerResponse } from "node:http";
import { type JSONRPCMessage, parseJSONRPCMessage, type Transport } from "@modelcontextprotocol/client";

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
    });
    this.res.write(`event: endpoint\ndata: ${this.endpointPath}?sessionId=${this.sessionId}\n\n`);
    this.res.once("close", () => this.finish());
  }

  /** Writes one message event; resolves once the socket took it (or at once when already closed). */
  send(message: JSONRPCMessage): Promise<void> {
    if (this.closed) return Promise.resolve();
    const event = `event: message\ndata: ${JSON.stringify(message)}\n\n`;
    return new Promise((resolve) => {
      if (this.res.write(event)) resolve();
      else this.res.once("drain", resolve);
    });
  }

  /**
   * Hands in a POSTed body. Returns an error text for a body that is not JSON-RPC (the POST then gets 400),
   * undefined when every message was delivered.
   */
  receive(body: Buffer | undefined): string | undefined {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body?.toString("utf8") ?? "");
    } catch {
      return "Parse error: the body is not JSON.";
    }
    const messages: JSONRPCMessage[] = [];
    for (const item of Array.isArray(parsed) ? parsed : [parsed]) {
      try {
        messages.push(parseJSONRPCMessage(item));
      } catch {
        return "Invalid request: the body is not a JSON-RPC message.";
      }
    }
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
