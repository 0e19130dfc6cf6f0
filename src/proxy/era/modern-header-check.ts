import { ERA_ERROR, MCP_NAME_SOURCE, META } from "./protocol-versions.ts";

/**
 * The standard-header cross-check a 2026-07-28 server makes before it acts on a request (Streamable HTTP §Server
 * Validation, SEP-2243): the `Mcp-Method` header must name the body's method exactly (values are case-sensitive),
 * and `Mcp-Name` must carry the body's `params.name` (tools/call, prompts/get) or `params.uri` (resources/read),
 * as is or in the `=?base64?…?=` form, and `MCP-Protocol-Version`, when sent, must name the body's
 * `_meta` protocol version (checked before the version itself, so a mismatch is -32020, not -32022). A missing
 * `Mcp-Method` or `Mcp-Name` header where the body has the value is a mismatch too. The
 * proxy makes it when it answers a 2026-07-28 client from a 2025 upstream, which has no such check of its own.
 */
export interface HeaderMismatch {
  code: number;
  message: string;
}

/** `undefined` when the headers agree with the body; otherwise the -32020 error to answer with (HTTP 400). */
export function checkModernHeaders(
  headers: Readonly<Record<string, string | string[] | undefined>>,
  method: string,
  params: Record<string, unknown> | undefined,
): HeaderMismatch | undefined {
  const mismatch = (detail: string): HeaderMismatch => ({
    code: ERA_ERROR.headerMismatch,
    message: `Bad Request: the request headers and body disagree: ${detail}. Send the headers a 2026-07-28 client sends for this request.`,
  });
  const methodHeader = single(headers["mcp-method"]);
  if (methodHeader === undefined)
    return mismatch(`the body names method ${method} but the required Mcp-Method header is absent`);
  if (methodHeader !== method)
    return mismatch(`the body names method ${method} but the Mcp-Method header names ${methodHeader}`);
  const versionHeader = single(headers["mcp-protocol-version"]);
  const version = (params?._meta as Record<string, unknown> | undefined)?.[META.protocolVersion];
  if (versionHeader !== undefined && typeof version === "string" && versionHeader !== version) {
    return mismatch(
      `the body's _meta names protocol version ${version} but the MCP-Protocol-Version header names ${versionHeader}`,
    );
  }
  const key = MCP_NAME_SOURCE[method];
  const value = key ? params?.[key] : undefined;
  if (typeof value !== "string") return undefined;
  const nameHeader = single(headers["mcp-name"]);
  if (nameHeader === undefined)
    return mismatch(
      `the body carries params.${key}=${JSON.stringify(value)} but the required Mcp-Name header is absent`,
    );
  if (decodeHeaderValue(nameHeader) !== value) {
    return mismatch(
      `the body carries params.${key}=${JSON.stringify(value)} but the Mcp-Name header names ${JSON.stringify(nameHeader)}`,
    );
  }
  return undefined;
}

function single(value: string | string[] | undefined): string | undefined {
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined ? undefined : first.trim();
}

const SENTINEL = /^=\?base64\?([A-Za-z0-9+/]*={0,2})\?=$/;

/** A header value as sent: `=?base64?<utf-8>?=` decoded, anything else as is. */
function decodeHeaderValue(value: string): string {
  const encoded = SENTINEL.exec(value)?.[1];
  return encoded === undefined ? value : Buffer.from(encoded, "base64").toString("utf8");
}
