import { randomUUID } from "node:crypto";
import type { ServerResponse } from "node:http";
import type { JSONRPCMessage, ProgressToken, RequestId, Transport } from "@modelcontextprotocol/client";
import { isNotificationMessage, isRequestMessage } from "./json-rpc-shape.ts";
import { jsonTextOf } from "./raw-json.ts";

/** Messages kept for a GET stream that is not open yet (server requests, list-changed notifications). */
const MAX_BACKLOG = 1000;

/**
 * How long a POST with one request waits for its answer to go out as one JSON body; past it the event stream opens
 * (its head tells the client the call is under way, and keep-alive comments can keep a front from timing it out).
 */
export const JSON_ANSWER_WAIT_MS = 1_000;

interface PostStream {
  res: ServerResponse;
  /** Request ids of this POST still waiting for their response. */
  pending: Set<RequestId>;
  progressTokens: ProgressToken[];
  /** Whether the event stream's head went out; until then the lone response can be answered as JSON. */
  streaming: boolean;
  /** Opens the event stream when the answer takes longer than JSON_ANSWER_WAIT_MS. */
  timer?: NodeJS.Timeout | undefined;
}

/**
 * The server side of one Streamable HTTP session (MCP 2025-11-25 transports §Streamable HTTP), facing a downstream
 * client when the upstream speaks only the legacy HTTP+SSE transport; the message bridge connects it upstream.
 *
 * A POST with one request, from a client that accepts JSON, is answered with one `application/json` body when its
 * response is the first thing to go out on it within JSON_ANSWER_WAIT_MS (the spec lets the server choose; a client
 * reads JSON with far less work than an event stream). Otherwise, and for a batch, the POST gets an event stream
 * with those requests' responses and the progress notifications for their progress tokens, which ends once every
 * response went out. Everything else the server sends (its own requests, other notifications) goes on the GET
 * stream, or on an open POST stream, or waits for the GET stream. POSTs with only notifications or responses get 202.
 */
export class StreamableHttpSessionTransport implements Transport {
  readonly sessionId = randomUUID();
  /** JSON_ANSWER_WAIT_MS unless a test chooses otherwise. */
  private readonly jsonAnswerWaitMs: number;
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

  constructor(options: { jsonAnswerWaitMs?: number } = {}) {
    this.jsonAnswerWaitMs = options.jsonAnswerWaitMs ?? JSON_ANSWER_WAIT_MS;
  }

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

  /**
   * Answers one POST of this session, whose body has been parsed into `messages`; `jsonAllowed` says whether its
   * `Accept` allows a JSON answer.
   */
  handlePost(res: ServerResponse, messages: JSONRPCMessage[], jsonAllowed = false): void {
    const requests = messages.filter(isRequestMessage);
    if (requests.length === 0) {
      res.writeHead(202, { "mcp-session-id": this.sessionId }).end();
    } else {
      const stream: PostStream = { res, pending: new Set(), progressTokens: [], streaming: false };
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
      res.once("close", () => this.forget(stream));
      if (requests.length === 1 && jsonAllowed) {
        stream.timer = setTimeout(() => openStream(stream, this.sessionId), this.jsonAnswerWaitMs);
        stream.timer.unref();
      } else {
        openStream(stream, this.sessionId);
      }
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
        if (!stream.streaming && stream.pending.size === 0) {
          answerJson(stream, this.sessionId, message);
          this.forget(stream);
          return;
        }
        this.writeTo(stream, message);
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
        this.writeTo(stream, message);
        return;
      }
    }
    if (this.getStream) return write(this.getStream, message);
    const posts = [...this.posts];
    const post = posts.findLast((stream) => stream.streaming) ?? posts.at(-1);
    if (post) this.writeTo(post, message);
    else if (this.backlog.length < MAX_BACKLOG) this.backlog.push(message);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const stream of this.posts) {
      openStream(stream, this.sessionId);
      stream.res.end();
    }
    this.posts.clear();
    this.getStream?.end();
    this.onclose?.();
  }

  private writeTo(stream: PostStream, message: JSONRPCMessage): void {
    openStream(stream, this.sessionId);
    write(stream.res, message);
  }

  private forget(stream: PostStream): void {
    clearTimeout(stream.timer);
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

/** Whether an `Accept` header allows an `application/json` answer (no header allows anything; `q=0` refuses). */
export function acceptsJson(accept: string | undefined): boolean {
  if (accept === undefined) return true;
  return accept.split(",").some((range) => {
    const [type = "", ...parameters] = range.split(";").map((part) => part.trim().toLowerCase());
    if (parameters.some((parameter) => /^q=0(\.0*)?$/.test(parameter))) return false;
    return type === "application/json" || type === "application/*" || type === "*/*";
  });
}

/** Sends the POST's event-stream head, once. */
function openStream(stream: PostStream, sessionId: string): void {
  if (stream.streaming) return;
  stream.streaming = true;
  clearTimeout(stream.timer);
  if (stream.res.headersSent || stream.res.writableEnded) return;
  stream.res.writeHead(200, sseHeaders(sessionId));
  stream.res.flushHeaders();
}

function answerJson(stream: PostStream, sessionId: string, message: JSONRPCMessage): void {
  if (stream.res.headersSent || stream.res.writableEnded) return;
  const body = jsonTextOf(message);
  stream.res.writeHead(200, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
    "mcp-session-id": sessionId,
  });
  stream.res.end(body);
}

function write(res: ServerResponse, message: JSONRPCMessage): void {
  if (res.writableEnded) return;
  // An upstream response passed on unchanged is written as the upstream's own text (raw-json.ts), not re-serialised.
  // Corked: the three pieces leave as one chunk (one write to the socket), not three.
  res.cork();
  res.write("event: message\ndata: ");
  res.write(jsonTextOf(message));
  res.write("\n\n");
  res.uncork();
}
