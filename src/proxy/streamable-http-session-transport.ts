import { randomUUID } from "node:crypto";
import type { ServerResponse } from "node:http";
import type { JSONRPCMessage, ProgressToken, RequestId, Transport } from "@modelcontextprotocol/client";
import { isNotificationMessage, isRequestMessage } from "./json-rpc-shape.ts";
import { jsonTextOf } from "./raw-json.ts";

/** Messages kept for a GET stream that is not open yet (server requests, list-changed notifications). */
const MAX_BACKLOG = 1000;

interface PostStream {
  res: ServerResponse;
  /** Request ids of this POST still waiting for their response. */
  pending: Set<RequestId>;
  progressTokens: ProgressToken[];
}

/**
 * The server side of one Streamable HTTP session (MCP 2025-11-25 transports §Streamable HTTP), facing a downstream
 * client when the upstream speaks only the legacy HTTP+SSE transport; the message bridge connects it upstream.
 *
 * Each POST that carries requests is answered with an event stream that gets those requests' responses and the
 * progress notifications for their progress tokens, and ends once every response went out. Everything else the
 * server sends (its own requests, other notifications) goes on the GET stream, or on an open POST stream, or waits
 * for the GET stream. POSTs with only notifications or responses get 202.
 */
export class StreamableHttpSessionTransport implements Transport {
  readonly sessionId = randomUUID();
  onclose?: (() => void) | undefined;
  onerror?: ((error: Error) => void) | undefined;
  onmessage?: ((message: JSONRPCMessage) => void) | undefined;
  private readonly posts = new Set<PostStream>();
  private readonly byRequestId = new Map<RequestId, PostStream>();
  private readonly byProgressToken = new Map<ProgressToken, PostStream>();
  private getStream: ServerResponse | undefined;
  private backlog: JSONRPCMessage[] = [];
  private closed = false;
  private lastUsed = Date.now();

  /** Marks the session as used now (a request from its client). */
  touch(): void {
    this.lastUsed = Date.now();
  }

  /** How long the session has been unused at `now`: 0 while any of its streams is open. */
  idleSince(now: number): number {
    if (this.posts.size > 0 || (this.getStream && !this.getStream.writableEnded)) {
      this.lastUsed = now;
      return 0;
    }
    return now - this.lastUsed;
  }

  async start(): Promise<void> {}

  /** Answers one POST of this session, whose body has been parsed into `messages`. */
  handlePost(res: ServerResponse, messages: JSONRPCMessage[]): void {
    const requests = messages.filter(isRequestMessage);
    if (requests.length === 0) {
      res.writeHead(202, { "mcp-session-id": this.sessionId }).end();
    } else {
      const stream: PostStream = { res, pending: new Set(), progressTokens: [] };
      for (const request of requests) {
        stream.pending.add(request.id);
        this.byRequestId.set(request.id, stream);
        const token = (request.params?._meta as { progressToken?: ProgressToken } | undefined)?.progressToken;
        if (token !== undefined) {
          stream.progressTokens.push(token);
          this.byProgressToken.set(token, stream);
        }
      }
      this.posts.add(stream);
      res.writeHead(200, sseHeaders(this.sessionId));
      res.flushHeaders();
      res.once("close", () => this.forget(stream));
    }
    for (const message of messages) this.onmessage?.(message);
  }

  /** Opens the session's GET stream (one at a time: a second one gets 409). */
  handleGet(res: ServerResponse): void {
    if (this.getStream && !this.getStream.writableEnded) {
      res.writeHead(409, { "content-type": "application/json" });
      res.end(
        JSON.stringify({ jsonrpc: "2.0", id: null, error: { code: -32600, message: "A GET stream is already open." } }),
      );
      return;
    }
    this.getStream = res;
    res.writeHead(200, sseHeaders(this.sessionId));
    res.flushHeaders();
    res.once("close", () => {
      if (this.getStream === res) this.getStream = undefined;
    });
    const backlog = this.backlog;
    this.backlog = [];
    for (const message of backlog) write(res, message);
  }

  async send(message: JSONRPCMessage): Promise<void> {
    if (this.closed) return;
    if (!("method" in message) && "id" in message) {
      const stream = this.byRequestId.get(message.id as RequestId);
      if (stream) {
        this.byRequestId.delete(message.id as RequestId);
        stream.pending.delete(message.id as RequestId);
        write(stream.res, message);
        if (stream.pending.size === 0) {
          stream.res.end();
          this.forget(stream);
        }
      }
      // A response whose POST stream is gone (the client went away) has nowhere to go: responses never travel on
      // the GET stream.
      return;
    }
    if (isNotificationMessage(message) && message.method === "notifications/progress") {
      const stream = this.byProgressToken.get((message.params as { progressToken: ProgressToken }).progressToken);
      if (stream) {
        write(stream.res, message);
        return;
      }
    }
    const target = this.getStream ?? [...this.posts].at(-1)?.res;
    if (target) write(target, message);
    else if (this.backlog.length < MAX_BACKLOG) this.backlog.push(message);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const stream of this.posts) stream.res.end();
    this.posts.clear();
    this.getStream?.end();
    this.onclose?.();
  }

  private forget(stream: PostStream): void {
    if (!this.posts.delete(stream)) return;
    for (const id of stream.pending) this.byRequestId.delete(id);
    for (const token of stream.progressTokens) {
      if (this.byProgressToken.get(token) === stream) this.byProgressToken.delete(token);
    }
  }
}

function sseHeaders(sessionId: string): Record<string, string> {
  return {
    "content-type": "text/event-stream",
    "cache-control": "no-cache, no-transform",
    "mcp-session-id": sessionId,
  };
}

function write(res: ServerResponse, message: JSONRPCMessage): void {
  if (res.writableEnded) return;
  // An upstream response passed on unchanged is written as the upstream's own text (raw-json.ts), not re-serialised.
  res.write("event: message\ndata: ");
  res.write(jsonTextOf(message));
  res.write("\n\n");
}
