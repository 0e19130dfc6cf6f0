/**
 * A reference MCP server for the official conformance suite's server scenarios (@modelcontextprotocol/conformance
 * 0.1.16 and 0.2.0-alpha.12 `conformance server`), built on the SDK v2 low-level `Server`: on the 2025 session wire
 * (`NodeStreamableHTTPServerTransport`, an in-memory event store for SEP-1699 priming events, `retry` and
 * resumption with `Last-Event-ID`) or on the 2026-07-28 stateless wire only (`createMcpHandler`, `legacy:
 * "reject"`). What it offers is in reference-content.ts and reference-tools.ts; reference-server-v1.ts serves the
 * same on the SDK v1.
 *
 * It protects itself against DNS rebinding as a localhost server without authentication must (MCP 2025-11-25
 * Security Best Practices: a non-localhost `Host` or `Origin` gets 403). No authorization: these scenarios test
 * the transport and the protocol.
 *
 * Run alone: `node --import tsx test/conformance/reference-server.ts [port]` prints its MCP URL.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { NodeStreamableHTTPServerTransport, toNodeHandler } from "@modelcontextprotocol/node";
import {
  type CallToolResult,
  createMcpHandler,
  inputRequired,
  ProtocolError,
  ResourceNotFoundError,
  Server,
  type ServerContext,
} from "@modelcontextprotocol/server";
import { MemoryEventStore } from "../fixtures/memory-event-store.ts";
import {
  type DynamicLists,
  getPrompt,
  listPrompts,
  listTools,
  REFERENCE_CAPABILITIES,
  RESOURCE_TEMPLATES,
  RESOURCES,
  ResourceNotFound,
  readResource,
} from "./reference-content.ts";
import { paramHeaderRefusal, type ReferenceServer, serveReference } from "./reference-http.ts";
import {
  callTool,
  type InputRequired,
  inputRequiredPrompt,
  type ToolContext,
  ToolProtocolError,
} from "./reference-tools.ts";

/** Which wire an instance serves: the 2025 session wire, or the 2026-07-28 stateless wire (input via MRTR). */
type Era = "legacy" | "modern";

const ENVELOPE = {
  capabilities: "io.modelcontextprotocol/clientCapabilities",
  logLevel: "io.modelcontextprotocol/logLevel",
} as const;

/** What every instance of one reference server shares: the dynamic list entries, and who to tell of changes. */
interface Shared {
  lists: DynamicLists;
  /** Tells every listener of a list change (the sessions' GET streams, or the handler's listen streams). */
  changed(kind: "tools" | "prompts"): Promise<void>;
}

function toolContext(server: Server, ctx: ServerContext, era: Era, shared: Shared): ToolContext {
  const envelope = (ctx.mcpReq.envelope ?? {}) as Record<string, unknown>;
  const capabilities =
    era === "modern"
      ? (envelope[ENVELOPE.capabilities] as Record<string, unknown> | undefined)
      : (server.getClientCapabilities() as Record<string, unknown> | undefined);
  return {
    inputResponses: ctx.mcpReq.inputResponses,
    requestState: ctx.mcpReq.requestState<string>(),
    clientCapabilities: capabilities,
    progressToken: ctx.mcpReq._meta?.progressToken,
    notify: (method, params) => ctx.mcpReq.notify({ method, params } as Parameters<typeof ctx.mcpReq.notify>[0]),
    async log(data) {
      // 2026-07-28 sends log messages only to a request that asked for them (SEP-2575).
      if (era === "modern" && typeof envelope[ENVELOPE.logLevel] !== "string") return;
      await ctx.mcpReq.notify({ method: "notifications/message", params: { level: "info", data } });
    },
    closeSSE: ctx.http?.closeSSE,
    async toggleList(kind) {
      if (kind === "tools") shared.lists.tool = !shared.lists.tool;
      else shared.lists.prompt = !shared.lists.prompt;
      await shared.changed(kind);
    },
  };
}

/** An {@link InputRequired} as the SDK v2 returns it (`input_required`, or its legacy shim's requests on 2025). */
function served<T>(outcome: T | InputRequired) {
  if (outcome && typeof outcome === "object" && "inputRequired" in outcome) {
    return inputRequired(outcome.inputRequired as Parameters<typeof inputRequired>[0]);
  }
  return outcome as T;
}

/** The reference's own refusals as JSON-RPC errors. */
async function refusing<T>(run: () => Promise<T> | T): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof ToolProtocolError) throw new ProtocolError(error.code, error.message, error.data);
    if (error instanceof ResourceNotFound) throw new ResourceNotFoundError(error.uri, error.message);
    throw error;
  }
}

