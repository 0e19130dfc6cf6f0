/**
 * A reference MCP server for the official conformance suite's server scenarios (@modelcontextprotocol/conformance
 * 0.1.16 and 0.2.0-alpha.12 `conformance server`), built on the SDK v2 low-level `Server` and
 * `NodeStreamableHTTPServerTransport`.
 *
 * It offers the tools, resources and prompts the scenarios call by name (`test_simple_text`, `test://static-text`,
 * `test_prompt_with_arguments`, …), sessions with an in-memory event store (SEP-1699 priming events, `retry`,
 * resumption with `Last-Event-ID`), and the DNS rebinding protection a localhost server without authentication
 * needs (MCP 2025-11-25 Security Best Practices: reject a non-localhost `Host` or `Origin` with 403).
 * No authorization: these scenarios test the transport and the protocol.
 *
 * Run alone: `node --import tsx test/conformance/reference-server.ts [port]` prints its MCP URL.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { NodeStreamableHTTPServerTransport, toNodeHandler } from "@modelcontextprotocol/node";
import {
  type CallToolResult,
  createMcpHandler,
  inputRequired,
  inputResponse,
  isInitializeRequest,
  localhostAllowedHostnames,
  localhostAllowedOrigins,
  ResourceNotFoundError,
  Server,
  type ServerContext,
  type Tool,
  validateHostHeader,
  validateOriginHeader,
} from "@modelcontextprotocol/server";
import { MemoryEventStore } from "../fixtures/memory-event-store.ts";

/** A 1×1 PNG and a minimal WAV, as the scenarios' content checks expect base64 data with a MIME type. */
const PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==";
const WAV = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA=";

const noArgs = { type: "object" as const, properties: {} };
const text = (value: string): CallToolResult => ({ content: [{ type: "text", text: value }] });
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** Tool definitions; `json_schema_2020_12_tool` keeps `$schema`, `$defs` and `additionalProperties` (SEP-1613). */
const TOOLS: Tool[] = [
  { name: "test_simple_text", description: "Returns one text block", inputSchema: noArgs },
  { name: "test_image_content", description: "Returns one image block", inputSchema: noArgs },
  { name: "test_audio_content", description: "Returns one audio block", inputSchema: noArgs },
  { name: "test_embedded_resource", description: "Returns an embedded resource", inputSchema: noArgs },
  { name: "test_multiple_content_types", description: "Returns text, image and resource blocks", inputSchema: noArgs },
  { name: "test_tool_with_logging", description: "Sends three log messages while it runs", inputSchema: noArgs },
  { name: "test_tool_with_progress", description: "Reports progress 0, 50, 100 of 100", inputSchema: noArgs },
  { name: "test_error_handling", description: "Always fails with isError", inputSchema: noArgs },
  { name: "test_reconnection", description: "Closes its SSE stream mid-call (SEP-1699)", inputSchema: noArgs },
  {
    name: "test_sampling",
    description: "Asks the client's model (sampling/createMessage)",
    inputSchema: { type: "object", properties: { prompt: { type: "string" } }, required: ["prompt"] },
  },
  {
    name: "test_elicitation",
    description: "Asks the user (elicitation/create)",
    inputSchema: { type: "object", properties: { message: { type: "string" } }, required: ["message"] },
  },
  {
    name: "test_elicitation_sep1034_defaults",
    description: "Elicitation with defaults (SEP-1034)",
    inputSchema: noArgs,
  },
  {
    name: "test_elicitation_sep1330_enums",
    description: "Elicitation with enum schemas (SEP-1330)",
    inputSchema: noArgs,
  },
  {
    name: "json_schema_2020_12_tool",
    description: "Tool with JSON Schema 2020-12 features (SEP-1613)",
    inputSchema: {
      $schema: "https://json-schema.org/draft/2020-12/schema",
      type: "object",
      $defs: { address: { type: "object", properties: { street: { type: "string" }, city: { type: "string" } } } },
      properties: { name: { type: "string" }, address: { $ref: "#/$defs/address" } },
      additionalProperties: false,
    },
  },
];

