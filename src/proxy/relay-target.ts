// The shape of one relay() call (what the request is, where it goes, how it may end), apart from the relay loop.
import type { Transform } from "node:stream";
import type { ProxyError } from "../lib/errors.ts";

/** What the downstream request is, which decides the upstream path and how errors are shaped. */
export type RelayKind =
  /** Streamable HTTP `/mcp`: JSON-RPC errors for requests (HTTP 200 + id), status for the rest. */
  | "mcp"
  /** Legacy `POST /message`: errors by HTTP status (legacy clients read nothing else). */
  | "legacy-message"
  /** Legacy `GET /sse`: the endpoint event is rewritten. */
  | "legacy-sse"
  /** `ANY /{path}` on the upstream origin: upstream statuses pass through; proxy errors are 502/503/504. */
  | "generic";

export interface RelayTarget {
  kind: RelayKind;
  /** Path and query on the upstream origin. */
  path: string;
  /** Response transform (legacy endpoint rewrite); called once the response is known to be a 2xx SSE stream. */
  transform?: (() => Transform) | undefined;
  /** Request headers (flat) that replace any the client sent under the same names. */
  setHeaders?: string[] | undefined;
  /**
   * Only a 2xx `text/event-stream` answer is wanted (legacy `GET /sse`): anything else is discarded unseen and
   * relay() resolves "not-sse", leaving the response to the caller (e.g. to bridge to Streamable HTTP).
   */
  requireSse?: boolean | undefined;
  /**
   * Probing an upstream of unknown transport with a client's `initialize` POST: when the upstream refuses it the
   * way a legacy HTTP+SSE server does (400/404/405 without a 2026-07-28 JSON-RPC error, T25 §Backwards
   * Compatibility), this gets the buffered body to answer the client by bridging, and relay() resolves "bridged".
   */
  legacyFallback?: ((body: Buffer | undefined) => Promise<void>) | undefined;
  /**
   * A 2025 client's `initialize` POST whose refusal (400/404/405) may come from a 2026-07-28-only upstream: this gets
   * the buffered body first and resolves true when it answered the client (the era probe found a modern server and
   * the era bridge took over; relay() then resolves "bridged"), false to carry on (legacy fallback, or the refusal
   * passed on as it is).
   */
  eraFallback?: ((body: Buffer | undefined) => Promise<boolean>) | undefined;
  /** A long-lived stream: sent over the stream pool, not the request pool. */
  stream?: boolean | undefined;
  /**
   * A needed sign-in (nothing written yet) is answered by this instead of an HTTP error; relay() then resolves
   * "bridged". Legacy `GET /sse`: an HTTP error there reaches no JSON-RPC request, so the face serves the client a
   * session of its own whose answers carry the sign-in error (with URL elicitation when it declared it).
   */
  onSignInNeeded?: ((error: ProxyError) => Promise<void>) | undefined;
}

/** How a relay() call ended. "not-sse" leaves the response unwritten; "bridged" left it to legacyFallback. */
export type RelayOutcome = "relayed" | "answered-error" | "client-gone" | "not-sse" | "bridged";
