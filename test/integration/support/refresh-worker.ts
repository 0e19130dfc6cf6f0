// A process that shares the token store with others and calls the upstream for a while across token expiries.
// argv: <authDir or store URL> <mcpUrl> <durationMs>. Prints one JSON line: { calls, errors, tokens } (tokens =
// distinct count). A redis:// or postgres:// first argument shares that store instead of a directory.
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { createAuthorizedFetch } from "../../../src/auth/authorized-fetch.ts";
import { UpstreamAuth } from "../../../src/auth/upstream-auth.ts";
import { createStore } from "../../../src/store/create-store.ts";
import { FileTokenStore } from "../../../src/store/file-store.ts";
import { parseStoreUrl } from "../../../src/store/store-url.ts";

const [authDir, mcpUrl, durationMs] = process.argv.slice(2) as [string, string, string];
const shared = authDir.includes("://") ? parseStoreUrl(authDir) : undefined;
const store =
  shared?.backend === "redis" || shared?.backend === "postgres"
    ? createStore({ backend: shared.backend, url: shared.url, onWarning: (m) => process.stderr.write(`${m}\n`) })
    : new FileTokenStore({ dir: authDir });
const auth = new UpstreamAuth(
  { url: mcpUrl, authorizeParams: {}, headers: {}, sendResource: true },
  { authDir, port: 0, callbackHost: "127.0.0.1", openBrowser: false, debug: false, allowInsecureHttp: false },
  { store, callback: "external", printSignInUrl: () => {} },
);
const client = new Client({ name: "refresh-worker", version: "1.0.0" });
await client.connect(
  new StreamableHTTPClientTransport(new URL(mcpUrl), { fetch: createAuthorizedFetch(auth, { signInWaitMs: 0 }) }),
);
const tokens = new Set<string>();
let calls = 0;
let errors = 0;
const until = Date.now() + Number(durationMs);
while (Date.now() < until) {
  try {
    await client.callTool({ name: "echo", arguments: { text: "x" } });
    calls++;
  } catch (error) {
    errors++;
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  }
  const token = await auth.getAccessToken();
  if (token) tokens.add(token);
  await new Promise((resolve) => setTimeout(resolve, 20));
}
await client.close();
process.stdout.write(`${JSON.stringify({ calls, errors, tokens: tokens.size })}\n`);
process.exit(0);