const RESOURCES = [
  { uri: "test://static-text", name: "static-text", mimeType: "text/plain", description: "A static text resource" },
  { uri: "test://static-binary", name: "static-binary", mimeType: "image/png", description: "A static PNG resource" },
  { uri: "test://watched-resource", name: "watched-resource", mimeType: "text/plain", description: "Subscribable" },
];

const PROMPTS = [
  { name: "test_simple_prompt", description: "A prompt without arguments" },
  {
    name: "test_prompt_with_arguments",
    description: "A prompt with two required arguments",
    arguments: [
      { name: "arg1", description: "First argument", required: true },
      { name: "arg2", description: "Second argument", required: true },
    ],
  },
  {
    name: "test_prompt_with_embedded_resource",
    description: "A prompt that embeds a resource",
    arguments: [{ name: "resourceUri", description: "URI of the resource to embed", required: true }],
  },
  { name: "test_prompt_with_image", description: "A prompt with an image" },
];

const SEP1034_SCHEMA = {
  type: "object" as const,
  properties: {
    name: { type: "string" as const, description: "User name", default: "John Doe" },
    age: { type: "integer" as const, description: "User age", default: 30 },
    score: { type: "number" as const, description: "User score", default: 95.5 },
    status: {
      type: "string" as const,
      description: "User status",
      enum: ["active", "inactive", "pending"],
      default: "active",
    },
    verified: { type: "boolean" as const, description: "Verification status", default: true },
  },
  required: [],
};

const SEP1330_SCHEMA = {
  type: "object" as const,
  properties: {
    untitledSingle: { type: "string" as const, description: "Pick one", enum: ["option1", "option2", "option3"] },
    titledSingle: {
      type: "string" as const,
      description: "Pick one (titled)",
      oneOf: [
        { const: "value1", title: "First Option" },
        { const: "value2", title: "Second Option" },
        { const: "value3", title: "Third Option" },
      ],
    },
    legacyEnum: {
      type: "string" as const,
      description: "Pick one (legacy enumNames)",
      enum: ["opt1", "opt2", "opt3"],
      enumNames: ["Option One", "Option Two", "Option Three"],
    },
    untitledMulti: {
      type: "array" as const,
      description: "Pick several",
      minItems: 1,
      maxItems: 3,
      items: { type: "string" as const, enum: ["option1", "option2", "option3"] },
    },
    titledMulti: {
      type: "array" as const,
      description: "Pick several (titled)",
      minItems: 1,
      maxItems: 3,
      items: {
        anyOf: [
          { const: "value1", title: "First Choice" },
          { const: "value2", title: "Second Choice" },
          { const: "value3", title: "Third Choice" },
        ],
      },
    },
  },
  required: [],
};

/** Which wire an instance serves: the 2025 session wire, or the 2026-07-28 stateless wire (input via MRTR). */
type Era = "legacy" | "modern";

type SamplingRequest = Parameters<ServerContext["mcpReq"]["requestSampling"]>[0];
type ElicitRequest = Parameters<ServerContext["mcpReq"]["elicitInput"]>[0];

/** Asks the client's model: a real request on the 2025 wire, an `input_required` round on 2026-07-28. */
async function askSampling(ctx: ServerContext, era: Era, request: SamplingRequest) {
  if (era === "legacy") return { ok: true as const, result: await ctx.mcpReq.requestSampling(request) };
  const answer = inputResponse(ctx.mcpReq.inputResponses, "sampling");
  if (answer.kind === "sampling") return { ok: true as const, result: answer.result };
  return {
    ok: false as const,
    ask: inputRequired({ inputRequests: { sampling: inputRequired.createMessage(request) } }),
  };
}

