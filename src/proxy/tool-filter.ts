import type { JSONRPCMessage, RequestId } from "@modelcontextprotocol/client";

/**
 * Tools the proxy hides from its clients (`--ignore-tool PATTERN`, config `"mcp-u2m-proxy".ignoreTools`): left out
 * of every `tools/list` result, and a `tools/call` of one is answered here and never reaches the upstream. Users
 * hide a server's destructive tools, or the dozens they never use (every tool's description costs the model
 * context). The patterns are mcp-remote's `--ignore-tool` ones, so its users' entries keep working: `*` stands for
 * any characters, the rest is literal, matched against the whole name without regard to case.
 */
export class ToolFilter {
  private readonly rules: ReadonlyArray<{ pattern: string; regex: RegExp }>;

  constructor(readonly patterns: readonly string[]) {
    this.rules = patterns.map((pattern) => ({ pattern, regex: patternRegex(pattern) }));
  }

  /** The pattern that hides the tool named `name`, or undefined when it is shown. */
  hiding(name: unknown): string | undefined {
    if (typeof name !== "string") return undefined;
    return this.rules.find((rule) => rule.regex.test(name))?.pattern;
  }

  /**
   * The answer to `message` when it is a `tools/call` of a hidden tool: the error an unknown tool gets (MCP
   * server/tools §Error Handling: -32602), naming the pattern so the user can find why. Undefined otherwise.
   */
  refusal(message: JSONRPCMessage): JSONRPCMessage | undefined {
    if (!("method" in message) || message.method !== "tools/call" || !("id" in message)) return undefined;
    const name = (message.params as { name?: unknown } | undefined)?.name;
    const pattern = this.hiding(name);
    if (pattern === undefined) return undefined;
    return hiddenToolError(message.id, String(name), pattern);
  }

  /** A `tools/list` response without the hidden tools; any other message (an error, no list) as it came. */
  filterList<T extends JSONRPCMessage>(message: T): T {
    const result = (message as { result?: { tools?: unknown } }).result;
    if (!result || !Array.isArray(result.tools)) return message;
    const tools = result.tools.filter((tool: { name?: unknown } | null) => this.hiding(tool?.name) === undefined);
    if (tools.length === result.tools.length) return message;
    return { ...message, result: { ...result, tools } };
  }
}

/** The ToolFilter for `patterns`, or undefined when there are none (nothing to look at on the message path). */
export function toolFilterOf(patterns: readonly string[] | undefined): ToolFilter | undefined {
  return patterns && patterns.length > 0 ? new ToolFilter(patterns) : undefined;
}

function hiddenToolError(id: RequestId, name: string, pattern: string): JSONRPCMessage {
  return {
    jsonrpc: "2.0",
    id,
    error: {
      code: -32602,
      message: `Unknown tool: ${name}. This proxy hides it (--ignore-tool "${pattern}"); remove that pattern to use it.`,
    },
  } as JSONRPCMessage;
}

function patternRegex(pattern: string): RegExp {
  const literal = pattern.split("*").map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  return new RegExp(`^${literal.join(".*")}$`, "is");
}
