/**
 * Pre-seeds mcp-remote's token store so it starts signed in, without a browser, as it would on a user's machine
 * after its first sign-in. Layout of mcp-remote 0.15.1 (src/lib/mcp-auth-config.ts, node-oauth-client-provider.ts):
 * `$MCP_REMOTE_CONFIG_DIR/mcp-remote-v1/<md5 of the server URL>_client_info.json` (the RFC 7591 registration; its
 * redirect_uris must contain `http://localhost:<callback port>/oauth/callback` or it is deleted at start) and
 * `..._tokens.json` (the token response plus `expires_at` in ms).
 */
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { UpstreamHandle } from "./upstream-handle.ts";

const STORE_DIR = "mcp-remote-v1";

export async function seedMcpRemoteStore(
  upstream: UpstreamHandle,
  serverUrl: string,
  configDir: string,
  callbackPort: number,
): Promise<void> {
  const redirectUri = `http://localhost:${callbackPort}/oauth/callback`;
  const { client, token } = await upstream.signIn(serverUrl, redirectUri);
  // mcp-remote hashes the URL exactly as given on its command line (plus flags we do not pass).
  const hash = createHash("md5").update(serverUrl).digest("hex");
  const dir = join(configDir, STORE_DIR);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const write = (name: string, value: unknown) =>
    writeFileSync(join(dir, `${hash}_${name}`), JSON.stringify(value, null, 2), { mode: 0o600 });
  write("client_info.json", client);
  write("tokens.json", { ...token, expires_at: Date.now() + token.expires_in * 1000 });
}
