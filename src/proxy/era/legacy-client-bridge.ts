import type {
  JSONRPCMessage,
  JSONRPCRequest,
  JSONRPCResponse,
  MessageExtraInfo,
  RequestId,
  Transport,
  TransportSendOptions,
} from "@modelcontextprotocol/client";
import type { FetchLike } from "../../auth/authorized-fetch.ts";
import { isProxyError, ProxyError } from "../../lib/errors.ts";
import { type Logger, silentLogger } from "../../lib/logger.ts";
import { CACHEABLE_METHODS, cacheCallerOf, type UpstreamCache } from "../result-cache.ts";
import { httpFailureOf, jsonRpcErrorBody } from "../upstream-error.ts";
import { ClientInputRequests } from "./client-input-requests.ts";
import { discoverRequest } from "./era-probe.ts";
import type { EraVerdicts } from "./era-verdicts.ts";
import { ListenStream, type SubscriptionFilter } from "./listen-stream.ts";
import { type HeaderDeclaration, modernRequestHeaders, scanToolHeaders } from "./mcp-request-headers.ts";
import { exchangeModern } from "./modern-exchange.ts";
import {
  ERA_ERROR,
  LATEST_LEGACY_PROTOCOL_VERSION,
  LEGACY_PROTOCOL_VERSIONS,
  META,
  MODERN_PROTOCOL_VERSION,
} from "./protocol-versions.ts";

/**
 * A 2025-era client in front of a 2026-07-28-only upstream (the spec's Backward Compatibility sections; the same
 * translation as mcp-remote's protocol-era bridge and the SDK v2's legacy shims). It stands in for the upstream
 * transport of the message bridge, so the client keeps its session wire while every request goes out stateless:
 * - `initialize` is answered here from `server/discover` (capabilities raw, server info, instructions, the client's
 *   own version), `notifications/initialized` is dropped, `ping` and `logging/setLevel` are answered here;
 * - every request carries the 2026-07-28 `_meta` (protocol version, the client's capabilities and info from its
 *   `initialize`, the chosen log level) and headers (`MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name`,
 *   `Mcp-Param-*` from the tool's `x-mcp-header` annotations);
 * - `input_required` results become real requests to the client, then the retry (client-input-requests.ts);
 * - list-changed interest and `resources/subscribe` become one `subscriptions/listen` (listen-stream.ts).
 * What it holds: the client's identity, the tools' header annotations and the listen stream, for this connection.
 * Every request is answered by a message or by a rejected `send` (the message bridge turns that into an error).
 */
export interface LegacyClientBridgeOptions {
  url: URL;
  fetch: FetchLike;
  /** Names the upstream in errors. */
  upstreamName: string;
  logger?: Logger | undefined;
  /** Forgotten when the upstream answers like a 2025 server (it changed era): the next connection probes again. */
  verdicts?: EraVerdicts | undefined;
  /** A `server/discover` result already in hand (the era probe's), used for the first `initialize`. */
  discover?: Record<string, unknown> | undefined;
  /**
   * Reuse of the upstream's cacheable 2026-07-28 results (`ttlMs`/`cacheScope`; result-cache.ts), and who asks: the
   * upstream and the grant whose token goes with these requests (`private` results stay with that grant).
   */
  cache?: UpstreamCache | undefined;
}

/** Rounds of `input_required` one call may take (2026-07-28 mrtr leaves the bound to the client). */
export const MAX_INPUT_ROUNDS = 10;
const MAX_TOOL_PAGES = 20;
/** `_meta` keys a 2026-07-28 result carries that a 2025 client has no use for. */
const MODERN_RESULT_FIELDS = ["resultType"] as const;

export class LegacyClientBridge implements Transport {
  onclose?: (() => void) | undefined;
  onerror?: ((error: Error) => void) | undefined;
  onmessage?: (<T extends JSONRPCMessage>(message: T, extra?: MessageExtraInfo) => void) | undefined;
  readonly sessionId = undefined;

  private readonly logger: Logger;
  private capabilities: Record<string, unknown> = {};
  private clientInfo: unknown;
  private logLevel: string | undefined;
  private serverCapabilities: Record<string, unknown> = {};
  private discover: Record<string, unknown> | undefined;
  /** Each tool's `x-mcp-header` declarations, from the last `tools/list`. */
  private readonly tools = new Map<string, HeaderDeclaration[]>();
  private toolsKnown = false;
  private readonly subscriptions = new Set<string>();
  private readonly running = new Map<RequestId, AbortController>();
  /** Numbers the retries of input_required rounds: each retry is a new request with an id of its own. */
  private retries = 0;
  private readonly inputs: ClientInputRequests;
  private readonly listen: ListenStream;
  private closed = false;

