/**
 * The two MCP wire eras the proxy bridges, and the names both share: the 2025 session wire (`initialize`,
 * `Mcp-Session-Id`, server-to-client requests) and the 2026-07-28 stateless wire (every request carries its
 * protocol version and client capabilities in `_meta`; `server/discover`; `input_required` results).
 */

/** The one stateless revision this proxy speaks. */
export const MODERN_PROTOCOL_VERSION = "2026-07-28";
/** 2025-era revisions, newest first: what a synthesised `initialize` answer may name. */
export const LEGACY_PROTOCOL_VERSIONS = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"] as const;
export const LATEST_LEGACY_PROTOCOL_VERSION = LEGACY_PROTOCOL_VERSIONS[0];

/** Whether a protocol version string belongs to the stateless era (revisions are dates, so they compare as text). */
export function isModernVersion(version: unknown): version is string {
  return typeof version === "string" && version >= MODERN_PROTOCOL_VERSION;
}

/** Reserved `_meta` keys of the 2026-07-28 wire (basic/index §_meta). */
export const META = {
  protocolVersion: "io.modelcontextprotocol/protocolVersion",
  clientCapabilities: "io.modelcontextprotocol/clientCapabilities",
  clientInfo: "io.modelcontextprotocol/clientInfo",
  logLevel: "io.modelcontextprotocol/logLevel",
  serverInfo: "io.modelcontextprotocol/serverInfo",
  subscriptionId: "io.modelcontextprotocol/subscriptionId",
} as const;

/** JSON-RPC error codes that differ between the eras (basic/index §Error Codes of each revision). */
export const ERA_ERROR = {
  /** 2025: resource not found. 2026 uses -32602 instead. */
  resourceNotFound: -32002,
  invalidParams: -32602,
  methodNotFound: -32601,
  invalidRequest: -32600,
  /** 2026: the HTTP headers disagree with the body. */
  headerMismatch: -32020,
  /** 2026: the request needs a client capability its `_meta` did not declare (`data.requiredCapabilities`). */
  missingClientCapability: -32021,
  /** 2026: the protocol version is not supported (`data.supported`, `data.requested`). */
  unsupportedProtocolVersion: -32022,
} as const;

/** The methods whose `params` field `Mcp-Name` mirrors (2026-07-28 Streamable HTTP §Request Metadata). */
export const MCP_NAME_SOURCE: Readonly<Record<string, "name" | "uri">> = {
  "tools/call": "name",
  "prompts/get": "name",
  "resources/read": "uri",
};
