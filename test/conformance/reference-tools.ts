/**
 * How the conformance reference servers' tools (and the one prompt that asks for input) behave, written once in the
 * 2026-07-28 multi-round-trip style (basic/patterns/mrtr): a call that needs something from the client returns an
 * {@link InputRequired} naming what it needs, and is called again with the client's `inputResponses` and the
 * echoed `requestState`. Each wire adapter serves that its own way: the SDK v2 returns it as `input_required` on
 * the 2026-07-28 wire and fulfils it with real server-to-client requests on the 2025 wire (its legacy shim); the
 * SDK v1 reference does the same with its own requests (reference-server-v1.ts).
 *
 * `requestState` is HMAC-sealed (it comes back from the client, so it is untrusted input): a tampered one is
 * refused with -32602, as the input-required-result-tampered-state scenario requires.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { CallToolResult } from "@modelcontextprotocol/server";
import { PNG, SEP1034_SCHEMA, SEP1330_SCHEMA, text, WAV } from "./reference-content.ts";

/** One embedded request of an `input_required` result. */
export interface InputRequest {
  method: "elicitation/create" | "sampling/createMessage" | "roots/list";
  params?: Record<string, unknown>;
}

export interface InputRequired {
  inputRequired: { inputRequests: Record<string, InputRequest>; requestState?: string };
}

/** A refusal the adapters answer with a JSON-RPC error (not a tool result). */
export class ToolProtocolError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: Record<string, unknown>,
  ) {
    super(message);
  }
}

/** What a call sees of its request and its client, the same on every wire. */
export interface ToolContext {
  inputResponses: Record<string, unknown> | undefined;
  requestState: string | undefined;
  /** What the client declared (2026-07-28: the request's `_meta`; 2025: its `initialize`). */
  clientCapabilities: Record<string, unknown> | undefined;
  progressToken: string | number | undefined;
  notify(method: string, params: Record<string, unknown>): Promise<void>;
  /** A log message, sent only when the client asked for logs (2026-07-28: `_meta` log level). */
  log(data: string): Promise<void>;
  /** Closes the call's SSE stream (2025 wire, SEP-1699 resumption); absent elsewhere. */
  closeSSE?: (() => void) | undefined;
  /** Adds or removes the dynamic tool or prompt, then tells the client's listeners. */
  toggleList(kind: "tools" | "prompts"): Promise<void>;
}

const SECRET = randomBytes(32);
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

function seal(state: Record<string, unknown>): string {
  const payload = Buffer.from(JSON.stringify(state)).toString("base64url");
  return `${payload}.${createHmac("sha256", SECRET).update(payload).digest("base64url")}`;
}

/** The sealed state of this round, or undefined when the call carries none; a forged one is refused. */
function unseal(ctx: ToolContext): Record<string, unknown> | undefined {
  const token = ctx.requestState;
  if (token === undefined) return undefined;
  const [payload = "", mac = ""] = token.split(".");
  const wanted = createHmac("sha256", SECRET).update(payload).digest();
  const given = Buffer.from(mac, "base64url");
  if (given.length !== wanted.length || !timingSafeEqual(given, wanted) || token.split(".").length !== 2) {
    throw new ToolProtocolError(-32602, "Invalid requestState: it failed its integrity check.");
  }
  return JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as Record<string, unknown>;
}

type Answer =
  | { kind: "elicit"; action: string; content: Record<string, unknown> | undefined }
  | { kind: "sampling"; text: string }
  | { kind: "roots"; roots: unknown[] };

/** The client's answer to input `key`, if it gave a well-formed one. */
function answerOf(ctx: ToolContext, key: string): Answer | undefined {
  const entry = ctx.inputResponses?.[key] as Record<string, unknown> | null | undefined;
  if (!entry || typeof entry !== "object" || Array.isArray(entry)) return undefined;
  if (typeof entry.action === "string") {
    const content = entry.content && typeof entry.content === "object" ? entry.content : undefined;
    return { kind: "elicit", action: entry.action, content: content as Record<string, unknown> | undefined };
  }
  if (Array.isArray(entry.roots)) return { kind: "roots", roots: entry.roots };
  if (typeof entry.role === "string" && entry.content !== undefined) {
    const blocks = (Array.isArray(entry.content) ? entry.content : [entry.content]) as { text?: unknown }[];
    return { kind: "sampling", text: blocks.map((b) => (typeof b.text === "string" ? b.text : "")).join("") };
  }
  return undefined;
}

