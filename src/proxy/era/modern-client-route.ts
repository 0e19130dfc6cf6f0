import type { JSONRPCMessage, RequestId, Transport, TransportSendOptions } from "@modelcontextprotocol/client";
import type { Logger } from "../../lib/logger.ts";
import { isHttpStatusError } from "../upstream-http-error.ts";
import type { EraVerdict, EraVerdicts } from "./era-verdicts.ts";
import { ModernClientBridge } from "./modern-client-bridge.ts";
import { claimsModern } from "./modern-results.ts";

/**
 * Where a 2026-07-28 client's connection goes, decided on its first message: a 2025-only upstream gets Bridge B
 * ({@link ModernClientBridge}); a modern or dual-era upstream is spoken to in the client's own era, unchanged (the
 * pass-through). The verdict comes from {@link EraVerdicts} (configured, stored, or probed now). A stored verdict
 * can be stale (the server changed era since it was probed): when the first message fails on it (an HTTP refusal,
 * or a 2025 server's "not initialized" answer to a passed-through request), the verdict is dropped, the upstream
 * probed again, and the other route taken for that same message if the new verdict says so.
 */

export interface ModernClientRouteOptions {
  eras: EraVerdicts;
  upstreamName: string;
  logger: Logger;
  /** A fresh, unstarted 2025-wire client transport to the upstream (over the authorized fetch). */
  openLegacy: () => Transport;
  /**
   * Sends the first message unchanged on the connection's own Streamable HTTP transport (the pass-through). Upstream
   * messages for which `screen` returns true meanwhile are held back (not passed to the client).
   */
  passThrough: (screen?: (message: JSONRPCMessage) => boolean) => Promise<void>;
  /** Undoes the pass-through's transport (it was the wrong route). */
  dropPassThrough: () => Promise<void>;
  /** Passes a held-back message on to the client after all. */
  deliver: (message: JSONRPCMessage) => void;
  /** Makes the bridge the connection's upstream transport (before the first message goes, so later ones follow). */
  adoptBridge: (bridge: ModernClientBridge) => void;
  /** Undoes {@link adoptBridge}: the bridge was the wrong route. */
  dropBridge: (bridge: ModernClientBridge) => Promise<void>;
}

/** Whether a client's message speaks the 2026-07-28 wire: `server/discover`, or a request claiming that era. */
export function isModernClientMessage(message: JSONRPCMessage): boolean {
  if (!("method" in message)) return false;
  if (message.method === "server/discover") return true;
  return claimsModern(message.params as Record<string, unknown> | undefined);
}

export async function routeModernClient(
  route: ModernClientRouteOptions,
  first: JSONRPCMessage,
  options: TransportSendOptions | undefined,
): Promise<void> {
  const verdict = await route.eras.get().catch(() => undefined);
  if (verdict?.era === "legacy") return bridge(route, first, options, verdict);
  // A 2025 server may answer the modern request with its own JSON-RPC refusal (400 "not initialized"), which the
  // transport hands over as the answer: on a remembered verdict, that answer is held back until checked.
  const firstId = "id" in first ? first.id : undefined;
  let refusal: JSONRPCMessage | undefined;
  const screen =
    verdict?.source === "stored" && firstId !== undefined
      ? (message: JSONRPCMessage) => {
          if (refusal !== undefined || !isLegacyRefusalOf(message, firstId)) return false;
          refusal = message;
          return true;
        }
      : undefined;
  try {
    await route.passThrough(screen);
  } catch (error) {
    if (!mayBeStale(verdict, error)) throw error;
    const fresh = await reprobe(route, "2026-07-28");
    if (fresh?.era !== "legacy") throw error;
    return bridge(route, first, options, fresh);
  }
  if (refusal === undefined) return;
  const fresh = await reprobe(route, "2026-07-28");
  if (fresh?.era !== "legacy") {
    route.deliver(refusal);
    return;
  }
  await route.dropPassThrough();
  return bridge(route, first, options, fresh);
}

/** 2026-07-28 error codes: a server that answers with one of them speaks that wire. */
const MODERN_ERROR_CODES = new Set([-32020, -32021, -32022]);

/**
 * Whether `message` answers request `id` with an error from the implementation-defined range (-32000 to -32099)
 * that is not a 2026-07-28 code: what a 2025 server says to a request outside a session ("not initialized").
 */
function isLegacyRefusalOf(message: JSONRPCMessage, id: RequestId): boolean {
  if (!("id" in message) || message.id !== id || !("error" in message)) return false;
  const code = (message.error as { code?: unknown }).code;
  return typeof code === "number" && code <= -32000 && code >= -32099 && !MODERN_ERROR_CODES.has(code);
}

async function bridge(
  route: ModernClientRouteOptions,
  first: JSONRPCMessage,
  options: TransportSendOptions | undefined,
  verdict: EraVerdict,
): Promise<void> {
  route.logger.debug(`upstream ${route.upstreamName} speaks only the 2025 wire; bridging this 2026-07-28 client`);
  const modernClientBridge = new ModernClientBridge({
    openLegacy: route.openLegacy,
    upstreamName: route.upstreamName,
    logger: route.logger,
  });
  route.adoptBridge(modernClientBridge);
  try {
    await modernClientBridge.send(first, options);
  } catch (error) {
    if (!mayBeStale(verdict, error)) throw error;
    const fresh = await reprobe(route, "2025");
    if (!fresh || fresh.era === "legacy") throw error;
    await route.dropBridge(modernClientBridge);
    await route.passThrough();
  }
}

/** An HTTP refusal (not a sign-in: those are ProxyErrors) of a request sent on a stored verdict. */
function mayBeStale(verdict: EraVerdict | undefined, error: unknown): boolean {
  return verdict?.source === "stored" && isHttpStatusError(error) && error.status >= 400 && error.status < 500;
}

async function reprobe(route: ModernClientRouteOptions, assumed: string): Promise<EraVerdict | undefined> {
  route.logger.info(
    `the upstream ${route.upstreamName} refused a request sent on its remembered ${assumed} era; checking its MCP revision again`,
  );
  await route.eras.forget();
  return route.eras.get().catch(() => undefined);
}
