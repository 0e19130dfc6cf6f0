// Starts the HTTP face (startServe) in front of a fixture MCP server protected by the fixture authorization
// server, with the real OAuth core (UpstreamAuth, callback "external") and the scripted login as the "browser".
import { type ServeHandle, type ServeOptions, startServe } from "../../../src/app/serve.ts";
import { UpstreamAuth, type UpstreamAuthDeps } from "../../../src/auth/upstream-auth.ts";
import type { RuntimeOptions, UpstreamOptions } from "../../../src/config/options.ts";
import { createLogger, type Logger } from "../../../src/lib/logger.ts";
import { MemoryTokenStore } from "../../../src/store/memory-store.ts";
import { type AuthServerOptions, startAuthServer, type TestAuthServer } from "../../fixtures/auth-server.ts";
import { completeLoginInBrowser, type HeadlessLoginOptions } from "../../fixtures/headless-login.ts";
import { type McpServerOptions, startMcpServer, type TestMcpServer } from "../../fixtures/mcp-server.ts";
import { freePort } from "../../fixtures/ports.ts";

export interface FaceHarness {
  as: TestAuthServer;
  mcp: TestMcpServer;
  auth: UpstreamAuth;
  face: ServeHandle;
  store: MemoryTokenStore;
  /** Authorization URLs the "browser" was asked to open. */
  opened: string[];
  /** Log lines of the proxy (to check nothing secret is printed). */
  logs: string[];
  /** What the "browser" does with the next authorization URLs (can be changed mid-test). */
  browser: "login" | "ignore";
  /** The proxy's MCP endpoint. */
  mcpUrl: string;
  /** Resolves once the core reports signed in. */
  signedIn(): Promise<void>;
  close(): Promise<void>;
}

export interface FaceHarnessOptions {
  authServer?: AuthServerOptions;
  mcpServer?: Omit<McpServerOptions, "authServer">;
  /** Options for startServe (host, apiKey, allowOrigins, timeouts, …). */
  serve?: Partial<ServeOptions>;
  /** What the "browser" does with an authorization URL: log in (default), or nothing ("ignore"). */
  browser?: "login" | "ignore";
  login?: HeadlessLoginOptions;
  /** Extra dependencies for the core (e.g. a lagging clock). */
  deps?: Partial<UpstreamAuthDeps>;
  upstream?: Partial<UpstreamOptions>;
  /** Reuse servers across harnesses (then they are not closed by this one). */
  shared?: { as: TestAuthServer; mcp: TestMcpServer };
}

/** A port that was free a moment ago (the OAuth redirect URI needs the real port before listening). */
export { freePort };

export async function startFaceHarness(options: FaceHarnessOptions = {}): Promise<FaceHarness> {
  const as = options.shared?.as ?? (await startAuthServer(options.authServer));
  const mcp = options.shared?.mcp ?? (await startMcpServer({ authServer: as, ...options.mcpServer }));
  const port = options.serve?.port ?? (await freePort());
  const runtime: RuntimeOptions = {
    authDir: "/nonexistent-memory-store",
    port,
    callbackHost: "127.0.0.1",
    openBrowser: true,
    debug: false,
    allowInsecureHttp: true,
  };
  const upstream: UpstreamOptions = {
    url: mcp.url,
    authorizeParams: {},
    headers: {},
    sendResource: true,
    ...options.upstream,
  };
  const logs: string[] = [];
  const logger: Logger = createLogger({ level: "debug", write: (line) => void logs.push(line) });
  const store = new MemoryTokenStore();
  const opened: string[] = [];
  const control = { browser: options.browser ?? "login" };
  const auth = new UpstreamAuth(upstream, runtime, {
    store,
    logger,
    callback: "external",
    printSignInUrl: () => {},
    openUrl: async (url) => {
      opened.push(url);
      if (control.browser !== "ignore") {
        void completeLoginInBrowser(url, options.login).catch((error: unknown) => {
          logs.push(`headless login failed: ${String(error)}`);
        });
      }
    },
    ...options.deps,
  });
  const face = await startServe({ upstream, runtime, auth, logger, host: "127.0.0.1", port, ...options.serve });
  const signedIn = async () => {
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      if ((await auth.status()).signedIn) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`not signed in after 20 s; logs:\n${logs.join("")}`);
  };
  return {
    as,
    mcp,
    auth,
    face,
    store,
    opened,
    logs,
    get browser() {
      return control.browser;
    },
    set browser(mode) {
      control.browser = mode;
    },
    mcpUrl: `${face.url}/mcp`,
    signedIn,
    close: async () => {
      await face.close();
      await auth.close();
      if (!options.shared) {
        await mcp.close();
        await as.close();
      }
    },
  };
}
