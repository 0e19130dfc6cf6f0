/**
 * The conformance reference server on the SDK v1 (`@modelcontextprotocol/sdk`, the 2025 SDK): the same tools,
 * resources and prompts as reference-server.ts (reference-content.ts, reference-tools.ts), on the 2025 session
 * wire only (`StreamableHTTPServerTransport`, sessions, an event store for resumption). It is the "2025-only SDK v1
 * server" the proxy's HTTP face bridges a 2026-07-28 client to (issue 8 §3).
 *
 * The SDK v1 has no multi-round-trip requests: a tool that needs input from the client returns an `InputRequired`
 * (reference-tools.ts), which this adapter fulfils with real server-to-client requests on the call's own stream
 * (`elicitInput`, `createMessage`, `listRoots` with the call as the related request), then calls the tool again
 * with the answers and the requestState, as the SDK v2 does for 2025 clients with its legacy shim.
 *
 * Run alone: `node --import tsx test/conformance/reference-server-v1.ts [port]` prints its MCP URL.
 */
import { randomUUID } from "node:crypto";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import {
  CallToolRequestSchema,
  type CallToolResult,
  CompleteRequestSchema,
  ErrorCode,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema,
  SetLevelRequestSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
} from "@modelcontextprotocol/sdk/types.js";
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
import { type ReferenceServer, serveReference } from "./reference-http.ts";
import {
  callTool,
  type InputRequest,
  type InputRequired,
  inputRequiredPrompt,
  type ToolContext,
  ToolProtocolError,
} from "./reference-tools.ts";

/** Rounds one call may take before the adapter gives up (the SDK v2 shim's default). */
const MAX_ROUNDS = 8;

type Extra = Parameters<Parameters<Server["setRequestHandler"]>[1]>[1];

function isInputRequired(outcome: unknown): outcome is InputRequired {
  return !!outcome && typeof outcome === "object" && "inputRequired" in outcome;
}

/** The reference's refusals as SDK v1 JSON-RPC errors (-32002 is the 2025 resource-not-found code). */
async function refusing<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof ToolProtocolError) throw new McpError(error.code, error.message, error.data);
    if (error instanceof ResourceNotFound) throw new McpError(-32002, error.message, { uri: error.uri });
    throw error;
  }
}