const elicit = (message: string, properties: Record<string, unknown>, required: string[]): InputRequest => ({
  method: "elicitation/create",
  params: { message, requestedSchema: { type: "object", properties, required } },
});
const sample = (prompt: string, maxTokens = 100): InputRequest => ({
  method: "sampling/createMessage",
  params: { messages: [{ role: "user", content: { type: "text", text: prompt } }], maxTokens },
});
const ROOTS: InputRequest = { method: "roots/list", params: {} };

const ask = (inputRequests: Record<string, InputRequest>, state?: Record<string, unknown>): InputRequired => ({
  inputRequired: { inputRequests, ...(state ? { requestState: seal(state) } : {}) },
});

/** Asks for every input in `wanted` not answered yet (all again if any is missing), or returns the answers. */
function gather(ctx: ToolContext, wanted: Record<string, InputRequest>, state?: Record<string, unknown>) {
  const answers: Record<string, Answer> = {};
  for (const key of Object.keys(wanted)) {
    const answer = answerOf(ctx, key);
    if (!answer) return { ask: ask(wanted, state) };
    answers[key] = answer;
  }
  return { answers };
}

const describe = (answer: Answer | undefined): string =>
  answer?.kind === "elicit"
    ? `action=${answer.action}, content=${JSON.stringify(answer.content ?? {})}`
    : answer?.kind === "sampling"
      ? answer.text
      : JSON.stringify(answer?.kind === "roots" ? answer.roots : null);

