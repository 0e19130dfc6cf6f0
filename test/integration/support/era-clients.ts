// Clients and small helpers shared by the HTTP-face revision-bridging tests: a 2025-era SDK v1 client (Streamable
// HTTP on /mcp or legacy SSE on /sse) and a 2026-07-28 SDK v2 client pinned to the modern era, each answering
// sampling and elicitation, with the notifications they received kept for assertions.
import assert from "node:assert/strict";
import {
  Client as ClientV2,
  StreamableHTTPClientTransport as StreamableHTTPClientTransportV2,
} from "@modelcontextprotocol/client";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  LoggingMessageNotificationSchema,
  ResourceUpdatedNotificationSchema,
  ToolListChangedNotificationSchema,
} from "@modelcontextprotocol/sdk/types.js";
import type { TestMcpServer } from "../../fixtures/mcp-server.ts";

export const LOG_LEVEL_META = "io.modelcontextprotocol/logLevel";

export const textOf = (result: unknown) => ((result as { content?: Array<{ text?: string }> }).content ?? [])[0]?.text;
export const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
export const countOf = (server: TestMcpServer, method: string) =>
  server.stats.methods.filter((m) => m === method).length;

/** Waits (bounded, about 6 s) until `done()` holds; the assertion after it says what was expected. */
/** Asserts that `call` is refused as a tool the proxy hides (--ignore-tool): -32602, naming the tool and pattern. */
export async function rejectsAsHidden(call: Promise<unknown>, name: string, pattern: string): Promise<void> {
  const escaped = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  await assert.rejects(call, (error: Error & { code?: number }) => {
    assert.equal(error.code, -32602);
    assert.match(
      error.message,
      new RegExp(`Unknown tool: ${escaped(name)}\\. This proxy hides it \\(--ignore-tool "${escaped(pattern)}"\\)`),
    );
    return true;
  });
}

export async function until(done: () => boolean, rounds = 300): Promise<void> {
  for (let i = 0; i < rounds && !done(); i++) await pause(20);
}

export interface Seen {
  method: string;
  params: Record<string, unknown>;
}

/** Notifications a client received, in order, with a matcher. */
export class SeenNotifications {
  readonly list: Seen[] = [];
  push(method: string, params: unknown): void {
    this.list.push({ method, params: (params ?? {}) as Record<string, unknown> });
  }
  has(method: string, match: (params: Record<string, unknown>) => boolean = () => true): boolean {
    return this.list.some((n) => n.method === method && match(n.params));
  }
  /** Log lines (`notifications/message` data) seen so far. */
  logs(): unknown[] {
    return this.list.filter((n) => n.method === "notifications/message").map((n) => n.params.data);
  }
}

/** An SDK v1 (2025-era) client that answers sampling and elicitation and records its notifications. */
export function legacyClient(name: string): { client: Client; seen: SeenNotifications } {
  const client = new Client({ name, version: "1.0.0" }, { capabilities: { sampling: {}, elicitation: {} } });
  client.setRequestHandler(CreateMessageRequestSchema, async () => ({
    model: "test-model",
    role: "assistant",
    content: { type: "text", text: "legacy sample" },
  }));
  client.setRequestHandler(ElicitRequestSchema, async () => ({ action: "accept", content: { answer: "Ada" } }));
  const seen = new SeenNotifications();
  client.setNotificationHandler(LoggingMessageNotificationSchema, async (n) => seen.push(n.method, n.params));
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, async (n) => seen.push(n.method, n.params));
  client.setNotificationHandler(ToolListChangedNotificationSchema, async (n) => seen.push(n.method, n.params));
  return { client, seen };
}

/** The SDK v1 client transport for the face's `/mcp` (Streamable HTTP) or `/sse` (legacy HTTP+SSE). */
export function legacyTransport(faceUrl: string, path: "/mcp" | "/sse") {
  return path === "/mcp"
    ? new StreamableHTTPClientTransport(new URL(`${faceUrl}/mcp`))
    : new SSEClientTransport(new URL(`${faceUrl}/sse`));
}

/** An SDK v2 client pinned to 2026-07-28 that answers sampling and elicitation and records its notifications. */
export function modernClient(name: string): { client: ClientV2; seen: SeenNotifications } {
  const client = new ClientV2(
    { name, version: "1.0.0" },
    {
      capabilities: { sampling: {}, elicitation: { form: {} } },
      versionNegotiation: { mode: { pin: "2026-07-28" } },
    },
  );
  client.setRequestHandler("sampling/createMessage", async () => ({
    model: "test-model",
    role: "assistant",
    content: { type: "text", text: "modern sample" },
  }));
  client.setRequestHandler("elicitation/create", async () => ({ action: "accept", content: { answer: "Grace" } }));
  const seen = new SeenNotifications();
  for (const method of [
    "notifications/message",
    "notifications/tools/list_changed",
    "notifications/resources/updated",
  ] as const) {
    client.setNotificationHandler(method, (notification) => seen.push(method, notification.params));
  }
  return { client, seen };
}

export function modernTransport(mcpUrl: string) {
  return new StreamableHTTPClientTransportV2(new URL(mcpUrl));
}