/** Asks the user (form mode), either way. */
async function askElicitation(ctx: ServerContext, era: Era, request: ElicitRequest & { mode: "form" }) {
  if (era === "legacy") return { ok: true as const, result: await ctx.mcpReq.elicitInput(request) };
  const answer = inputResponse(ctx.mcpReq.inputResponses, "elicitation");
  if (answer.kind === "elicit")
    return { ok: true as const, result: { action: answer.action, content: answer.content } };
  const { mode: _mode, ...form } = request;
  return { ok: false as const, ask: inputRequired({ inputRequests: { elicitation: inputRequired.elicit(form) } }) };
}

async function callTool(
  name: string,
  args: Record<string, unknown>,
  ctx: ServerContext,
  era: Era = "legacy",
): Promise<CallToolResult> {
  switch (name) {
    case "test_simple_text":
      return text("This is a simple text response for testing.");
    case "test_image_content":
      return { content: [{ type: "image", data: PNG, mimeType: "image/png" }] };
    case "test_audio_content":
      return { content: [{ type: "audio", data: WAV, mimeType: "audio/wav" }] };
    case "test_embedded_resource":
      return {
        content: [
          {
            type: "resource",
            resource: {
              uri: "test://embedded-resource",
              mimeType: "text/plain",
              text: "This is an embedded resource.",
            },
          },
        ],
      };
    case "test_multiple_content_types":
      return {
        content: [
          { type: "text", text: "Multiple content types test:" },
          { type: "image", data: PNG, mimeType: "image/png" },
          {
            type: "resource",
            resource: {
              uri: "test://mixed-content-resource",
              mimeType: "application/json",
              text: JSON.stringify({ test: "data", value: 123 }),
            },
          },
        ],
      };
    case "test_tool_with_logging":
      for (const [i, message] of [
        "Tool execution started",
        "Tool processing data",
        "Tool execution completed",
      ].entries()) {
        if (i > 0) await sleep(50);
        await ctx.mcpReq.notify({ method: "notifications/message", params: { level: "info", data: message } });
      }
      return text("Tool with logging executed successfully");
    case "test_tool_with_progress": {
      const progressToken = ctx.mcpReq._meta?.progressToken ?? 0;
      for (const progress of [0, 50, 100]) {
        if (progress > 0) await sleep(50);
        await ctx.mcpReq.notify({
          method: "notifications/progress",
          params: { progressToken, progress, total: 100, message: `Completed step ${progress} of 100` },
        });
      }
      return text(String(progressToken));
    }
    case "test_error_handling":
      return {
        isError: true,
        content: [{ type: "text", text: "This tool intentionally returns an error for testing" }],
      };
    case "test_reconnection":
      // The client reconnects with Last-Event-ID and gets the result replayed from the event store.
      ctx.http?.closeSSE?.();
      await sleep(100);
      return text("Reconnection test completed successfully.");
    case "test_sampling": {
      const asked = await askSampling(ctx, era, {
        messages: [{ role: "user", content: { type: "text", text: String(args.prompt ?? "") } }],
        maxTokens: 100,
      });
      if (!asked.ok) return asked.ask as unknown as CallToolResult;
      const result = asked.result;
      const blocks = Array.isArray(result.content) ? result.content : [result.content];
      const answer = blocks.map((block) => (block.type === "text" ? block.text : "")).join("");
      return text(`LLM response: ${answer}`);
    }
    case "test_elicitation": {
      const asked = await askElicitation(ctx, era, {
        mode: "form",
        message: String(args.message ?? ""),
        requestedSchema: {
          type: "object",
          properties: {
            username: { type: "string", description: "User's response" },
            email: { type: "string", description: "User's email address" },
          },
          required: ["username", "email"],
        },
      });
      if (!asked.ok) return asked.ask as unknown as CallToolResult;
      const result = asked.result;
      return text(`User response: action=${result.action}, content=${JSON.stringify(result.content ?? {})}`);
    }
    case "test_elicitation_sep1034_defaults":
    case "test_elicitation_sep1330_enums": {
      const sep1034 = name === "test_elicitation_sep1034_defaults";
      const asked = await askElicitation(ctx, era, {
        mode: "form",
        message: sep1034 ? "Please review the fields with defaults" : "Please select options from the enum fields",
        requestedSchema: sep1034 ? SEP1034_SCHEMA : SEP1330_SCHEMA,
      });
      if (!asked.ok) return asked.ask as unknown as CallToolResult;
      const result = asked.result;
      return text(`Elicitation completed: action=${result.action}, content=${JSON.stringify(result.content ?? {})}`);
    }
    case "json_schema_2020_12_tool":
      return text(`JSON Schema 2020-12 tool called with: ${JSON.stringify(args)}`);
    default:
      return { isError: true, content: [{ type: "text", text: `Unknown tool: ${name}` }] };
  }
}

