/**
 * The HTTP shell the conformance reference servers share, whatever SDK serves MCP behind it: `/mcp` on 127.0.0.1,
 * the DNS rebinding protection a localhost server without authentication must have (MCP 2025-11-25 Security Best
 * Practices: a non-localhost `Host` or `Origin` gets 403), the POST body parsed once, and the 2025 session table
 * (a session per `initialize`, 404 for one it does not know).
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import {
  isInitializeRequest,
  localhostAllowedHostnames,
  localhostAllowedOrigins,
  validateHostHeader,
  validateOriginHeader,
} from "@modelcontextprotocol/server";

export interface ReferenceServer {
  /** `http://127.0.0.1:PORT/mcp`. */
  url: string;
  close(): Promise<void>;
}

/** What the shell needs of one 2025 session: its transport's request handling and its closing. */
export interface ReferenceSession {
  handleRequest(req: IncomingMessage, res: ServerResponse, body?: unknown): Promise<void>;
  close(): Promise<void>;
}

export interface ReferenceHttpOptions {
  port?: number | undefined;
  /** Default true: refuse a foreign Host or Origin with 403. */
  dnsRebindingProtection?: boolean | undefined;
  /** Serves every request itself (the 2026-07-28 stateless wire); no sessions then. */
  stateless?: ((req: IncomingMessage, res: ServerResponse, body: unknown) => Promise<void>) | undefined;
  /**
   * Opens a session for an `initialize`; `register` is called with the session id once it is known, `forget`
   * when the session ends.
   */
  openSession?: (register: (id: string) => void, forget: (id: string) => void) => Promise<ReferenceSession>;
  onClose?: () => Promise<void>;
}

export async function serveReference(options: ReferenceHttpOptions): Promise<ReferenceServer> {
  const protect = options.dnsRebindingProtection !== false;
  const sessions = new Map<string, ReferenceSession>();
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    if (url.pathname !== "/mcp") return writeJson(res, 404, jsonRpcError(-32601, "not found"));
    const host = validateHostHeader(req.headers.host, localhostAllowedHostnames());
    const origin = validateOriginHeader(req.headers.origin, localhostAllowedOrigins());
    if (protect && (!host.ok || !origin.ok))
      return writeJson(res, 403, jsonRpcError(-32000, "forbidden Host or Origin"));
    let body: unknown;
    if (req.method === "POST") {
      try {
        body = JSON.parse(await readBody(req));
      } catch {
        return writeJson(res, 400, jsonRpcError(-32700, "parse error"));
      }
    }
    if (options.stateless) return options.stateless(req, res, body);
    const sessionId = req.headers["mcp-session-id"];
    if (typeof sessionId === "string") {
      const session = sessions.get(sessionId);
      if (!session) return writeJson(res, 404, jsonRpcError(-32001, "session not found"));
      return session.handleRequest(req, res, body);
    }
    if (req.method !== "POST" || !isInitializeRequest(body) || !options.openSession) {
      return writeJson(res, 400, jsonRpcError(-32000, "no session: send initialize first"));
    }
    const session: ReferenceSession = await options.openSession(
      (id) => void sessions.set(id, session),
      (id) => void sessions.delete(id),
    );
    await session.handleRequest(req, res, body);
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      console.error("reference server error:", error);
      if (!res.headersSent) writeJson(res, 500, jsonRpcError(-32603, "internal error"));
      else res.end();
    });
  });
  await new Promise<void>((done, fail) => {
    server.once("error", fail);
    server.listen(options.port ?? 0, "127.0.0.1", () => done());
  });
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${bound}/mcp`,
    async close() {
      await Promise.all([...sessions.values()].map((session) => session.close().catch(() => {})));
      sessions.clear();
      await options.onClose?.();
      await new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      });
    },
  };
}

function writeJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}

function jsonRpcError(code: number, message: string) {
  return { jsonrpc: "2.0", id: null, error: { code, message } };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

const SENTINEL = /^=\?base64\?(.*)\?=$/s;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * What a 2026-07-28 server checks of a `tools/call` beyond the SDK v2 low-level `Server` (SEP-2243 §Custom
 * Headers): each top-level argument the tool annotates with `x-mcp-header` must be mirrored in its `Mcp-Param-*`
 * header, Base64 only in canonical `=?base64?…?=` form. Returns the -32020 error to answer with (HTTP 400).
 */
export function paramHeaderRefusal(
  req: IncomingMessage,
  body: unknown,
  tools: readonly { name: string; inputSchema: unknown }[],
): { code: number; message: string } | undefined {
  const message = body as { method?: unknown; params?: { name?: unknown; arguments?: Record<string, unknown> } };
  if (message?.method !== "tools/call") return undefined;
  const tool = tools.find((t) => t.name === message.params?.name);
  const properties = (tool?.inputSchema as { properties?: Record<string, Record<string, unknown>> } | undefined)
    ?.properties;
  for (const [key, property] of Object.entries(properties ?? {})) {
    const header = property["x-mcp-header"];
    const value = message.params?.arguments?.[key];
    if (typeof header !== "string" || value === undefined || value === null) continue;
    const raw = req.headers[`mcp-param-${header.toLowerCase()}`];
    const sent = typeof raw === "string" ? raw.trim() : undefined;
    const encoded = sent === undefined ? undefined : SENTINEL.exec(sent)?.[1];
    let decoded = sent;
    if (encoded !== undefined) {
      decoded = BASE64.test(encoded) ? Buffer.from(encoded, "base64").toString("utf8") : undefined;
    }
    if (decoded !== String(value)) {
      return { code: -32020, message: `Bad Request: Mcp-Param-${header} does not match arguments.${key}` };
    }
  }
  return undefined;
}