  constructor(private readonly options: LegacyClientBridgeOptions) {
    this.logger = options.logger ?? silentLogger;
    this.discover = options.discover;
    this.inputs = new ClientInputRequests(
      (message) => this.deliver(message),
      () => this.capabilities,
    );
    this.listen = new ListenStream({
      run: (request, onMessage, signal) =>
        exchangeModern(this.options.url, this.options.fetch, request, {
          headers: modernRequestHeaders(request.method, request.params),
          signal,
          onMessage,
        }),
      stamp: (params) => this.stamp(params),
      deliver: (message) => this.fromServer(message),
      logger: this.logger,
    });
  }

  async start(): Promise<void> {}

  async send(message: JSONRPCMessage, _options?: TransportSendOptions): Promise<void> {
    if (this.closed) throw new ProxyError("NETWORK", "The connection to the upstream is closed.");
    if (!("method" in message)) {
      if (!this.inputs.answer(message)) this.logger.debug("dropped a client response nobody waits for");
      return;
    }
    if (!("id" in message) || message.id === undefined) return this.notification(message.method, message.params);
    const reply = await this.request(message as JSONRPCRequest);
    if (reply) this.deliver(reply);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listen.close();
    this.inputs.abandon();
    for (const controller of this.running.values()) controller.abort();
    this.running.clear();
    this.onclose?.();
  }

  private notification(method: string, params: Record<string, unknown> | undefined): void {
    if (method === "notifications/initialized") this.listenForWhatIsOffered();
    else if (method === "notifications/cancelled") {
      const id = (params as { requestId?: RequestId } | undefined)?.requestId;
      const controller = id === undefined ? undefined : this.running.get(id);
      // Closing the request's stream is its cancellation on the 2026-07-28 wire.
      controller?.abort(new ProxyError("NETWORK", "The client cancelled the request."));
    }
    // Other client notifications (roots list changed) have no 2026-07-28 counterpart: roots are asked per request.
  }

  /** The answer to one client request, or undefined when it was cancelled (nothing may be sent then). */
  private async request(request: JSONRPCRequest): Promise<JSONRPCResponse | undefined> {
    const { id, method } = request;
    const params = (request.params ?? {}) as Record<string, unknown>;
    switch (method) {
      case "initialize":
        return { jsonrpc: "2.0", id, result: await this.initialize(params) };
      case "ping":
        return { jsonrpc: "2.0", id, result: {} };
      case "logging/setLevel":
        this.logLevel = typeof params.level === "string" ? params.level : undefined;
        return { jsonrpc: "2.0", id, result: {} };
      case "resources/subscribe":
      case "resources/unsubscribe":
        if (typeof params.uri === "string") {
          if (method === "resources/subscribe") this.subscriptions.add(params.uri);
          else this.subscriptions.delete(params.uri);
          this.listenForWhatIsOffered();
        }
        return { jsonrpc: "2.0", id, result: {} };
    }
    if (method === "tools/call" && typeof params.name === "string" && !this.tools.has(params.name)) {
      await this.learnTools();
    }
    const cache = this.options.cache && CACHEABLE_METHODS.has(method) ? this.options.cache : undefined;
    const caller = cacheCallerOf(cache);
    // The key is the method and params without `_meta` (the protocol version kept), as sent upstream.
    const cached = caller && cache?.results.lookup(caller, method, this.stamp(params));
    if (cached) return this.toLegacy(method, { jsonrpc: "2.0", id, result: cached }, id);
    const controller = new AbortController();
    this.running.set(id, controller);
    try {
      const answer = await this.exchangeWithInputs(request, params, controller.signal);
      if (cache && caller && "result" in answer) cache.results.store(caller, method, this.stamp(params), answer.result);
      return this.toLegacy(method, answer, id);
    } catch (error) {
      if (controller.signal.aborted) return undefined;
      throw this.eraChanged(error) ?? error;
    } finally {
      this.running.delete(id);
    }
  }