export async function callTool(
  name: string,
  args: Record<string, unknown>,
  ctx: ToolContext,
): Promise<CallToolResult | InputRequired> {
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
    case "test_logging_tool":
      // The 2025 scenario wants the messages spread out; the 2026-07-28 probe gives the whole call 0.5 s.
      for (const [i, message] of [
        "Tool execution started",
        "Tool processing data",
        "Tool execution completed",
      ].entries()) {
        if (i > 0 && name === "test_tool_with_logging") await sleep(50);
        await ctx.log(message);
      }
      return text("Tool with logging executed successfully");
    case "test_tool_with_progress": {
      const progressToken = ctx.progressToken ?? 0;
      for (const progress of [0, 50, 100]) {
        if (progress > 0) await sleep(50);
        await ctx.notify("notifications/progress", {
          progressToken,
          progress,
          total: 100,
          message: `Completed step ${progress} of 100`,
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
      ctx.closeSSE?.();
      await sleep(100);
      return text("Reconnection test completed successfully.");
    case "test_sampling": {
      const got = gather(ctx, { sampling: sample(String(args.prompt ?? "")) });
      return got.ask ?? text(`LLM response: ${describe(got.answers.sampling)}`);
    }
    case "test_elicitation": {
      const request = elicit(
        String(args.message ?? ""),
        {
          username: { type: "string", description: "User's response" },
          email: { type: "string", description: "User's email address" },
        },
        ["username", "email"],
      );
      const got = gather(ctx, { elicitation: request });
      return got.ask ?? text(`User response: ${describe(got.answers.elicitation)}`);
    }
    case "test_elicitation_sep1034_defaults":
    case "test_elicitation_sep1330_enums": {
      const sep1034 = name === "test_elicitation_sep1034_defaults";
      const message = sep1034 ? "Please review the fields with defaults" : "Please select options from the enum fields";
      const requestedSchema = sep1034 ? SEP1034_SCHEMA : SEP1330_SCHEMA;
      const got = gather(ctx, { elicitation: { method: "elicitation/create", params: { message, requestedSchema } } });
      return got.ask ?? text(`Elicitation completed: ${describe(got.answers.elicitation)}`);
    }
    case "json_schema_2020_12_tool":
      return text(`JSON Schema 2020-12 tool called with: ${JSON.stringify(args)}`);
    case "test_input_required_result_elicitation": {
      const got = gather(ctx, { user_name: elicit("What is your name?", { name: { type: "string" } }, ["name"]) });
      if (got.ask) return got.ask;
      return text(`Hello, ${String(got.answers.user_name?.kind === "elicit" && got.answers.user_name.content?.name)}!`);
    }
    case "test_input_required_result_sampling": {
      const got = gather(ctx, { capital_question: sample("What is the capital of France?") });
      return got.ask ?? text(`The model said: ${describe(got.answers.capital_question)}`);
    }
    case "test_input_required_result_list_roots": {
      const got = gather(ctx, { client_roots: ROOTS });
      return got.ask ?? text(`Roots: ${describe(got.answers.client_roots)}`);
    }
    case "test_input_required_result_request_state":
    case "test_input_required_result_tampered_state": {
      const state = unseal(ctx);
      const confirm = elicit("Please confirm", { ok: { type: "boolean" } }, ["ok"]);
      if (state?.tool !== name) return ask({ confirm }, { tool: name, round: 1 });
      const got = gather(ctx, { confirm }, { tool: name, round: 1 });
      return got.ask ?? text(`state-ok: ${describe(got.answers.confirm)}`);
    }
    case "test_input_required_result_multiple_inputs": {
      const state = unseal(ctx);
      const wanted = {
        user_name: elicit("What is your name?", { name: { type: "string" } }, ["name"]),
        greeting: sample("Generate a greeting", 50),
        client_roots: ROOTS,
      };
      if (state?.tool !== name) return ask(wanted, { tool: name });
      const got = gather(ctx, wanted, { tool: name });
      if (got.ask) return got.ask;
      return text(`All inputs: ${Object.values(got.answers).map(describe).join("; ")}`);
    }
    case "test_input_required_result_multi_round": {
      const state = unseal(ctx);
      const step1 = elicit("Step 1: What is your name?", { name: { type: "string" } }, ["name"]);
      const step2 = elicit("Step 2: What is your favorite color?", { color: { type: "string" } }, ["color"]);
      if (state?.tool !== name) return ask({ step1 }, { tool: name, round: 1 });
      if (state.round === 1) {
        const got = gather(ctx, { step1 }, state);
        if (got.ask) return got.ask;
        return ask({ step2 }, { tool: name, round: 2, step1: describe(got.answers.step1) });
      }
      const got = gather(ctx, { step2 }, state);
      return got.ask ?? text(`Done: ${String(state.step1)}; ${describe(got.answers.step2)}`);
    }
    case "test_input_required_result_capabilities": {
      // Asks only for what the client declared (MRTR: a server must not ask for anything else).
      const caps = ctx.clientCapabilities ?? {};
      const wanted: Record<string, InputRequest> = {};
      if (caps.sampling) wanted.capital_question = sample("What is the capital of France?");
      if (caps.elicitation) wanted.user_name = elicit("What is your name?", { name: { type: "string" } }, ["name"]);
      if (Object.keys(wanted).length === 0) return text("The client declared neither sampling nor elicitation.");
      const got = gather(ctx, wanted);
      return got.ask ?? text(`Answers: ${Object.values(got.answers).map(describe).join("; ")}`);
    }
    case "test_missing_capability": {
      // Needs sampling; the adapters refuse it with -32021 when the client did not declare it.
      const got = gather(ctx, { question: sample("Say hello") });
      return got.ask ?? text(`The model said: ${describe(got.answers.question)}`);
    }
    case "test_streaming_elicitation": {
      if (ctx.progressToken !== undefined) {
        await ctx.notify("notifications/progress", { progressToken: ctx.progressToken, progress: 1, total: 2 });
      }
      const got = gather(ctx, { confirm: elicit("Continue?", { ok: { type: "boolean" } }, ["ok"]) });
      return got.ask ?? text(`Streamed: ${describe(got.answers.confirm)}`);
    }
    case "test_trigger_tool_change":
    case "test_trigger_prompt_change": {
      const kind = name === "test_trigger_tool_change" ? "tools" : "prompts";
      await ctx.toggleList(kind);
      return text(`The ${kind} list changed.`);
    }
    case "test_custom_headers":
      return text(`Custom headers test completed for region ${String(args.region)}`);
    case "test_dynamic_tool":
      return text("The dynamic tool ran.");
    default:
      return { isError: true, content: [{ type: "text", text: `Unknown tool: ${name}` }] };
  }
}

/** prompts/get of `test_input_required_result_prompt`, the prompt that asks for input first. */
export function inputRequiredPrompt(ctx: ToolContext) {
  const got = gather(ctx, {
    user_context: elicit("What context should the prompt use?", { context: { type: "string" } }, ["context"]),
  });
  if (got.ask) return got.ask;
  const answer = got.answers.user_context;
  const context = answer?.kind === "elicit" ? String(answer.content?.context ?? "") : "";
  return {
    messages: [{ role: "user" as const, content: { type: "text" as const, text: `Use this context: ${context}` } }],
  };
}
