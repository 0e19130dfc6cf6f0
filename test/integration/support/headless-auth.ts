// An UpstreamAuth as the CLI builds one (own loopback listener, file store), whose browser is a headless login as
// `login`; its warnings and the URLs it opened are kept for the test. And a tool call with its tokens through the
// SDK's Streamable HTTP client.
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { createAuthorizedFetch } from "../../../src/auth/authorized-fetch.ts";
import { UpstreamAuth } from "../../../src/auth/upstream-auth.ts";
import type { UpstreamOptions } from "../../../src/config/options.ts";
import { createLogger } from "../../../src/lib/logger.ts";
import { FileTokenStore } from "../../../src/store/file-store.ts";
import { completeLoginInBrowser } from "../../fixtures/headless-login.ts";

export function headlessAuth(
  upstream: Partial<UpstreamOptions> & { url: string },
  authDir: string,
  login: string,
): { auth: UpstreamAuth; store: FileTokenStore; warnings: string[]; opened: string[] } {
  const warnings: string[] = [];
  const opened: string[] = [];
  const store = new FileTokenStore({ dir: authDir });
  const auth = new UpstreamAuth(
    { authorizeParams: {}, headers: {}, sendResource: true, ...upstream },
    { authDir, port: 0, callbackHost: "127.0.0.1", openBrowser: true, debug: false, allowInsecureHttp: false },
    {
      store,
      callback: "own-listener",
      logger: createLogger({ level: "warn", write: (line) => void warnings.push(line) }),
      printSignInUrl: () => {},
      openUrl: async (url) => {
        opened.push(url);
        void completeLoginInBrowser(url, { login });
      },
    },
  );
  return { auth, store, warnings, opened };
}

/** Calls tool `name` on the MCP server at `url` with the grant's tokens (refreshed and retried as the proxy does). */
export async function callTool(auth: UpstreamAuth, url: string, name: string, args: Record<string, unknown> = {}) {
  const client = new Client({ name: "core-test", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(url), { fetch: createAuthorizedFetch(auth) });
  await client.connect(transport);
  try {
    return await client.callTool({ name, arguments: args });
  } finally {
    await client.close();
  }
}