  private async initialize(params: Record<string, unknown>): Promise<Record<string, unknown>> {
    this.capabilities = (params.capabilities as Record<string, unknown> | undefined) ?? {};
    this.clientInfo = params.clientInfo;
    let discover = this.discover;
    this.discover = undefined;
    if (!discover) {
      const answer = await exchangeModern(this.options.url, this.options.fetch, this.discoverFor(), {
        headers: modernRequestHeaders("server/discover", undefined),
      }).catch((error: unknown) => {
        throw this.eraChanged(error) ?? error;
      });
      if ("error" in answer) {
        throw new ProxyError("UPSTREAM_ERROR", `The upstream refused server/discover: ${answer.error.message}`, {
          hint: "Check the server's URL, or pass --protocol legacy if it speaks the 2025 session wire.",
        });
      }
      discover = answer.result as Record<string, unknown>;
    }
    this.serverCapabilities = (discover.capabilities as Record<string, unknown> | undefined) ?? {};
    const meta = (discover._meta as Record<string, unknown> | undefined) ?? {};
    const asked = params.protocolVersion;
    const version =
      typeof asked === "string" && (LEGACY_PROTOCOL_VERSIONS as readonly string[]).includes(asked)
        ? asked
        : LATEST_LEGACY_PROTOCOL_VERSION;
    return {
      protocolVersion: version,
      capabilities: this.serverCapabilities,
      serverInfo: meta[META.serverInfo] ?? discover.serverInfo ?? { name: this.options.upstreamName, version: "" },
      ...(typeof discover.instructions === "string" ? { instructions: discover.instructions } : {}),
    };
  }

  private discoverFor(): JSONRPCRequest {
    return discoverRequest("mcp-u2m-proxy:discover", { capabilities: this.capabilities, clientInfo: this.clientInfo });
  }

  /** The request's `_meta` stamped with the 2026-07-28 envelope; the client's own keys win. */
  private stamp(params: Record<string, unknown>): Record<string, unknown> {
    const own = (params._meta as Record<string, unknown> | undefined) ?? {};
    return {
      ...params,
      _meta: {
        [META.protocolVersion]: MODERN_PROTOCOL_VERSION,
        [META.clientCapabilities]: this.capabilities,
        ...(this.clientInfo !== undefined ? { [META.clientInfo]: this.clientInfo } : {}),
        ...(this.logLevel !== undefined ? { [META.logLevel]: this.logLevel } : {}),
        ...own,
      },
    };
  }

  /** Sends the request; answers `input_required` rounds through the client and retries, bounded. */
  private async exchangeWithInputs(
    request: JSONRPCRequest,
    params: Record<string, unknown>,
    signal: AbortSignal,
  ): Promise<JSONRPCResponse> {
    let current = this.stamp(params);
    const declarations = request.method === "tools/call" ? this.tools.get(String(params.name)) : undefined;
    for (let round = 0; ; round++) {
      const answer = await exchangeModern(
        this.options.url,
        this.options.fetch,
        // A retry is a new request (2026-07-28: the client retries with a new id); the client's id is for the answer.
        {
          jsonrpc: "2.0",
          id: round === 0 ? request.id : `mcp-u2m-proxy:retry:${++this.retries}`,
          method: request.method,
          params: current,
        },
        {
          headers: modernRequestHeaders(request.method, current, declarations),
          signal,
          onMessage: (message) => this.fromServer(message),
        },
      );
      const result = "result" in answer ? (answer.result as Record<string, unknown>) : undefined;
      if (result?.resultType !== "input_required") return answer;
      if (round + 1 >= MAX_INPUT_ROUNDS) {
        throw new ProxyError(
          "UPSTREAM_ERROR",
          `The upstream asked for client input more than ${MAX_INPUT_ROUNDS} times in one ${request.method}.`,
          { hint: "Report this to the MCP server's maintainers." },
        );
      }
      const inputRequests = (result.inputRequests as Record<string, unknown> | undefined) ?? {};
      const inputResponses = await this.inputs.ask(inputRequests, signal);
      // The retry: the same request, the answers, and the server's state exactly as it sent it.
      const { inputResponses: _old, requestState: _state, ...base } = current;
      current = {
        ...base,
        inputResponses,
        ...(typeof result.requestState === "string" ? { requestState: result.requestState } : {}),
      };
    }
  }

  /** A 2026-07-28 answer as the 2025 client expects it. */
  private toLegacy(method: string, answer: JSONRPCResponse, id: RequestId): JSONRPCResponse {
    if ("error" in answer) return { jsonrpc: "2.0", id, error: legacyError(method, answer.error) } as JSONRPCResponse;
    const result = { ...(answer.result as Record<string, unknown>) };
    for (const field of MODERN_RESULT_FIELDS) delete result[field];
    if (method === "tools/list") this.keepToolHeaders(result);
    return { jsonrpc: "2.0", id, result } as JSONRPCResponse;
  }

  /** Keeps each tool's header annotations; a tool whose annotations break the rules is dropped, as the spec says. */
  private keepToolHeaders(result: Record<string, unknown>, replace = true): void {
    if (!Array.isArray(result.tools)) return;
    if (replace && result.nextCursor === undefined) this.toolsKnown = true;
    result.tools = result.tools.filter((tool: { name?: unknown; inputSchema?: unknown }) => {
      if (typeof tool?.name !== "string") return false;
      const scan = scanToolHeaders(tool.inputSchema);
      if (!scan.valid) {
        this.logger.warn(`the upstream's tool ${tool.name} is left out: ${scan.reason}`);
        this.tools.delete(tool.name);
        return false;
      }
      this.tools.set(tool.name, scan.declarations);
      return true;
    });
  }

