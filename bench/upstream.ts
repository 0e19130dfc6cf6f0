/**
 * The benchmark's upstream side, in its own process so that its CPU is not charged to the client or the proxy:
 * the oidc-provider test authorization server and two protected SDK MCP servers (Streamable HTTP with stateful
 * sessions at `/mcp`, legacy HTTP+SSE at `/sse`), all on 127.0.0.1.
 *
 * Talks to the parent over IPC (see `UpstreamRequest`). Counts every HTTP request each server receives through
 * Node's `http.server.request.start` diagnostics channel, so discovery requests to the AS (its well-known
 * metadata, JWKS, …) are counted too, not only the OAuth endpoints the fixture's own stats record.
 *
 * With `--extra-mcp N`, N more protected Streamable HTTP servers of the same kind listen on ports of their own
 * (the other entries of the many-upstreams path's config file: each is a distinct upstream with its own sign-in).
 */
import { subscribe } from "node:diagnostics_channel";
import type { IncomingMessage, Server } from "node:http";
import { startAuthServer } from "../test/fixtures/auth-server.ts";
import { startMcpServer, type TestMcpServer } from "../test/fixtures/mcp-server.ts";
import { registerClient, signIn } from "../test/fixtures/oauth-test-client.ts";

/** Requests seen by one server since the last reset. */
export interface ServerCounts {
  /** MCP endpoint requests (POST/GET/DELETE on /mcp, /sse, /messages). */
  mcp: number;
  /** Everything under /.well-known/ (RFC 9728 / RFC 8414 / OIDC discovery). */
  discovery: number;
  /** Anything else (AS endpoints: /token, /register, …; not /jwks, which only the MCP servers fetch). */
  other: number;
}

export interface UpstreamCounts {
  as: ServerCounts;
  mcp: ServerCounts;
  sse: ServerCounts;
  /** The 2026-07-28-only server (stateless modern wire, legacy requests refused). */
  modern: ServerCounts;
  /** All the extra MCP servers together. */
  extra: ServerCounts;
}

export type UpstreamRequest =
  | { id: number; type: "counts"; reset?: boolean }
  /** Resets the fixtures' own stats (their per-request arrays grow without bound over a benchmark). */
  | { id: number; type: "reset-fixture-stats" }
  /** A real token from the AS for `resource`, through a headless authorization code flow (PKCE, RFC 8707). */
  | { id: number; type: "sign-in"; resource: string; redirectUri?: string };

export interface UpstreamReady {
  type: "ready";
  issuer: string;
  mcpUrl: string;
  sseUrl: string;
  /** The 2026-07-28-only MCP server. */
  modernUrl: string;
  /** The extra MCP servers' URLs (`--extra-mcp N`). */
  extraMcpUrls: string[];
}

export interface SignInAnswer {
  client: { client_id: string; redirect_uris: string[]; token_endpoint_auth_method: string };
  token: { access_token: string; token_type: string; expires_in: number; refresh_token?: string; scope?: string };
}

const KEEP_ALIVE_MS = 65_000;

const empty = (): ServerCounts => ({ mcp: 0, discovery: 0, other: 0 });
const emptyCounts = (): UpstreamCounts => ({
  as: empty(),
  mcp: empty(),
  sse: empty(),
  modern: empty(),
  extra: empty(),
});

/** `--extra-mcp N` (0-50). */
function extraServerCount(): number {
  const at = process.argv.indexOf("--extra-mcp");
  const count = at === -1 ? 0 : Number(process.argv[at + 1]);
  if (!Number.isInteger(count) || count < 0 || count > 50) throw new Error("--extra-mcp must be 0-50");
  return count;
}

async function main(): Promise<void> {
  const as = await startAuthServer();
  const mcp = await startMcpServer({ authServer: as, transport: "streamable-stateful" });
  const sse = await startMcpServer({ authServer: as, transport: "sse" });
  const modern = await startMcpServer({ authServer: as, transport: "2026" });
  const extras: TestMcpServer[] = [];
  for (let i = extraServerCount(); i > 0; i--) {
    extras.push(await startMcpServer({ authServer: as, transport: "streamable-stateful" }));
  }

  const ports = new Map<number, keyof UpstreamCounts>([
    [as.port, "as"],
    [mcp.port, "mcp"],
    [sse.port, "sse"],
    [modern.port, "modern"],
    ...extras.map((server) => [server.port, "extra"] as const),
  ]);
  let counts = emptyCounts();
  subscribe("http.server.request.start", (message) => {
    const { request, server } = message as { request: IncomingMessage; server: Server };
    const address = server.address();
    const which = typeof address === "object" && address ? ports.get(address.port) : undefined;
    if (!which) return;
    // Node's default keep-alive timeout (5 s) races with clients reusing a connection at that very moment ("other
    // side closed"), more so on a loaded machine; production servers keep connections longer (nginx: 75 s).
    if (server.keepAliveTimeout !== KEEP_ALIVE_MS) server.keepAliveTimeout = KEEP_ALIVE_MS;
    const path = request.url ?? "/";
    // The MCP servers fetch the AS's JWKS to verify tokens: resource-server traffic, not the client's.
    if (which === "as" && path.startsWith("/jwks")) return;
    const bucket = counts[which];
    if (path.startsWith("/.well-known/")) bucket.discovery++;
    else if (which !== "as" && (path.startsWith("/mcp") || path.startsWith("/sse") || path.startsWith("/messages")))
      bucket.mcp++;
    else bucket.other++;
  });

  const send = (message: unknown) => process.send?.(message);
  process.on("message", (raw) => {
    const request = raw as UpstreamRequest;
    void (async () => {
      try {
        switch (request.type) {
          case "counts": {
            const snapshot = structuredClone(counts);
            if (request.reset) counts = emptyCounts();
            send({ id: request.id, ok: true, value: snapshot });
            return;
          }
          case "reset-fixture-stats":
            as.resetStats();
            mcp.resetStats();
            sse.resetStats();
            modern.resetStats();
            for (const server of extras) server.resetStats();
            send({ id: request.id, ok: true, value: null });
            return;
          case "sign-in": {
            // The fixture's sign-in comes back on 127.0.0.1 (any port: a native client, RFC 8252 §7.3), so the
            // client is registered for that too, next to the redirect URI its real user will use.
            const client = request.redirectUri
              ? await registerClient(as, [request.redirectUri, "http://127.0.0.1/oauth/callback"])
              : undefined;
            const result = await signIn(as, { resource: request.resource, ...(client ? { client } : {}) });
            if (result.token?.status !== 200) throw new Error(`sign-in failed: HTTP ${result.token?.status}`);
            const answer: SignInAnswer = {
              client: result.client,
              token: result.token.body as unknown as SignInAnswer["token"],
            };
            send({ id: request.id, ok: true, value: answer });
            return;
          }
        }
      } catch (error) {
        send({ id: request.id, ok: false, error: String(error) });
      }
    })();
  });

  const stop = async () => {
    await Promise.allSettled([mcp.close(), sse.close(), modern.close(), ...extras.map((server) => server.close())]);
    await as.close();
    process.exit(0);
  };
  process.once("disconnect", () => void stop());
  process.once("SIGTERM", () => void stop());

  const ready: UpstreamReady = {
    type: "ready",
    issuer: as.issuer,
    mcpUrl: mcp.url,
    sseUrl: sse.url,
    modernUrl: modern.url,
    extraMcpUrls: extras.map((server) => server.url),
  };
  send(ready);
}

main().catch((error: unknown) => {
  console.error("bench upstream failed:", error);
  process.exit(1);
});
