// The options of a MessageBridge, apart so the bridge and its re-initialisation (session-reinitialiser.ts) share them.
import type { Transport } from "@modelcontextprotocol/client";
import type { Logger } from "../lib/logger.ts";
import type { ToolFilter } from "./tool-filter.ts";

export interface MessageBridgeOptions {
  /** Names the upstream in errors and logs (its URL). */
  upstreamName: string;
  logger?: Logger;
  /**
   * Something client messages must wait for before they go upstream (a sign-in under way at start-up), or
   * undefined when nothing is pending. Called once per client message, so keep it cheap; while it returns the same
   * pending promise, waiting messages go out in arrival order once it settles (settling either way).
   */
  gate?: () => Promise<unknown> | undefined;
  /**
   * A client request could not be sent (e.g. sign-in needed): resolve true to send it once more (e.g. once the
   * sign-in completed), false to answer it with the error. Undefined means "answer with the error now".
   */
  retryAfter?: (error: unknown) => Promise<boolean> | undefined;
  /**
   * A fresh, unstarted upstream transport. When given, a lost upstream session (HTTP 404 on `Mcp-Session-Id`,
   * T25 §Session Management) is re-initialised transparently by replaying the client's `initialize` and
   * `notifications/initialized`, and the failed message is sent again. Without it the client gets an error.
   */
  reconnect?: () => Transport | Promise<Transport>;
  /** Longest wait for the upstream to answer the replayed `initialize` (default 30 s). */
  reinitializeTimeoutMs?: number;
  /** Longest wait for the session DELETE when closing (default 3 s). */
  terminateTimeoutMs?: number;
  /**
   * Ping the client before passing on a response that followed progress notifications, and pass it on once the
   * client answered (or after `progressBarrierTimeoutMs`). For clients that read messages in bursts (stdio, SSE):
   * the SDK clients (v1 and v2) run notification handlers a microtask late but settle responses at once, so a
   * response read in the same chunk as the last progress notifications would overtake them and those would be
   * dropped ("unknown progress token"). The ping's answer proves the client has handled everything before it.
   */
  progressBarrier?: boolean;
  /**
   * Longest wait for the client's answer to that ping once it has left (default 5 s). A client that does not answer (and a
   * 2026-07-28 client, which sends no JSON-RPC responses) gets the best-effort fallback instead: the response is
   * passed on `progressBarrierDelayMs` (default 25 ms) after the progress left, so it most likely lands in a later read.
   */
  progressBarrierTimeoutMs?: number;
  progressBarrierDelayMs?: number;
  /** Tools hidden from the client (--ignore-tool): out of `tools/list` results, their calls refused here. */
  tools?: ToolFilter | undefined;
}