function readResource(uri: string) {
  if (uri === "test://static-text") {
    return { contents: [{ uri, mimeType: "text/plain", text: "This is the content of the static text resource." }] };
  }
  if (uri === "test://static-binary") return { contents: [{ uri, mimeType: "image/png", blob: PNG }] };
  if (uri === "test://watched-resource")
    return { contents: [{ uri, mimeType: "text/plain", text: "Watched content" }] };
  const id = /^test:\/\/template\/([^/]+)\/data$/.exec(uri)?.[1];
  if (id !== undefined) {
    const data = { id, templateTest: true, data: `Data for ID: ${id}` };
    return { contents: [{ uri, mimeType: "application/json", text: JSON.stringify(data) }] };
  }
  throw new ResourceNotFoundError(uri, `Resource not found: ${uri}`);
}

function getPrompt(name: string, args: Record<string, string>) {
  switch (name) {
    case "test_simple_prompt":
      return { messages: [{ role: "user" as const, content: { type: "text" as const, text: "A simple prompt." } }] };
    case "test_prompt_with_arguments":
      return {
        messages: [
          {
            role: "user" as const,
            content: { type: "text" as const, text: `Prompt with arguments: arg1='${args.arg1}', arg2='${args.arg2}'` },
          },
        ],
      };
    case "test_prompt_with_embedded_resource":
      return {
        messages: [
          {
            role: "user" as const,
            content: {
              type: "resource" as const,
              resource: { uri: args.resourceUri ?? "", mimeType: "text/plain", text: "Embedded resource content." },
            },
          },
          { role: "user" as const, content: { type: "text" as const, text: "Please process the resource above." } },
        ],
      };
    case "test_prompt_with_image":
      return {
        messages: [
          { role: "user" as const, content: { type: "image" as const, data: PNG, mimeType: "image/png" } },
          { role: "user" as const, content: { type: "text" as const, text: "Please analyze the image above." } },
        ],
      };
    default:
      throw new Error(`Unknown prompt: ${name}`);
  }
}

/** One protocol instance per session (2025), or per request (2026-07-28). */
function createReferenceServer(era: Era = "legacy"): Server {
  const server = new Server(
    { name: "mcp-u2m-proxy-conformance-reference", version: "1.0.0" },
    {
      capabilities: {
        tools: { listChanged: true },
        resources: { subscribe: true, listChanged: true },
        prompts: { listChanged: true },
        logging: {},
        completions: {},
      },
    },
  );
  const subscriptions = new Set<string>();
  server.setRequestHandler("tools/list", () => ({ tools: TOOLS }));
  server.setRequestHandler("tools/call", (request, ctx) =>
    callTool(request.params.name, request.params.arguments ?? {}, ctx, era),
  );
  server.setRequestHandler("resources/list", () => ({ resources: RESOURCES }));
  server.setRequestHandler("resources/templates/list", () => ({
    resourceTemplates: [
      {
        uriTemplate: "test://template/{id}/data",
        name: "template",
        description: "A resource template with an id",
        mimeType: "application/json",
      },
    ],
  }));
  server.setRequestHandler("resources/read", (request) => readResource(request.params.uri));
  server.setRequestHandler("resources/subscribe", (request) => {
    subscriptions.add(request.params.uri);
    return {};
  });
  server.setRequestHandler("resources/unsubscribe", (request) => {
    subscriptions.delete(request.params.uri);
    return {};
  });
  server.setRequestHandler("prompts/list", () => ({ prompts: PROMPTS }));
  server.setRequestHandler("prompts/get", (request) => getPrompt(request.params.name, request.params.arguments ?? {}));
  server.setRequestHandler("logging/setLevel", () => ({}));
  server.setRequestHandler("completion/complete", () => ({ completion: { values: [], total: 0, hasMore: false } }));
  return server;
}

