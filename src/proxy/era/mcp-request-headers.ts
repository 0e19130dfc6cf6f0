import { MCP_NAME_SOURCE, MODERN_PROTOCOL_VERSION } from "./protocol-versions.ts";

/**
 * The HTTP headers a 2026-07-28 request must carry beside its body (Streamable HTTP §Request Metadata):
 * `MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name` (from `params.name`/`params.uri`) and `Mcp-Param-*` mirrored from
 * the tool arguments its `inputSchema` annotates with `x-mcp-header`. Values that are not safe plain ASCII travel in
 * the `=?base64?…?=` form. The same rules as the SDK v2 client (core-internal `mcpParamHeaders.ts`).
 */

/** One `x-mcp-header` annotation: the argument's path through `properties`, and the header's name. */
export interface HeaderDeclaration {
  path: string[];
  headerName: string;
}

/** A tool's declarations, or why the tool definition is invalid (such tools are dropped from `tools/list`). */
export type ToolHeaderScan = { valid: true; declarations: HeaderDeclaration[] } | { valid: false; reason: string };

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const PRIMITIVE_TYPES = new Set(["string", "integer", "boolean"]);
/** Subschema keywords an annotation may not sit under (it must be reachable through `properties` alone). */
const UNREACHABLE_KEYWORDS = [
  "items",
  "prefixItems",
  "contains",
  "additionalProperties",
  "unevaluatedProperties",
  "unevaluatedItems",
  "propertyNames",
  "patternProperties",
  "dependentSchemas",
  "oneOf",
  "anyOf",
  "allOf",
  "not",
  "if",
  "then",
  "else",
  "$defs",
  "definitions",
];
const NAMED_SUBSCHEMA_KEYWORDS = new Set(["patternProperties", "dependentSchemas", "$defs", "definitions"]);

/** Reads a tool's `x-mcp-header` annotations and checks every rule the spec puts on them. */
export function scanToolHeaders(inputSchema: unknown): ToolHeaderScan {
  const declarations: HeaderDeclaration[] = [];
  const seen = new Set<string>();
  const visit = (node: unknown, path: string[], reachable: boolean): string | undefined => {
    if (node === null || typeof node !== "object") return undefined;
    const schema = node as Record<string, unknown>;
    if ("x-mcp-header" in schema) {
      const where = path.length === 0 ? "<root>" : path.join(".");
      if (!reachable || path.length === 0) return `${where}: x-mcp-header is only allowed on properties`;
      const name = schema["x-mcp-header"];
      if (typeof name !== "string" || !TOKEN.test(name)) return `${where}: x-mcp-header is not an HTTP token`;
      if (typeof schema.type !== "string" || !PRIMITIVE_TYPES.has(schema.type)) {
        return `${where}: x-mcp-header is only allowed on string, integer and boolean properties`;
      }
      if (seen.has(name.toLowerCase())) return `x-mcp-header '${name}' is declared twice`;
      seen.add(name.toLowerCase());
      declarations.push({ path, headerName: name });
    }
    const properties = schema.properties;
    if (properties !== null && typeof properties === "object") {
      for (const [key, child] of Object.entries(properties)) {
        const fault = visit(child, [...path, key], reachable);
        if (fault) return fault;
      }
    }
    for (const keyword of UNREACHABLE_KEYWORDS) {
      const sub = schema[keyword];
      if (sub === undefined) continue;
      const branches = Array.isArray(sub)
        ? sub
        : NAMED_SUBSCHEMA_KEYWORDS.has(keyword) && sub !== null && typeof sub === "object"
          ? Object.values(sub)
          : [sub];
      for (const branch of branches) {
        const fault = visit(branch, [...path, `<${keyword}>`], false);
        if (fault) return fault;
      }
    }
    return undefined;
  };
  const fault = visit(inputSchema, [], true);
  return fault ? { valid: false, reason: fault } : { valid: true, declarations };
}

const SENTINEL_PREFIX = "=?base64?";
const SENTINEL_SUFFIX = "?=";

/** A header value as the spec encodes it: as is when it is safe visible ASCII, else `=?base64?<utf-8>?=`. */
export function encodeHeaderValue(value: string): string {
  return needsBase64(value)
    ? `${SENTINEL_PREFIX}${Buffer.from(value, "utf8").toString("base64")}${SENTINEL_SUFFIX}`
    : value;
}

function needsBase64(value: string): boolean {
  if (value.length === 0 || value !== value.trim()) return true;
  if (value.startsWith(SENTINEL_PREFIX) && value.endsWith(SENTINEL_SUFFIX)) return true;
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code !== 9 && (code < 32 || code > 126)) return true;
  }
  return false;
}

function primitiveText(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "boolean") return value ? "true" : "false";
  if (
    typeof value === "number" &&
    Number.isFinite(value) &&
    (!Number.isInteger(value) || Number.isSafeInteger(value))
  ) {
    return String(value);
  }
  return undefined;
}

/**
 * The headers for one 2026-07-28 request. `declarations` are the called tool's (for `tools/call`); an argument that
 * is absent, null or not a primitive gets no header, as the spec says.
 */
export function modernRequestHeaders(
  method: string,
  params: Record<string, unknown> | undefined,
  declarations: readonly HeaderDeclaration[] = [],
): Record<string, string> {
  const headers: Record<string, string> = { "mcp-protocol-version": MODERN_PROTOCOL_VERSION, "mcp-method": method };
  const field = MCP_NAME_SOURCE[method];
  const name = field ? params?.[field] : undefined;
  if (typeof name === "string") headers["mcp-name"] = encodeHeaderValue(name);
  if (declarations.length > 0) {
    const args = params?.arguments;
    for (const declaration of declarations) {
      let value: unknown = args;
      for (const key of declaration.path)
        value = value && typeof value === "object" ? (value as Record<string, unknown>)[key] : undefined;
      const text = value === null || value === undefined ? undefined : primitiveText(value);
      if (text !== undefined) headers[`mcp-param-${declaration.headerName.toLowerCase()}`] = encodeHeaderValue(text);
    }
  }
  return headers;
}