/** One protocol instance per session (2025), or per request (2026-07-28). */
function createReferenceServer(era: Era, shared: Shared): Server {
  const server = new Server(
    { name: "mcp-u2m-proxy-conformance-reference", version: "1.0.0" },
    { capabilities: REFERENCE_CAPABILITIES },
  );
  const subscriptions = new Set<string>();
  const context = (ctx: ServerContext) => toolContext(server, ctx, era, shared);
  server.setRequestHandler("tools/list", () => ({ tools: listTools(shared.lists) }));
  server.setRequestHandler("tools/call", (request, ctx) =>
    refusing(async () =>
      served<CallToolResult>(await callTool(request.params.name, request.params.arguments ?? {}, context(ctx))),
    ),
  );
  server.setRequestHandler("resources/list", () => ({ resources: RESOURCES }));
  server.setRequestHandler("resources/templates/list", () => ({ resourceTemplates: RESOURCE_TEMPLATES }));
  server.setRequestHandler("resources/read", (request) => refusing(() => readResource(request.params.uri)));
  server.setRequestHandler("resources/subscribe", (request) => {
    subscriptions.add(request.params.uri);
    return {};
  });
  server.setRequestHandler("resources/unsubscribe", (request) => {
    subscriptions.delete(request.params.uri);
    return {};
  });
  server.setRequestHandler("prompts/list", () => ({ prompts: listPrompts(shared.lists) }));
  server.setRequestHandler("prompts/get", (request, ctx) =>
    refusing(() =>
      request.params.name === "test_input_required_result_prompt"
        ? served(inputRequiredPrompt(context(ctx)))
        : getPrompt(request.params.name, request.params.arguments ?? {}),
    ),
  );
  server.setRequestHandler("logging/setLevel", () => ({}));
  server.setRequestHandler("completion/complete", () => ({ completion: { values: [], total: 0, hasMore: false } }));
  return server;
}

export type { ReferenceServer } from "./reference-http.ts";

export interface ReferenceServerOptions {
  /** Port on 127.0.0.1; default 0 (any free port). */
  port?: number;
  /**
   * Default true. `false` drops the Host/Origin check, to show that the proxy's face protects an upstream that
   * does not protect itself.
   */
  dnsRebindingProtection?: boolean;
  /**
   * "2025" (default): the 2025 session wire only. "2026": the 2026-07-28 stateless wire only (SDK v2
   * `createMcpHandler`, `legacy: "reject"`: a 2025 `initialize` is refused), sampling and elicitation as
   * `input_required`, for the proxy's revision bridge in front of it.
   */
  wire?: "2025" | "2026";
}

/** Starts the SDK v2 reference server on 127.0.0.1. */
export async function startReferenceServer(options: ReferenceServerOptions = {}): Promise<ReferenceServer> {
  const sessionServers = new Set<Server>();
  const shared: Shared = {
    lists: { tool: false, prompt: false },
    async changed(kind) {
      if (modern) {
        if (kind === "tools") modern.notify.toolsChanged();
        else modern.notify.promptsChanged();
        return;
      }
      await Promise.all(
        [...sessionServers].map((server) =>
          (kind === "tools" ? server.sendToolListChanged() : server.sendPromptListChanged()).catch(() => {}),
        ),
      );
    },
  };
  const modern =
    options.wire === "2026"
      ? createMcpHandler(({ era }) => createReferenceServer(era, shared), { legacy: "reject" })
      : undefined;
  const node = modern ? toNodeHandler(modern) : undefined;
  const modernNode =
    node &&
    (async (req: IncomingMessage, res: ServerResponse, body: unknown) => {
      const refusal = paramHeaderRefusal(req, body, listTools(shared.lists));
      if (!refusal) return node(req, res, body);
      const id = (body as { id?: unknown }).id ?? null;
      res.writeHead(400, { "content-type": "application/json" });
      res.end(JSON.stringify({ jsonrpc: "2.0", id, error: refusal }));
    });
  return serveReference({
    port: options.port,
    dnsRebindingProtection: options.dnsRebindingProtection,
    stateless: modernNode,
    async openSession(register, forget) {
      const transport = new NodeStreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        eventStore: new MemoryEventStore(),
        retryInterval: 1000,
        onsessioninitialized: register,
        onsessionclosed: forget,
      });
      const server = createReferenceServer("legacy", shared);
      sessionServers.add(server);
      server.onclose = () => void sessionServers.delete(server);
      await server.connect(transport);
      return transport;
    },
    onClose: async () => {
      await modern?.close();
    },
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const server = await startReferenceServer({ port: Number(process.argv[2] ?? 0) });
  console.log(server.url);
  process.on("SIGINT", () => void server.close().then(() => process.exit(0)));
}