export interface ReferenceServer {
  /** `http://127.0.0.1:PORT/mcp`. */
  url: string;
  close(): Promise<void>;
}

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

/** Starts the reference server on 127.0.0.1. */
export async function startReferenceServer(options: ReferenceServerOptions = {}): Promise<ReferenceServer> {
  const protect = options.dnsRebindingProtection !== false;
  const sessions = new Map<string, NodeStreamableHTTPServerTransport>();
  const modern =
    options.wire === "2026"
      ? createMcpHandler(({ era }) => createReferenceServer(era), { legacy: "reject" })
      : undefined;
  const modernNode = modern ? toNodeHandler(modern) : undefined;
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    if (url.pathname !== "/mcp") return writeJson(res, 404, jsonRpcError(-32601, "not found"));
    // DNS rebinding protection: what a localhost server without authentication must do.
    const host = validateHostHeader(req.headers.host, localhostAllowedHostnames());
    const origin = validateOriginHeader(req.headers.origin, localhostAllowedOrigins());
    if (protect && (!host.ok || !origin.ok))
      return writeJson(res, 403, jsonRpcError(-32000, "forbidden Host or Origin"));

    let body: unknown;
    if (req.method === "POST") {
      try {
        body = JSON.parse(await readBody(req));
      } catch {
        return writeJson(res, 400, jsonRpcError(-32700, "parse error"));
      }
    }
    if (modernNode) return modernNode(req, res, body);
    const sessionId = req.headers["mcp-session-id"];
    if (typeof sessionId === "string") {
      const transport = sessions.get(sessionId);
      if (!transport) return writeJson(res, 404, jsonRpcError(-32001, "session not found"));
      return transport.handleRequest(req, res, body);
    }
    if (req.method !== "POST" || !isInitializeRequest(body)) {
      return writeJson(res, 400, jsonRpcError(-32000, "no session: send initialize first"));
    }
    const transport: NodeStreamableHTTPServerTransport = new NodeStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      eventStore: new MemoryEventStore(),
      retryInterval: 1000,
      onsessioninitialized: (id) => void sessions.set(id, transport),
      onsessionclosed: (id) => void sessions.delete(id),
    });
    await createReferenceServer().connect(transport);
    await transport.handleRequest(req, res, body);
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      console.error("reference server error:", error);
      if (!res.headersSent) writeJson(res, 500, jsonRpcError(-32603, "internal error"));
      else res.end();
    });
  });
  await new Promise<void>((done, fail) => {
    server.once("error", fail);
    server.listen(options.port ?? 0, "127.0.0.1", () => done());
  });
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${bound}/mcp`,
    async close() {
      await Promise.all([...sessions.values()].map((transport) => transport.close()));
      sessions.clear();
      await modern?.close();
      await new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      });
    },
  };
}

function writeJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}

function jsonRpcError(code: number, message: string) {
  return { jsonrpc: "2.0", id: null, error: { code, message } };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const server = await startReferenceServer({ port: Number(process.argv[2] ?? 0) });
  console.log(server.url);
  process.on("SIGINT", () => void server.close().then(() => process.exit(0)));
}
