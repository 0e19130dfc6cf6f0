import type { JSONRPCResponse, RequestId } from "@modelcontextprotocol/client";
import type { JsonRpcErrorObject } from "../upstream-error.ts";
import { ERA_ERROR, isModernVersion, META, MODERN_PROTOCOL_VERSION } from "./protocol-versions.ts";

/**
 * The pure half of Bridge B (a 2026-07-28 client in front of a 2025-only server): checking a modern request's
 * `_meta` envelope, stripping what a 2025 server does not know, and turning 2025 answers into 2026-07-28 ones
 * (2026-07-28 basic/index §_meta and §Error Codes, server/utilities/caching, server/discover).
 */

/** Requests that may answer `input_required` (2026-07-28 basic/patterns/mrtr §Supported Requests). */
export const INPUT_REQUIRED_METHODS = new Set(["tools/call", "prompts/get", "resources/read"]);

/** Results that MUST carry `ttlMs` and `cacheScope` (2026-07-28 server/utilities/caching §Cacheable Results). */
const CACHEABLE_METHODS = new Set([
  "tools/list",
  "prompts/list",
  "resources/list",
  "resources/templates/list",
  "resources/read",
]);

/** 2025 methods the 2026-07-28 wire removed: a modern client sending them gets method-not-found (SEP-2575). */
export const REMOVED_METHODS = new Set([
  "initialize",
  "ping",
  "logging/setLevel",
  "resources/subscribe",
  "resources/unsubscribe",
]);

/** What the bridge reads from a request's `_meta`. */
export interface ModernEnvelope {
  capabilities: Record<string, unknown>;
  clientInfo: unknown;
  logLevel: string | undefined;
}

/** Reads the envelope, or says which JSON-RPC error the request gets instead (basic/index §_meta; versioning). */
export function readEnvelope(
  params: Record<string, unknown> | undefined,
): { ok: true; envelope: ModernEnvelope } | { ok: false; error: JsonRpcErrorObject } {
  const meta = params?._meta as Record<string, unknown> | undefined;
  const version = meta?.[META.protocolVersion];
  if (typeof version !== "string") {
    return {
      ok: false,
      error: { code: ERA_ERROR.invalidParams, message: `The request has no _meta["${META.protocolVersion}"].` },
    };
  }
  if (version !== MODERN_PROTOCOL_VERSION) {
    return {
      ok: false,
      error: {
        code: ERA_ERROR.unsupportedProtocolVersion,
        message: `Unsupported protocol version: ${version}`,
        data: { supported: [MODERN_PROTOCOL_VERSION], requested: version },
      },
    };
  }
  const capabilities = meta?.[META.clientCapabilities];
  if (!capabilities || typeof capabilities !== "object" || Array.isArray(capabilities)) {
    return {
      ok: false,
      error: { code: ERA_ERROR.invalidParams, message: `The request has no _meta["${META.clientCapabilities}"].` },
    };
  }
  const logLevel = meta?.[META.logLevel];
  return {
    ok: true,
    envelope: {
      capabilities: capabilities as Record<string, unknown>,
      clientInfo: meta?.[META.clientInfo],
      logLevel: typeof logLevel === "string" ? logLevel : undefined,
    },
  };
}

/** Whether the params claim the modern era at all (as opposed to a 2025 request that reached this bridge). */
export function claimsModern(params: Record<string, unknown> | undefined): boolean {
  return isModernVersion((params?._meta as Record<string, unknown> | undefined)?.[META.protocolVersion]);
}

/**
 * The params as a 2025 server gets them: without the connection-owned `_meta` keys (protocol version, client
 * capabilities and identity, log level) and the MRTR retry fields; `progressToken`, trace and vendor keys stay.
 */
export function toLegacyParams(params: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!params) return undefined;
  const { _meta, inputResponses: _i, requestState: _s, ...rest } = params;
  if (!_meta || typeof _meta !== "object") return rest;
  const {
    [META.protocolVersion]: _v,
    [META.clientCapabilities]: _c,
    [META.clientInfo]: _n,
    [META.logLevel]: _l,
    ...keep
  } = _meta as Record<string, unknown>;
  return Object.keys(keep).length === 0 ? rest : { ...rest, _meta: keep };
}

/**
 * A 2025 answer as a 2026-07-28 one: results get `resultType: "complete"` (and caching hints where the method
 * needs them: `ttlMs: 0`, `cacheScope: "private"`, the safe values for a per-user token); a -32002 resource not
 * found becomes -32602 with `data.uri`.
 */
export function toModernResponse(
  id: RequestId,
  method: string,
  answer: JSONRPCResponse,
  params: Record<string, unknown> | undefined,
): JSONRPCResponse {
  if ("error" in answer) {
    const error = answer.error as JsonRpcErrorObject;
    if (error.code !== ERA_ERROR.resourceNotFound) return { jsonrpc: "2.0", id, error } as JSONRPCResponse;
    const data = error.data && typeof error.data === "object" ? (error.data as Record<string, unknown>) : {};
    const uri = data.uri ?? params?.uri;
    return {
      jsonrpc: "2.0",
      id,
      error: { code: ERA_ERROR.invalidParams, message: error.message, data: { ...data, uri } },
    } as JSONRPCResponse;
  }
  const result: Record<string, unknown> = { ...(answer.result as Record<string, unknown>), resultType: "complete" };
  if (CACHEABLE_METHODS.has(method)) addCachingHints(result);
  return { jsonrpc: "2.0", id, result } as JSONRPCResponse;
}

/** `server/discover` answered from the upstream's `initialize` result (2026-07-28 server/discover). */
export function discoverResult(initializeResult: Record<string, unknown>): Record<string, unknown> {
  const result: Record<string, unknown> = {
    resultType: "complete",
    supportedVersions: [MODERN_PROTOCOL_VERSION],
    // Raw, so vendor and experimental keys survive.
    capabilities: initializeResult.capabilities ?? {},
  };
  if (initializeResult.serverInfo !== undefined) {
    // The draft puts it at the top level, the SDK v2 reads `_meta`: both, so either reader finds it.
    result.serverInfo = initializeResult.serverInfo;
    result._meta = { [META.serverInfo]: initializeResult.serverInfo };
  }
  if (typeof initializeResult.instructions === "string") result.instructions = initializeResult.instructions;
  return addCachingHints(result);
}

function addCachingHints(result: Record<string, unknown>): Record<string, unknown> {
  if (typeof result.ttlMs !== "number" || !Number.isSafeInteger(result.ttlMs) || result.ttlMs < 0) result.ttlMs = 0;
  if (result.cacheScope !== "public" && result.cacheScope !== "private") result.cacheScope = "private";
  return result;
}

/** A JSON-RPC error answer. */
export function errorResponse(id: RequestId, error: JsonRpcErrorObject): JSONRPCResponse {
  return { jsonrpc: "2.0", id, error } as JSONRPCResponse;
}
