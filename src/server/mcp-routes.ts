// The MCP client routes (/mcp, /sse, /message) and their bridging choices, apart from the pages and the front door.
import type { IncomingMessage, ServerResponse } from "node:http";
import { describeError, ProxyError } from "../lib/errors.ts";
import type { Logger } from "../lib/logger.ts";
import { LegacySseSessions } from "../proxy/legacy-sse-sessions.ts";
import { writeErrorResponse } from "../proxy/relay-errors.ts";
import { SseEndpointRewrite } from "../proxy/sse-endpoint-rewrite.ts";
import { StreamLimits } from "../proxy/stream-limits.ts";
import type { UpstreamTransportKind } from "../proxy/upstream-connector.ts";
import type { HttpFaceOptions } from "./http-face-options.ts";
import { writeJsonError } from "./json-response.ts";
import type { Router } from "./router.ts";
import type { TransportBridges } from "./transport-bridges.ts";

/**
 * Registers `/mcp` (Streamable HTTP pass-through, or a bridge when the client's transport or era is not the
 * upstream's), `GET /sse` and `POST /message` (legacy HTTP+SSE) on `router`.
 *
 * @see MCP 2025-11-25 basic/transports §Streamable HTTP, 2024-11-05 §HTTP with SSE
 */
export function addMcpRoutes(router: Router, options: HttpFaceOptions, logger: Logger): void {
  const { relay } = options;
  const sessions = new LegacySseSessions(relay.upstream, `${options.basePath ?? ""}/message`);
  const streams = options.streamLimits ?? new StreamLimits();

  /**
   * Takes a stream slot for a long-lived response, released when the response closes; answers 503 (with a
   * JSON-RPC error) and returns false when the proxy or the session is at its limit.
   */
  function holdStreamSlot(req: IncomingMessage, res: ServerResponse): boolean {
    const session = req.headers["mcp-session-id"];
    const slot = streams.acquire(typeof session === "string" ? session : undefined);
    if (slot instanceof ProxyError) {
      logger.warn("refused a stream at the limit", { reason: slot.message });
      writeErrorResponse(res, slot, { statusOnly: true });
      return false;
    }
    res.once("close", slot);
    const closed = options.traffic?.metrics.streamOpened();
    if (closed) res.once("close", closed);
    return true;
  }

  const bridges = options.bridges;
  let upstreamKind = options.upstreamTransport;
  /** Bridged legacy clients' session ids, so their POSTs go to the bridge without loading it for anyone else. */
  const bridgedLegacy = new Set<string>();
  options.traffic?.metrics.countSessions(() => sessions.size + bridgedLegacy.size);

  /** The bridges once loaded (a session the proxy holds can only exist then). */
  let loadedBridges: TransportBridges | undefined;
  const eras = options.eras;

  router.add(["GET", "POST", "DELETE"], "/mcp", "mcp", (req, res, { query }) => {
    const stream = isLongLivedStream(req);
    options.keepAlive?.watch(res, { longLived: stream });
    if (stream && !holdStreamSlot(req, res)) return;
    const sessionless = req.method === "POST" && req.headers["mcp-session-id"] === undefined;
    if (eras && bridges && isModernClientRequest(req)) {
      // A verdict from the store may be out of date (the server changed era while the proxy was down): the first
      // 2026-07-28 request it would route is routed by a probe instead, once per process.
      if (sessionless && eras.fromStore) return probeForModernClient(req, res, query, bridges, stream);
      if (eras.known !== "modern" && eras.known !== "dual") {
        // A 2026-07-28 client: bridged when the upstream speaks only the 2025 session wire.
        if (eras.known === "legacy" || upstreamKind === "sse") return bridgeModern(req, res, bridges);
        if (sessionless) return probeForModernClient(req, res, query, bridges, stream);
      }
    }
    if (upstreamKind === "sse" && bridges) return bridges().then((via) => via.handleStreamableClient(req, res));
    if (eras && bridges && !isModernClientRequest(req)) {
      // A 2025 client: bridged when the upstream speaks only 2026-07-28 (or the session is already a bridged one).
      const session = req.headers["mcp-session-id"];
      const held = typeof session === "string" && loadedBridges?.holdsSession(session) === true;
      if (held || eras.known === "modern") return bridgeEra(req, res, bridges);
      // A stored legacy verdict is checked only when the upstream refuses the relayed initialize (probeStreamable's
      // era fallback): the pass-through path stays free of probes while the verdict holds.
      if (sessionless && (eras.known === undefined || eras.fromStore)) {
        return probeStreamable(req, res, query, bridges, stream);
      }
    }
    if (upstreamKind === undefined && bridges && sessionless) {
      return probeStreamable(req, res, query, bridges, stream);
    }
    return relay.relay(req, res, { kind: "mcp", path: relay.mcpPath(query), stream });
  });

  /** A 2026-07-28 client's `/mcp` request in front of a 2025-only upstream: answered from an upstream session. */
  async function bridgeModern(req: IncomingMessage, res: ServerResponse, via: () => Promise<TransportBridges>) {
    loadedBridges = await via();
    await loadedBridges.handleModernClient(req, res);
  }

  /**
   * A 2026-07-28 client's first request while the upstream's era is unknown, or known only from the store: the era
   * probe (itself a `server/discover`) decides; when it proves nothing (no sign-in yet, an outage), the stored
   * verdict (if any) does, else the request is relayed.
   */
  async function probeForModernClient(
    req: IncomingMessage,
    res: ServerResponse,
    query: string,
    via: () => Promise<TransportBridges>,
    stream: boolean,
  ) {
    const verdict = await eras?.confirm().catch((error: unknown) => {
      logger.debug(`the era probe proved nothing: ${describeError(error)}`);
      return eras.get().catch(() => undefined);
    });
    if (verdict?.era === "legacy") {
      logger.info("the upstream speaks only the 2025 MCP session wire; bridging 2026-07-28 clients to it", {
        upstream: relay.upstream.href,
      });
      return bridgeModern(req, res, via);
    }
    return relay.relay(req, res, { kind: "mcp", path: relay.mcpPath(query), stream });
  }

  /** A 2025 client's `/mcp` request in front of a 2026-07-28-only upstream: the proxy holds the session. */
  async function bridgeEra(
    req: IncomingMessage,
    res: ServerResponse,
    via: () => Promise<TransportBridges>,
    body?: Buffer,
  ): Promise<void> {
    loadedBridges = await via();
    await loadedBridges.handleStreamableClient(req, res, body, "streamable-http");
  }

  /**
   * A session-less POST to /mcp while the upstream's transport or era is unknown: relay it, and learn. A refused
   * `initialize` is checked with the era probe first (a 2026-07-28-only server refuses it), then as a legacy
   * HTTP+SSE server's refusal.
   */
  async function probeStreamable(
    req: IncomingMessage,
    res: ServerResponse,
    query: string,
    via: () => Promise<TransportBridges>,
    stream: boolean,
  ) {
    const outcome = await relay.relay(req, res, {
      kind: "mcp",
      path: relay.mcpPath(query),
      stream,
      ...(upstreamKind === undefined
        ? {
            legacyFallback: async (body: Buffer | undefined) => {
              upstreamKind = "sse";
              await (await via()).handleStreamableClient(req, res, body);
            },
          }
        : {}),
      ...(eras && (eras.known === undefined || eras.fromStore)
        ? {
            eraFallback: async (body: Buffer | undefined) => {
              const verdict = await eras.confirm().catch((error: unknown) => {
                logger.debug(`the era probe proved nothing: ${describeError(error)}`);
                return undefined;
              });
              if (verdict?.era !== "modern") return false;
              logger.info("the upstream speaks only MCP 2026-07-28; bridging 2025 clients to it", {
                upstream: relay.upstream.href,
              });
              upstreamKind = "streamable-http";
              await bridgeEra(req, res, via, body);
              return true;
            },
          }
        : {}),
    });
    if (outcome === "relayed" && res.statusCode < 300) upstreamKind ??= "streamable-http";
  }

  async function bridgeLegacyClient(
    req: IncomingMessage,
    res: ServerResponse,
    via: () => Promise<TransportBridges>,
    toward?: UpstreamTransportKind | "detect",
  ) {
    const sessionId = await (await via()).openLegacyClient(req, res, toward);
    options.sessionBinding?.legacyOpened(`bridged:${sessionId}`, res);
    bridgedLegacy.add(sessionId);
    res.once("close", () => bridgedLegacy.delete(sessionId));
  }

  /** A legacy client whose user must sign in first: bound to them like a bridged one (sign-in-legacy-session.ts). */
  async function bridgeSignIn(res: ServerResponse, via: () => Promise<TransportBridges>, error: ProxyError) {
    const sessionId = await (await via()).openSignInClient(res, error);
    options.sessionBinding?.legacyOpened(`bridged:${sessionId}`, res);
    bridgedLegacy.add(sessionId);
    res.once("close", () => bridgedLegacy.delete(sessionId));
  }

  router.add("GET", "/sse", "sse", async (req, res, context) => {
    options.keepAlive?.watch(res, { longLived: true });
    if (!holdStreamSlot(req, res)) return;
    if ((upstreamKind === "streamable-http" || eras?.known === "modern") && bridges) {
      return bridgeLegacyClient(req, res, bridges);
    }
    // The legacy relay passes the event stream on as bytes; hidden tools need the bridge, which reads messages.
    if (relay.hidesTools) {
      if (bridges) return bridgeLegacyClient(req, res, bridges, upstreamKind ?? "detect");
      return writeJsonError(
        res,
        501,
        "Legacy SSE clients are not served here: the proxy hides tools and bridging is off.",
      );
    }
    const outcome = await relay.relay(req, res, {
      kind: "legacy-sse",
      path: relay.mcpPath(context.query),
      requireSse: true,
      stream: true,
      // The endpoint event is read (and rewritten) on the way through: no compression.
      setHeaders: ["accept-encoding", "identity"],
      // Not signed in: the stream needs the token, and which transport the upstream speaks is not known yet; a
      // session of the proxy's own answers the client's requests with the sign-in error instead of an HTTP error.
      onSignInNeeded: bridges ? (error) => bridgeSignIn(res, bridges, error) : undefined,
      transform: () =>
        new SseEndpointRewrite({
          rewrite: (data) => {
            const { proxyEndpoint, key } = sessions.register(data);
            options.sessionBinding?.legacyOpened(key, res);
            res.once("close", () => sessions.remove(key));
            return proxyEndpoint;
          },
        }),
    });
    if (outcome === "relayed") upstreamKind ??= "sse";
    if (outcome !== "not-sse") return;
    // No event stream on GET: the upstream speaks Streamable HTTP (remembered), so bridge this client to it.
    upstreamKind = "streamable-http";
    if (bridges) return bridgeLegacyClient(req, res, bridges);
    writeErrorResponse(
      res,
      new ProxyError(
        "UPSTREAM_ERROR",
        `The upstream ${relay.upstream.href} does not speak the legacy HTTP+SSE transport (no event stream on GET).`,
        { hint: "Connect your client to the proxy's /mcp endpoint (Streamable HTTP) instead of /sse." },
      ),
      { statusOnly: true },
    );
  });

  router.add("POST", "/message", "message", async (req, res, context) => {
    if (bridges && bridgedLegacy.has(new URLSearchParams(context.query).get("sessionId") ?? "")) {
      return (await bridges()).postLegacyMessage(req, res, context.query);
    }
    const path = sessions.resolve(context.query);
    if (path === undefined) {
      writeJsonError(res, 404, "Unknown legacy SSE session: open the event stream at /sse first.");
      return;
    }
    await relay.relay(req, res, { kind: "legacy-message", path });
  });
}

/**
 * Responses that stay open for as long as the client listens: a session's GET stream, and a 2026-07-28
 * `subscriptions/listen` (named by its `Mcp-Method` header, which 2026-07-28 clients must send).
 */
export function isLongLivedStream(req: IncomingMessage): boolean {
  if (req.method === "GET") return true;
  return req.method === "POST" && req.headers["mcp-method"] === "subscriptions/listen";
}

/**
 * A request of a 2026-07-28 client: it names its revision in `MCP-Protocol-Version` on every request (SH §Protocol
 * Version Header), where a 2025 client sends none before its session or a 2025 date.
 */
function isModernClientRequest(req: IncomingMessage): boolean {
  const version = req.headers["mcp-protocol-version"];
  return typeof version === "string" && version >= "2026";
}
