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

/**
 * The `Mcp-Param-*` cross-check for a `tools/call` (SEP-2243 §Custom Headers): for each of the tool's
 * `x-mcp-header` declarations whose argument the body carries (not null, a primitive), the header must be there and
 * decode to the same value: the `=?base64?…?=` form must hold canonical Base64 of UTF-8, anything else is taken as
 * is (surrounding whitespace excluded). A number compares numerically. `undefined` when every header agrees.
 */
export function checkParamHeaders(
  headers: Readonly<Record<string, string | string[] | undefined>>,
  declarations: readonly { path: string[]; headerName: string }[],
  args: unknown,
): HeaderMismatch | undefined {
  for (const declaration of declarations) {
    let value: unknown = args;
    for (const key of declaration.path) {
      value = value && typeof value === "object" ? (value as Record<string, unknown>)[key] : undefined;
    }
    if (value === null || value === undefined || typeof value === "object") continue;
    const name = `Mcp-Param-${declaration.headerName}`;
    const where = `params.arguments.${declaration.path.join(".")}`;
    const mismatch = (detail: string): HeaderMismatch => ({
      code: ERA_ERROR.headerMismatch,
      message: `Bad Request: the request headers and body disagree: ${detail}. Send the headers the tool's x-mcp-header annotations ask for.`,
    });
    const raw = single(headers[name.toLowerCase()]);
    if (raw === undefined) return mismatch(`the body carries ${where} but the ${name} header is absent`);
    const decoded = decodeParamValue(raw);
    if (decoded === undefined) return mismatch(`the ${name} header carries an invalid Base64 value`);
    const same =
      typeof value === "number" ? decoded.trim() !== "" && Number(decoded) === value : decoded === String(value);
    if (!same) return mismatch(`the ${name} header names ${JSON.stringify(decoded)} but the body carries ${where}`);
  }
  return undefined;
}

const SENTINEL_FORM = /^=\?base64\?(.*)\?=$/s;
const CANONICAL_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** An `Mcp-Param-*` value as sent: the sentinel form decoded (undefined when it is not canonical Base64 of UTF-8). */
function decodeParamValue(value: string): string | undefined {
  const encoded = SENTINEL_FORM.exec(value)?.[1];
  if (encoded === undefined) return value;
  if (!CANONICAL_BASE64.test(encoded)) return undefined;
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(Buffer.from(encoded, "base64"));
  } catch {
    return undefined;
  }
}