  /** A call to a tool not seen in a `tools/list` yet: list them first, so its `Mcp-Param-*` headers are right. */
  private async learnTools(): Promise<void> {
    if (this.toolsKnown) return;
    let cursor: unknown;
    try {
      for (let page = 0; page < MAX_TOOL_PAGES; page++) {
        const params = this.stamp(cursor === undefined ? {} : { cursor });
        const answer = await exchangeModern(
          this.options.url,
          this.options.fetch,
          { jsonrpc: "2.0", id: "mcp-u2m-proxy:tools", method: "tools/list", params },
          { headers: modernRequestHeaders("tools/list", params) },
        );
        if (!("result" in answer)) return;
        const result = answer.result as Record<string, unknown>;
        this.keepToolHeaders(result, false);
        cursor = result.nextCursor;
        if (cursor === undefined) break;
      }
      this.toolsKnown = true;
    } catch (error) {
      if (isProxyError(error)) throw error;
      this.logger.debug("could not list the upstream's tools before a call; sending it without their headers");
    }
  }

  private listenForWhatIsOffered(): void {
    const caps = this.serverCapabilities as Record<string, { listChanged?: unknown; subscribe?: unknown } | undefined>;
    const filter: SubscriptionFilter = {
      ...(caps.tools?.listChanged === true ? { toolsListChanged: true } : {}),
      ...(caps.prompts?.listChanged === true ? { promptsListChanged: true } : {}),
      ...(caps.resources?.listChanged === true ? { resourcesListChanged: true } : {}),
      ...(caps.resources?.subscribe === true && this.subscriptions.size > 0
        ? { resourceSubscriptions: [...this.subscriptions] }
        : {}),
    };
    this.listen.update(filter);
  }

  /** A message from the server that is not a response (progress, log messages, list-changed notifications). */
  private fromServer(message: JSONRPCMessage): void {
    if ("method" in message && message.method === "notifications/tools/list_changed") {
      this.toolsKnown = false;
    }
    const cache = this.options.cache;
    // A list-changed (or resource-updated) notification makes the cached lists (or reads) stale for every grant.
    if (cache && "method" in message && !("id" in message)) {
      cache.results.notified(cache.upstream, message.method, message.params);
    }
    if ("method" in message && "id" in message) {
      // The 2026-07-28 wire has no server-to-client requests; one here is a server bug.
      this.logger.debug(`ignored a ${message.method} request on a 2026-07-28 stream`);
      return;
    }
    this.deliver(message);
  }

  private deliver(message: JSONRPCMessage): void {
    if (!this.closed) this.onmessage?.(message);
  }

  /**
   * A refusal that says the upstream no longer speaks 2026-07-28 (a plain 400/404/405 that is not a modern JSON-RPC
   * error): the verdict is forgotten so the next connection probes again, and the client is told to reconnect.
   */
  private eraChanged(error: unknown): ProxyError | undefined {
    const http = httpFailureOf(error);
    if (!http || ![400, 404, 405].includes(http.status)) return undefined;
    const rpcError = jsonRpcErrorBody(http.text);
    if (rpcError && rpcError.code !== -32000) return undefined;
    void this.options.verdicts?.forget();
    return new ProxyError(
      "UPSTREAM_ERROR",
      `The upstream ${this.options.upstreamName} no longer answers as a 2026-07-28 MCP server (HTTP ${http.status}).`,
      { hint: "Reconnect the MCP client: the proxy will find out which MCP revision the server speaks now." },
    );
  }
}

/** 2026-07-28 error codes a 2025 client reads differently (basic/index §Error Codes of each revision). */
function legacyError(method: string, error: { code: number; message: string; data?: unknown }) {
  if (error.code === ERA_ERROR.missingClientCapability) {
    const required = (error.data as { requiredCapabilities?: unknown } | undefined)?.requiredCapabilities;
    return {
      code: ERA_ERROR.invalidRequest,
      message: `${error.message} (the server needs client capabilities this client did not declare in initialize)`,
      ...(required !== undefined ? { data: { requiredCapabilities: required } } : {}),
    };
  }
  const uri = (error.data as { uri?: unknown } | undefined)?.uri;
  if (method === "resources/read" && error.code === ERA_ERROR.invalidParams && typeof uri === "string") {
    return { code: ERA_ERROR.resourceNotFound, message: error.message, data: error.data };
  }
  return error;
}