function createServer(lists: DynamicLists, changed: (kind: "tools" | "prompts") => Promise<void>): Server {
  const server = new Server(
    { name: "mcp-u2m-proxy-conformance-reference-v1", version: "1.0.0" },
    { capabilities: REFERENCE_CAPABILITIES },
  );

  const context = (extra: Extra, answers?: Record<string, unknown>, state?: string): ToolContext => ({
    inputResponses: answers,
    requestState: state,
    clientCapabilities: server.getClientCapabilities() as Record<string, unknown> | undefined,
    progressToken: extra._meta?.progressToken,
    notify: (method, params) => extra.sendNotification({ method, params } as Parameters<Extra["sendNotification"]>[0]),
    log: (data) => extra.sendNotification({ method: "notifications/message", params: { level: "info", data } }),
    closeSSE: extra.closeSSEStream,
    async toggleList(kind) {
      if (kind === "tools") lists.tool = !lists.tool;
      else lists.prompt = !lists.prompt;
      await changed(kind);
    },
  });

  /** One embedded input request as a real request to the client, on the call's stream. */
  const ask = (request: InputRequest, extra: Extra): Promise<unknown> => {
    const options = { relatedRequestId: extra.requestId, signal: extra.signal };
    const params = (request.params ?? {}) as never;
    if (request.method === "elicitation/create") return server.elicitInput(params, options);
    if (request.method === "sampling/createMessage") return server.createMessage(params, options);
    return server.listRoots(undefined, options);
  };

  /** Runs a tool or prompt to completion: each `InputRequired` round is asked of the client, then run again. */
  const fulfil = async <T>(run: (ctx: ToolContext) => Promise<T | InputRequired> | T | InputRequired, extra: Extra) => {
    let outcome = await run(context(extra));
    for (let round = 1; isInputRequired(outcome); round++) {
      if (round > MAX_ROUNDS)
        throw new McpError(ErrorCode.InternalError, `Still needed input after ${MAX_ROUNDS} rounds`);
      const { inputRequests, requestState } = outcome.inputRequired;
      const entries = Object.entries(inputRequests);
      const answers = await Promise.all(entries.map(([, request]) => ask(request, extra)));
      outcome = await run(
        context(extra, Object.fromEntries(entries.map(([key], i) => [key, answers[i]])), requestState),
      );
    }
    return outcome as T;
  };

  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: listTools(lists) as never }));
  server.setRequestHandler(CallToolRequestSchema, (request, extra) =>
    refusing(async () => {
      const { name, arguments: args = {} } = request.params;
      try {
        return (await fulfil<unknown>((ctx) => callTool(name, args, ctx), extra)) as CallToolResult;
      } catch (error) {
        if (error instanceof ToolProtocolError) throw error;
        // A request the client refused or could not take is the tool's failure, as a 2025 tool reports it.
        return { isError: true, content: [{ type: "text" as const, text: `${name} failed: ${String(error)}` }] };
      }
    }),
  );
  server.setRequestHandler(ListResourcesRequestSchema, () => ({ resources: RESOURCES }));
  server.setRequestHandler(ListResourceTemplatesRequestSchema, () => ({ resourceTemplates: RESOURCE_TEMPLATES }));
  server.setRequestHandler(ReadResourceRequestSchema, (request) =>
    refusing(async () => readResource(request.params.uri) as never),
  );
  server.setRequestHandler(SubscribeRequestSchema, () => ({}));
  server.setRequestHandler(UnsubscribeRequestSchema, () => ({}));
  server.setRequestHandler(ListPromptsRequestSchema, () => ({ prompts: listPrompts(lists) }));
  server.setRequestHandler(GetPromptRequestSchema, (request, extra) =>
    refusing(async () =>
      request.params.name === "test_input_required_result_prompt"
        ? fulfil((ctx) => inputRequiredPrompt(ctx), extra)
        : getPrompt(request.params.name, request.params.arguments ?? {}),
    ),
  );
  server.setRequestHandler(SetLevelRequestSchema, () => ({}));
  server.setRequestHandler(CompleteRequestSchema, () => ({ completion: { values: [], total: 0, hasMore: false } }));
  return server;
}

export interface ReferenceServerV1Options {
  port?: number;
  /** Default true: refuse a foreign Host or Origin with 403. */
  dnsRebindingProtection?: boolean;
}

/** Starts the SDK v1 reference server (2025 session wire only) on 127.0.0.1. */
export async function startReferenceServerV1(options: ReferenceServerV1Options = {}): Promise<ReferenceServer> {
  const lists: DynamicLists = { tool: false, prompt: false };
  const servers = new Set<Server>();
  const changed = async (kind: "tools" | "prompts") => {
    await Promise.all(
      [...servers].map((server) =>
        (kind === "tools" ? server.sendToolListChanged() : server.sendPromptListChanged()).catch(() => {}),
      ),
    );
  };
  return serveReference({
    port: options.port,
    dnsRebindingProtection: options.dnsRebindingProtection,
    async openSession(register, forget) {
      const transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        eventStore: new MemoryEventStore() as never,
        retryInterval: 1000,
        onsessioninitialized: register,
        onsessionclosed: forget,
      });
      const server = createServer(lists, changed);
      servers.add(server);
      server.onclose = () => void servers.delete(server);
      await server.connect(transport);
      return transport;
    },
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const server = await startReferenceServerV1({ port: Number(process.argv[2] ?? 0) });
  console.log(server.url);
  process.on("SIGINT", () => void server.close().then(() => process.exit(0)));
}
