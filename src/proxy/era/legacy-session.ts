import type {
  JSONRPCMessage,
  JSONRPCRequest,
  JSONRPCResponse,
  RequestId,
  Transport,
  TransportSendOptions,
} from "@modelcontextprotocol/client";
import { describeError, ProxyError } from "../../lib/errors.ts";
import type { Logger } from "../../lib/logger.ts";
import { LATEST_LEGACY_PROTOCOL_VERSION } from "./protocol-versions.ts";

/**
 * One 2025-era session with the upstream, opened by the proxy itself on behalf of a 2026-07-28 client (which sends
 * no `initialize`): `initialize` with the client's capabilities and identity, the negotiated `MCP-Protocol-Version`
 * set on the transport, then `notifications/initialized` (after which the Streamable HTTP client transport opens
 * the session's GET stream). The proxy's own requests (`initialize`, `logging/setLevel`, `resources/subscribe`)
 * are answered here; every other upstream message goes to `onMessage`.
 */

export interface LegacySessionOptions {
  transport: Transport;
  upstreamName: string;
  logger: Logger;
  /** Upstream messages that are not answers to the session's own requests. */
  onMessage: (message: JSONRPCMessage) => void;
  /** The transport closed by itself (not through {@link LegacySession.close}). */
  onClosed: () => void;
  /** Longest wait for the answer to one of the session's own requests. */
  timeoutMs: number;
}

type Pending = { resolve: (message: JSONRPCResponse) => void; reject: (error: unknown) => void };

const OWN_ID_PREFIX = "mcp-u2m-proxy:own-";

export class LegacySession {
  /** The upstream's `initialize` result (capabilities, serverInfo, instructions, protocolVersion). */
  initializeResult: Record<string, unknown> = {};
  /** The level last set with `logging/setLevel`, if any. */
  logLevel: string | undefined;
  private readonly pending = new Map<RequestId, Pending>();
  private seq = 0;
  private closing = false;

  private constructor(private readonly options: LegacySessionOptions) {
    const transport = options.transport;
    transport.onmessage = (message) => this.fromUpstream(message);
    transport.onerror = (error) => options.logger.debug(`upstream transport: ${describeError(error)}`);
    transport.onclose = () => {
      this.failPending(new ProxyError("NETWORK", `The connection to ${options.upstreamName} closed.`));
      if (!this.closing) options.onClosed();
    };
  }

  /** Starts the transport and runs the 2025 handshake. Rejects (and closes the transport) when it fails. */
  static async open(
    options: LegacySessionOptions,
    identity: { capabilities: unknown; clientInfo: unknown },
  ): Promise<LegacySession> {
    const session = new LegacySession(options);
    try {
      await options.transport.start();
      const answer = await session.request("initialize", {
        protocolVersion: LATEST_LEGACY_PROTOCOL_VERSION,
        capabilities: identity.capabilities ?? {},
        clientInfo: identity.clientInfo ?? { name: "mcp-u2m-proxy", version: "1" },
      });
      if ("error" in answer) {
        throw new ProxyError(
          "UPSTREAM_ERROR",
          `The upstream ${options.upstreamName} refused initialize: ${answer.error.message}`,
          { hint: "Check the server; it may not accept this client's capabilities." },
        );
      }
      session.initializeResult = (answer.result ?? {}) as Record<string, unknown>;
      const version = session.initializeResult.protocolVersion;
      if (typeof version === "string") options.transport.setProtocolVersion?.(version);
      await options.transport.send({ jsonrpc: "2.0", method: "notifications/initialized" });
    } catch (error) {
      await session.close(false);
      throw error;
    }
    return session;
  }

  get transport(): Transport {
    return this.options.transport;
  }

  get capabilities(): Record<string, unknown> {
    return (this.initializeResult.capabilities ?? {}) as Record<string, unknown>;
  }

  send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    return this.options.transport.send(message, options);
  }

  /** One of the proxy's own requests, answered within the session's timeout. */
  request(method: string, params: Record<string, unknown>): Promise<JSONRPCResponse> {
    const id = `${OWN_ID_PREFIX}${++this.seq}`;
    const message: JSONRPCRequest = { jsonrpc: "2.0", id, method, params };
    return new Promise<JSONRPCResponse>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(
          new ProxyError("UPSTREAM_TIMEOUT", `The upstream ${this.options.upstreamName} did not answer ${method}.`),
        );
      }, this.options.timeoutMs);
      timer.unref?.();
      const settle = (then: () => void) => {
        clearTimeout(timer);
        this.pending.delete(id);
        then();
      };
      this.pending.set(id, {
        resolve: (answer) => settle(() => resolve(answer)),
        reject: (error) => settle(() => reject(error)),
      });
      this.options.transport.send(message).catch((error: unknown) => this.pending.get(id)?.reject(error));
    });
  }

  /** Ends the session: DELETE when `terminate` (and the transport can), then close the transport. */
  async close(terminate = true): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.failPending(new ProxyError("NETWORK", "The proxy is closing the upstream session."));
    const transport = this.options.transport as Transport & { terminateSession?: () => Promise<void> };
    if (terminate && typeof transport.terminateSession === "function" && transport.sessionId) {
      const timer = new Promise<void>((resolve) => setTimeout(resolve, 3_000).unref?.());
      await Promise.race([transport.terminateSession().catch(() => {}), timer]);
    }
    await transport.close().catch(() => {});
  }

  private fromUpstream(message: JSONRPCMessage): void {
    if (!("method" in message) && "id" in message && message.id !== undefined) {
      const pending = this.pending.get(message.id);
      if (pending) {
        pending.resolve(message as JSONRPCResponse);
        return;
      }
    }
    this.options.onMessage(message);
  }

  private failPending(error: unknown): void {
    for (const pending of [...this.pending.values()]) pending.reject(error);
  }
}
