import { createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { JSONRPCMessage, JSONRPCRequest, RequestId, Transport } from "@modelcontextprotocol/client";
import { describeError } from "../lib/errors.ts";
import { type Logger, silentLogger } from "../lib/logger.ts";
import { ModernClientBridge } from "../proxy/era/modern-client-bridge.ts";
import { checkModernHeaders, checkParamHeaders } from "../proxy/era/modern-header-check.ts";
import { REMOVED_METHODS, readEnvelope } from "../proxy/era/modern-results.ts";
import { META } from "../proxy/era/protocol-versions.ts";
import { readBody } from "../proxy/read-body.ts";
import { JSON_RPC_ERROR } from "../proxy/relay-errors.ts";
import type { ToolFilter } from "../proxy/tool-filter.ts";
import { toJsonRpcError, upstreamJsonRpcError } from "../proxy/upstream-error.ts";
import { writeJson, writeRpcError } from "./json-response.ts";

/**
 * `/mcp` from 2026-07-28 clients in front of an upstream that speaks only the 2025 session wire (issue 8 §3), on
 * the HTTP face. Each POST carries one stateless request; the ModernClientBridge answers it from an upstream 2025
 * session (its `initialize`, `Mcp-Session-Id` and GET stream), re-created when the upstream forgets it.
 *
 * One bridge (so one upstream session) is held per caller: the inbound credential (API key) with the client's
 * name and declared capabilities, which the upstream session was initialised with. Callers that share a bridge
 * never see each other's traffic: request ids and progress tokens are replaced by the proxy's own on the way in
 * and restored on the way out. A bridge unused for `idleMs` (no request open) is closed, and at most `maxCallers`
 * are held (503 above), so memory stays bounded. What a bridge holds, and why a load balancer must keep a caller
 * on one proxy process while a call waits for input, is in docs/http-face.md.
 */
export interface ModernClientCallsOptions {
  /** A fresh, unstarted 2025-wire client transport to the upstream (one per upstream session). */
  openLegacy: () => Transport;
  upstreamName: string;
  logger?: Logger | undefined;
  maxBodyBytes: number;
  idleMs: number;
  maxCallers: number;
  /** Tools hidden from the client (--ignore-tool): out of `tools/list` results, their calls refused here. */
  tools?: ToolFilter | undefined;
}

/** One client request on its way: where its answer and its progress go. */
interface OpenRequest {
  res: ServerResponse;
  clientId: RequestId;
  clientToken: string | number | undefined;
  controller: AbortController;
  listen: boolean;
  logs: boolean;
  /** A `tools/list`, whose result loses the hidden tools (tool-filter.ts). */
  toolList: boolean;
  done: boolean;
}

interface Caller {
  key: string;
  bridge: ModernClientBridge;
  open: Map<string, OpenRequest>;
  byToken: Map<string, OpenRequest>;
  lastUsed: number;
}

/** HTTP statuses of JSON-RPC errors a 2026-07-28 server answers with (SH §Server Validation; the method-not-found
 * 404 the conformance suite checks for removed methods such as `initialize` and `ping`; -32021, a capability the
 * client did not declare, is 400 even when a handler raises it). */
const ERROR_STATUS: Readonly<Record<number, number>> = {
  [-32601]: 404,
  [-32600]: 400,
  [-32020]: 400,
  [-32021]: 400,
  [-32022]: 400,
};

export class ModernClientCalls {
  private readonly logger: Logger;
  private readonly callers = new Map<string, Caller>();
  private seq = 0;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(private readonly options: ModernClientCallsOptions) {
    this.logger = options.logger ?? silentLogger;
  }

  get size(): number {
    return this.callers.size;
  }

  async handle(req: IncomingMessage, res: ServerResponse, body?: Buffer): Promise<void> {
    if (req.method !== "POST") {
      // The 2026-07-28 wire has no GET stream and no session to DELETE.
      return writeRpcError(res, 405, "Method not allowed.", ["allow", "POST"], -32000);
    }
    let payload = body;
    if (payload === undefined) {
      const read = await readBody(req, this.options.maxBodyBytes);
      if (!read.ok) {
        if (read.reason === "too-large")
          writeRpcError(res, 413, "The request body is too large.", ["connection", "close"]);
        return;
      }
      payload = read.body;
    }
    let message: JSONRPCMessage;
    try {
      message = JSON.parse(payload?.toString("utf8") ?? "") as JSONRPCMessage;
    } catch {
      return writeRpcError(res, 400, "Parse error: the body is not JSON.", [], -32700);
    }
    if (!message || typeof message !== "object" || Array.isArray(message) || message.jsonrpc !== "2.0") {
      return writeRpcError(res, 400, "Invalid request: one JSON-RPC message per POST (2026-07-28).");
    }
    if (!("method" in message) || typeof message.method !== "string") {
      return writeRpcError(res, 400, "Invalid request: a 2026-07-28 client sends no JSON-RPC responses.");
    }
    const isRequest = "id" in message && message.id !== undefined && message.id !== null;
    const mismatch = isRequest
      ? checkModernHeaders(req.headers, message.method, message.params as Record<string, unknown> | undefined)
      : undefined;
    if (mismatch) return writeRpcError(res, 400, mismatch.message, [], mismatch.code);
    // A request without a valid `_meta` envelope is refused before it reaches a bridge: HTTP 400, the request's id
    // (a -32602 a handler answers with is HTTP 200, so the status cannot be picked from the code afterwards).
    const params = message.params as Record<string, unknown> | undefined;
    const envelope = isRequest && !REMOVED_METHODS.has(message.method) ? readEnvelope(params) : undefined;
    if (envelope && !envelope.ok) {
      const json = JSON.stringify({ jsonrpc: "2.0", id: (message as JSONRPCRequest).id, error: envelope.error });
      res.writeHead(400, { "content-type": "application/json", "content-length": String(Buffer.byteLength(json)) });
      res.end(json);
      return;
    }
    const caller = this.callerFor(req, message.params as Record<string, unknown> | undefined);
    if (!caller) {
      this.logger.warn("refused a new 2026-07-28 caller at the limit", { limit: this.options.maxCallers });
      return writeRpcError(
        res,
        503,
        `The proxy already holds its limit of ${this.options.maxCallers} bridged sessions. Try again later or raise --max-sessions.`,
        ["retry-after", "5"],
        JSON_RPC_ERROR.PROXY_BUSY,
      );
    }
    caller.lastUsed = Date.now();
    if (envelope?.ok && message.method === "tools/call" && typeof params?.name === "string") {
      const declarations = await caller.bridge.toolHeaderDeclarations(params.name, envelope.envelope);
      const bad = checkParamHeaders(req.headers, declarations, params.arguments);
      if (bad) {
        const json = JSON.stringify({ jsonrpc: "2.0", id: (message as JSONRPCRequest).id, error: bad });
        res.writeHead(400, { "content-type": "application/json", "content-length": String(Buffer.byteLength(json)) });
        res.end(json);
        return;
      }
    }
    const refusal = this.options.tools?.refusal(message);
    if (refusal) return writeJson(res, 200, refusal);
    if (!("id" in message) || message.id === undefined || message.id === null) {
      this.notification(caller, message.method, message.params as Record<string, unknown> | undefined);
      res.writeHead(202).end();
      return;
    }
    return this.request(caller, message as JSONRPCRequest, res);
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.sweeper = undefined;
    const callers = [...this.callers.values()];
    this.callers.clear();
    await Promise.all(callers.map((caller) => caller.bridge.close().catch(() => {})));
  }

  /** Closes the callers without a request open for `idleMs`. */
  async closeIdle(idleMs = this.options.idleMs): Promise<number> {
    const now = Date.now();
    const idle = [...this.callers.values()].filter((c) => c.open.size === 0 && now - c.lastUsed >= idleMs);
    for (const caller of idle) this.callers.delete(caller.key);
    await Promise.all(idle.map((caller) => caller.bridge.close().catch(() => {})));
    if (this.callers.size === 0) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
    return idle.length;
  }

  private callerFor(req: IncomingMessage, params: Record<string, unknown> | undefined): Caller | undefined {
    const meta = (params?._meta ?? {}) as Record<string, unknown>;
    const clientInfo = meta[META.clientInfo] as { name?: unknown } | undefined;
    const credential = req.headers.authorization ?? req.headers["x-api-key"] ?? "";
    const key = createHash("sha256")
      .update(JSON.stringify([credential, clientInfo?.name ?? null, meta[META.clientCapabilities] ?? null]))
      .digest("base64url");
    const known = this.callers.get(key);
    if (known) return known;
    if (this.callers.size >= this.options.maxCallers) return undefined;
    const bridge = new ModernClientBridge({
      openLegacy: this.options.openLegacy,
      upstreamName: this.options.upstreamName,
      logger: this.logger,
    });
    const caller: Caller = { key, bridge, open: new Map(), byToken: new Map(), lastUsed: Date.now() };
    bridge.onmessage = (message) => this.toClient(caller, message);
    bridge.onclose = () => {
      if (this.callers.get(key) === caller) this.callers.delete(key);
    };
    this.callers.set(key, caller);
    this.logger.debug(`bridging a 2026-07-28 client to the 2025 upstream ${this.options.upstreamName}`);
    if (!this.sweeper) {
      const every = Math.max(50, Math.min(this.options.idleMs / 2, 60_000));
      this.sweeper = setInterval(() => void this.closeIdle(), every);
      this.sweeper.unref();
    }
    return caller;
  }

  private notification(caller: Caller, method: string, params: Record<string, unknown> | undefined): void {
    if (method !== "notifications/cancelled") return; // the only client notification of 2026-07-28
    const clientId = params?.requestId;
    for (const [, open] of caller.open) {
      if (open.clientId === clientId && !open.done) open.controller.abort();
    }
  }

  private async request(caller: Caller, request: JSONRPCRequest, res: ServerResponse): Promise<void> {
    const id = `mcp-u2m-proxy:h-${++this.seq}`;
    const params = { ...(request.params ?? {}) } as Record<string, unknown>;
    const meta = { ...((params._meta as Record<string, unknown> | undefined) ?? {}) };
    const clientToken = meta.progressToken as string | number | undefined;
    const open: OpenRequest = {
      res,
      clientId: request.id,
      clientToken,
      controller: new AbortController(),
      listen: request.method === "subscriptions/listen",
      logs: typeof meta[META.logLevel] === "string",
      toolList: request.method === "tools/list" && this.options.tools !== undefined,
      done: false,
    };
    if (clientToken !== undefined) {
      meta.progressToken = `mcp-u2m-proxy:p-${this.seq}`;
      caller.byToken.set(meta.progressToken as string, open);
    }
    if (request.params?._meta !== undefined || clientToken !== undefined) params._meta = meta;
    caller.open.set(id, open);
    const forget = () => {
      caller.open.delete(id);
      if (typeof meta.progressToken === "string") caller.byToken.delete(meta.progressToken);
      caller.lastUsed = Date.now();
    };
    // Closing the response stream is the request's cancellation (2026-07-28 basic/patterns/cancellation).
    res.once("close", () => {
      if (!open.done) open.controller.abort();
      open.done = true;
      forget();
    });
    try {
      await caller.bridge.send(
        { jsonrpc: "2.0", id, method: request.method, params },
        { requestSignal: open.controller.signal },
      );
    } catch (error) {
      if (open.done) return;
      const rpcError = upstreamJsonRpcError(error) ?? toJsonRpcError(error, this.options.upstreamName);
      this.logger.debug(`${request.method} failed: ${describeError(error)}`);
      this.write(open, { jsonrpc: "2.0", id: request.id, error: rpcError } as JSONRPCMessage, true);
    }
  }

  /** A message from the bridge: to the request it answers or belongs to, with the client's own id and token. */
  private toClient(caller: Caller, message: JSONRPCMessage): void {
    if (!("method" in message)) {
      const id = "id" in message ? message.id : undefined;
      const open = typeof id === "string" ? caller.open.get(id) : undefined;
      if (!open) return;
      const answer = open.toolList && this.options.tools ? this.options.tools.filterList(message) : message;
      this.write(open, { ...answer, id: open.clientId } as JSONRPCMessage, true);
      return;
    }
    const params = (message.params ?? {}) as Record<string, unknown>;
    const meta = params._meta as Record<string, unknown> | undefined;
    const subscription = meta?.[META.subscriptionId];
    if (typeof subscription === "string") {
      const open = caller.open.get(subscription);
      if (open) {
        const tagged = { ...params, _meta: { ...meta, [META.subscriptionId]: open.clientId } };
        this.write(open, { ...message, params: tagged } as JSONRPCMessage, false);
      }
      return;
    }
    if (message.method === "notifications/progress") {
      const open = caller.byToken.get(String(params.progressToken));
      if (open) this.write(open, { ...message, params: { ...params, progressToken: open.clientToken } }, false);
      return;
    }
    if (message.method === "notifications/message") {
      for (const open of caller.open.values()) if (open.logs && !open.listen) this.write(open, message, false);
    }
  }

  /** Writes one message on the request's response: JSON when it is the only one, else an event stream. */
  private write(open: OpenRequest, message: JSONRPCMessage, last: boolean): void {
    const res = open.res;
    if (open.done || res.writableEnded) return;
    if (last) open.done = true;
    const json = JSON.stringify(message);
    if (!res.headersSent && last) {
      const code = (message as { error?: { code?: unknown } }).error?.code;
      const status = typeof code === "number" ? (ERROR_STATUS[code] ?? 200) : 200;
      res.writeHead(status, { "content-type": "application/json", "content-length": String(Buffer.byteLength(json)) });
      res.end(json);
      return;
    }
    if (!res.headersSent) {
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache, no-transform" });
      res.flushHeaders();
    }
    res.write(`event: message\ndata: ${json}\n\n`);
    if (last) res.end();
  }
}
