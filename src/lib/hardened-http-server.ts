import { createServer, type RequestListener, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";

/**
 * Limits on inbound sockets. Every socket that times out or is abandoned is destroyed, never only half-closed: a
 * peer that does not read would otherwise keep a half-closed socket (and its file descriptor) open for as long as it
 * likes.
 */
export interface InboundTimeouts {
  /** The request headers must arrive within this; also bounds a connection that sends nothing (Node's headersTimeout). */
  headersMs: number;
  /** The whole request, body included, must arrive within this (Node's requestTimeout). */
  requestMs: number;
  /** A kept-alive connection with no request in flight is destroyed after this long. */
  keepAliveMs: number;
  /**
   * A socket without traffic for this long is destroyed unless it carries a response the peer still takes: a quiet
   * stream (SSE) stays open, a response whose writes have not moved for this long (the peer stopped reading) does not.
   */
  idleMs: number;
}

/** `defaults` with the limits given in `overrides` (an undefined one keeps its default). */
export function inboundTimeouts(defaults: InboundTimeouts, overrides: Partial<InboundTimeouts> = {}): InboundTimeouts {
  const given = Object.entries(overrides).filter(([, ms]) => typeof ms === "number");
  return { ...defaults, ...Object.fromEntries(given) };
}

/** How long a peer answered with an error status may take to read it before the socket is destroyed anyway. */
const ERROR_GRACE_MS = 1_000;
/** TCP keep-alive probes after this much silence, so the dead peer of a long, quiet stream is noticed. */
const TCP_KEEPALIVE_DELAY_MS = 30_000;

/**
 * `http.createServer` with inbound socket hygiene: header, body, keep-alive and idle timeouts that destroy the socket,
 * client errors answered (400/408/431) and then destroyed, TCP keep-alive on every accepted socket.
 * Long responses are not limited: the proxy streams SSE for as long as the client reads.
 */
export function createHardenedHttpServer(
  listener: RequestListener,
  timeouts: InboundTimeouts,
  options: { noDelay?: boolean } = {},
): Server {
  const requestMs = timeouts.requestMs;
  // Node refuses headersTimeout > requestTimeout.
  const headersMs = requestMs > 0 ? Math.min(timeouts.headersMs, requestMs) : timeouts.headersMs;
  const shortest = Math.min(...[headersMs, requestMs].filter((ms) => ms > 0), 4_000);
  const server = createServer(
    {
      headersTimeout: headersMs,
      requestTimeout: requestMs,
      keepAliveTimeout: timeouts.keepAliveMs,
      // Node checks header/request deadlines on this interval (default 30 s, which would stretch a 20 s limit to 50 s).
      connectionsCheckingInterval: Math.max(25, Math.floor(shortest / 4)),
      noDelay: options.noDelay ?? true,
    },
    listener,
  );

  // Responses in flight per socket: an idle socket with one of them is a quiet stream, not an abandoned socket.
  const inFlight = new WeakMap<Duplex, Set<ServerResponse>>();
  server.prependListener("request", (req, res) => {
    const socket = req.socket;
    let responses = inFlight.get(socket);
    if (!responses) {
      responses = new Set();
      inFlight.set(socket, responses);
    }
    responses.add(res);
    res.once("close", () => responses.delete(res));
  });

  server.on("connection", (socket: Socket) => socket.setKeepAlive(true, TCP_KEEPALIVE_DELAY_MS));

  // Node arms this inactivity timer on every socket (the keep-alive timeout replaces it between requests) and, with a
  // 'timeout' listener, leaves the decision to us. Writes that make progress postpone it (see net.Socket).
  server.timeout = timeouts.idleMs;
  server.on("timeout", (socket: Duplex) => {
    const streaming = (inFlight.get(socket)?.size ?? 0) > 0;
    if (streaming && socket.writableLength === 0) return; // quiet, but the peer has taken everything written
    socket.destroy();
  });

  server.on("clientError", (error: NodeJS.ErrnoException, socket: Duplex) => {
    const started = [...(inFlight.get(socket) ?? [])].some((res) => res.headersSent);
    // A status line in the middle of a response would corrupt it: then only destroy.
    if (!socket.writable || started) {
      socket.destroy();
      return;
    }
    socket.end(errorResponse(error.code), () => socket.destroy());
    // A peer that does not read keeps the write from ever finishing.
    const timer = setTimeout(() => socket.destroy(), ERROR_GRACE_MS);
    timer.unref();
    socket.once("close", () => clearTimeout(timer));
  });
  return server;
}

function errorResponse(code: string | undefined): string {
  const status =
    code === "ERR_HTTP_REQUEST_TIMEOUT"
      ? "408 Request Timeout"
      : code === "HPE_HEADER_OVERFLOW"
        ? "431 Request Header Fields Too Large"
        : code === "HPE_CHUNK_EXTENSIONS_OVERFLOW"
          ? "413 Payload Too Large"
          : "400 Bad Request";
  return `HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`;
}
