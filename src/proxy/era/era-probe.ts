import type { JSONRPCRequest } from "@modelcontextprotocol/client";
import type { FetchLike } from "../../auth/authorized-fetch.ts";
import { isProxyError } from "../../lib/errors.ts";
import { httpFailureOf, jsonRpcErrorBody } from "../upstream-error.ts";
import { modernRequestHeaders } from "./mcp-request-headers.ts";
import { exchangeModern } from "./modern-exchange.ts";
import { ERA_ERROR, isModernVersion, META, MODERN_PROTOCOL_VERSION } from "./protocol-versions.ts";

/** Which wire an upstream speaks: the 2025 session wire only, 2026-07-28 only, or both. */
export type Era = "legacy" | "modern" | "dual";

export interface EraProbeResult {
  era: Era;
  /** The versions the server named (its `server/discover`, or `data.supported` of a -32022); empty when legacy. */
  supportedVersions: string[];
  /** The `server/discover` result when the server gave one. */
  discover?: Record<string, unknown> | undefined;
}

export const PROBE_ID = "mcp-u2m-proxy:era-probe";
const PROBE_TIMEOUT_MS = 15_000;

/** The proxy's own `server/discover` (also what answers a 2025 client's `initialize` in front of a modern server). */
export function discoverRequest(
  id: string | number,
  identity: { capabilities?: unknown; clientInfo?: unknown } = {},
): JSONRPCRequest {
  return {
    jsonrpc: "2.0",
    id,
    method: "server/discover",
    params: {
      _meta: {
        [META.protocolVersion]: MODERN_PROTOCOL_VERSION,
        [META.clientCapabilities]: identity.capabilities ?? {},
        [META.clientInfo]: identity.clientInfo ?? { name: "mcp-u2m-proxy", version: "1" },
      },
    },
  };
}

/**
 * Finds out which era an upstream speaks, the way the 2026-07-28 spec and the SDK v2 client do (versioning
 * §Backward Compatibility; SDK `versionNegotiation.ts`): send a modern request first. Only a valid `server/discover`
 * result or an `UnsupportedProtocolVersion` (-32022) error proves a modern server; any other answer (a 2025 server's
 * "not initialized", 404, 405, a method-not-found) means legacy. Nothing is concluded from what proves nothing:
 * a sign-in needed (the authorized fetch's ProxyError), a network failure, a timeout or a 5xx reject instead.
 */
export async function probeEra(url: URL, fetch: FetchLike, timeoutMs = PROBE_TIMEOUT_MS): Promise<EraProbeResult> {
  const request = discoverRequest(PROBE_ID);
  let answer: Awaited<ReturnType<typeof exchangeModern>>;
  try {
    answer = await exchangeModern(url, fetch, request, {
      headers: modernRequestHeaders("server/discover", request.params),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    if (isProxyError(error)) throw error;
    const http = httpFailureOf(error);
    if (!http || http.status >= 500) throw error;
    const rpcError = jsonRpcErrorBody(http.text);
    if (rpcError?.code === ERA_ERROR.unsupportedProtocolVersion) return fromUnsupported(rpcError.data);
    return { era: "legacy", supportedVersions: [] };
  }
  if ("error" in answer) {
    if (answer.error.code === ERA_ERROR.unsupportedProtocolVersion) return fromUnsupported(answer.error.data);
    return { era: "legacy", supportedVersions: [] };
  }
  const result = answer.result as Record<string, unknown>;
  const versions = result.supportedVersions;
  if (
    !Array.isArray(versions) ||
    !versions.every((v) => typeof v === "string") ||
    typeof result.capabilities !== "object"
  ) {
    // Not a DiscoverResult: a server that answers anything with a result is no proof of the modern wire.
    return { era: "legacy", supportedVersions: [] };
  }
  return { ...eraOf(versions as string[]), discover: result };
}

/** A -32022 names what the server supports: modern if that includes ours, legacy (initialize) otherwise. */
function fromUnsupported(data: unknown): EraProbeResult {
  const supported = (data as { supported?: unknown } | undefined)?.supported;
  const versions = Array.isArray(supported) ? supported.filter((v): v is string => typeof v === "string") : [];
  if (!versions.includes(MODERN_PROTOCOL_VERSION)) return { era: "legacy", supportedVersions: versions };
  return eraOf(versions);
}

function eraOf(versions: string[]): EraProbeResult {
  if (!versions.includes(MODERN_PROTOCOL_VERSION)) return { era: "legacy", supportedVersions: versions };
  return { era: versions.some((v) => !isModernVersion(v)) ? "dual" : "modern", supportedVersions: versions };
}
