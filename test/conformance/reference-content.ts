/**
 * What the conformance reference servers offer, whatever SDK and wire serves it: the tool definitions, resources
 * and prompts the official suite's server scenarios call by name, with the static answers (tool behaviour that
 * asks the client or streams is in reference-tools.ts).
 */
import type { CallToolResult, Tool } from "@modelcontextprotocol/server";

/** A resource the scenarios ask for that does not exist: each SDK maps it to its own not-found error. */
export class ResourceNotFound extends Error {
  constructor(readonly uri: string) {
    super(`Resource not found: ${uri}`);
  }
}

/** A 1×1 PNG and a minimal WAV, as the scenarios' content checks expect base64 data with a MIME type. */
export const PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==";
export const WAV = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA=";

export const noArgs = { type: "object" as const, properties: {} };
export const text = (value: string): CallToolResult => ({ content: [{ type: "text", text: value }] });

/** Tool definitions; `json_schema_2020_12_tool` keeps `$schema`, `$defs` and `additionalProperties` (SEP-1613). */
export const TOOLS: Tool[] = [
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
    description: "Tool with JSON Schema 2020-12 features (SEP-1613, SEP-2106)",
    inputSchema: {
      $schema: "https://json-schema.org/draft/2020-12/schema",
      type: "object",
      $defs: {
        address: {
          $anchor: "addressDef",
          type: "object",
          properties: { street: { type: "string" }, city: { type: "string" } },
        },
      },
      properties: {
        name: { type: "string" },
        address: { $ref: "#/$defs/address" },
        contactMethod: { type: "string", enum: ["phone", "email"] },
        phone: { type: "string" },
        email: { type: "string" },
      },
      allOf: [{ anyOf: [{ required: ["phone"] }, { required: ["email"] }] }],
      if: { properties: { contactMethod: { const: "phone" } }, required: ["contactMethod"] },
      // biome-ignore lint/suspicious/noThenProperty: the JSON Schema 2020-12 keyword the scenario checks for
      then: { required: ["phone"] },
      else: { required: ["email"] },
      additionalProperties: false,
    },
  },
  {
    name: "test_custom_headers",
    description: "Mirrors region into the Mcp-Param-Region header (SEP-2243 x-mcp-header)",
    inputSchema: {
      type: "object",
      properties: {
        region: { type: "string", description: "Where to run", "x-mcp-header": "Region" },
        query: { type: "string", description: "Not mirrored" },
      },
      required: ["region"],
    },
  },
  // 2026-07-28 scenarios (SEP-2322 input_required, SEP-2575 stateless servers).
  ...[
    ["test_input_required_result_elicitation", "Asks the user's name (input_required, key user_name)"],
    ["test_input_required_result_sampling", "Asks the client's model (input_required)"],
    ["test_input_required_result_list_roots", "Asks for the client's roots (input_required)"],
    ["test_input_required_result_request_state", "Asks for a confirmation, with a requestState"],
    ["test_input_required_result_multiple_inputs", "Asks for elicitation, sampling and roots at once"],
    ["test_input_required_result_multi_round", "Asks twice, with a new requestState each round"],
    ["test_input_required_result_tampered_state", "Rejects a requestState that fails its integrity check"],
    ["test_input_required_result_capabilities", "Asks only for what the client declared"],
    ["test_missing_capability", "Needs sampling, whether the client declared it or not"],
    ["test_streaming_elicitation", "Reports progress, then asks the user"],
    ["test_logging_tool", "Logs three messages (only to a request that set a log level)"],
    ["test_trigger_tool_change", "Adds or removes test_dynamic_tool (tools list_changed)"],
    ["test_trigger_prompt_change", "Adds or removes test_dynamic_prompt (prompts list_changed)"],
  ].map(([name, description]) => ({ name: name as string, description, inputSchema: noArgs })),
];

export const RESOURCES = [
  { uri: "test://static-text", name: "static-text", mimeType: "text/plain", description: "A static text resource" },
  { uri: "test://static-binary", name: "static-binary", mimeType: "image/png", description: "A static PNG resource" },
  { uri: "test://watched-resource", name: "watched-resource", mimeType: "text/plain", description: "Subscribable" },
];

export const PROMPTS = [
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
  { name: "test_input_required_result_prompt", description: "Asks the user for context first (input_required)" },
];

export const SEP1034_SCHEMA = {
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

export const SEP1330_SCHEMA = {
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

export function readResource(uri: string) {
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
  throw new ResourceNotFound(uri);
}

export function getPrompt(name: string, args: Record<string, string>) {
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
    case "test_dynamic_prompt":
      return { messages: [{ role: "user" as const, content: { type: "text" as const, text: "A dynamic prompt." } }] };
    default:
      throw new Error(`Unknown prompt: ${name}`);
  }
}

/** What the reference servers declare (the same on every wire and SDK). */
export const REFERENCE_CAPABILITIES = {
  tools: { listChanged: true },
  resources: { subscribe: true, listChanged: true },
  prompts: { listChanged: true },
  logging: {},
  completions: {},
};

export const RESOURCE_TEMPLATES = [
  {
    uriTemplate: "test://template/{id}/data",
    name: "template",
    description: "A resource template with an id",
    mimeType: "application/json",
  },
];

/** The entries test_trigger_tool_change and test_trigger_prompt_change add and remove. */
export interface DynamicLists {
  tool: boolean;
  prompt: boolean;
}

export function listTools(lists: DynamicLists): Tool[] {
  const dynamic = { name: "test_dynamic_tool", description: "Listed while toggled on", inputSchema: noArgs };
  return lists.tool ? [...TOOLS, dynamic] : TOOLS;
}

export function listPrompts(lists: DynamicLists) {
  return lists.prompt ? [...PROMPTS, { name: "test_dynamic_prompt", description: "Listed while toggled on" }] : PROMPTS;
}
