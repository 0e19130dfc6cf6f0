// Load for the scale-out tests: a sign-in stored ahead of the replicas, SDK clients and raw sessionless POSTs
// through the fleet's haproxy, and the refresh accounting read at the authorization server.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { UpstreamAuth } from "../../../src/auth/upstream-auth.ts";
import type { TokenStore } from "../../../src/store/token-store.ts";
import type { TokenGrantRecord } from "../../fixtures/auth-server.ts";
import { completeLoginInBrowser } from "../../fixtures/headless-login.ts";
import type { Fleet } from "./replica-fleet.ts";

/** Signs in once through the auth core on `store` (the replicas then find the grant there), then closes both. */
export async function signInOnce(store: TokenStore, mcpUrl: string): Promise<void> {
  const auth = new UpstreamAuth(
    { url: mcpUrl, authorizeParams: {}, headers: {}, sendResource: true },
    {
      authDir: "/nonexistent",
      port: 0,
      callbackHost: "127.0.0.1",
      openBrowser: true,
      debug: false,
      allowInsecureHttp: false,
    },
    {
      store,
      callback: "own-listener",
      printSignInUrl: () => {},
      openUrl: async (url) => void completeLoginInBrowser(url),
    },
  );
  await auth.signIn();
  await auth.close();
  await store.close?.();
}

export interface Tally {
  calls: number;
  failures: string[];
  /** When each failed call ended (Date.now()), in the order of `failures`. */
  failedAt: number[];
}

export const newTally = (): Tally => ({ calls: 0, failures: [], failedAt: [] });

function fail(tally: Tally, text: string): void {
  tally.failures.push(text);
  tally.failedAt.push(Date.now());
}

export async function sdkClient(fleet: Fleet, i: number): Promise<Client> {
  const client = new Client({ name: `scale-out-${i}`, version: "1.0.0" });
  try {
    await client.connect(new StreamableHTTPClientTransport(new URL(`${fleet.url}/mcp`)));
  } catch (error) {
    throw new Error(`client ${i} could not connect through haproxy: ${String(error)}\nhaproxy: ${fleet.log()}`);
  }
  return client;
}

/** An error's message with its cause's (fetch says only "fetch failed"; the cause says why). */
export function failureText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause as { code?: string; message?: string } | undefined;
  return cause ? `${error.message} (${cause.code ?? ""} ${cause.message ?? ""})` : error.message;
}

export async function callEcho(client: Client, tally: Tally, text: string): Promise<void> {
  try {
    const result = await client.callTool({ name: "echo", arguments: { text } });
    const content = result.content as { type: string; text?: string }[];
    if (result.isError || content[0]?.text !== text) fail(tally, `bad result ${JSON.stringify(result)}`);
    else tally.calls++;
  } catch (error) {
    fail(tally, `${new Date().toISOString()} ${failureText(error)}`);
  }
}

/** A sessionless POST (initialize): no Mcp-Session-Id, so haproxy balances it round-robin. */
export async function rawInitialize(frontUrl: string, tally: Tally): Promise<void> {
  try {
    const res = await fetch(`${frontUrl}/mcp`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "initialize",
        params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
      }),
    });
    const body = await res.text();
    const session = res.headers.get("mcp-session-id");
    if (res.status !== 200 || !body.includes("serverInfo")) fail(tally, `raw ${res.status}: ${body}`);
    else tally.calls++;
    // End the session it opened upstream (the DELETE goes to the replica that answered, by the header).
    if (session) {
      const end = await fetch(`${frontUrl}/mcp`, { method: "DELETE", headers: { "mcp-session-id": session } });
      await end.body?.cancel();
    }
  } catch (error) {
    fail(tally, `${new Date().toISOString()} raw: ${failureText(error)}`);
  }
}

export async function loop(until: () => boolean, step: () => Promise<void>): Promise<void> {
  while (!until()) {
    await step();
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** How the refreshes at the AS fell, per access-token expiry (from the AS's grant records, tokens hashed). */
export interface ExpiryReport {
  /**
   * One entry per refresh token seen in the records, oldest first (each stands for one access-token lifetime, since
   * every grant issues both): how many refresh requests presented it. With one refresh per expiry every entry is 1
   * but the newest (0: not expired yet); 2 or more is a reused refresh token.
   */
  refreshesPerToken: number[];
  /**
   * One entry per access token issued: how many refreshes the AS answered during its lifetime (issue to issue +
   * expires_in). Replicas each refreshing on their own would put two or three in one lifetime.
   */
  refreshesPerLifetime: number[];
}

export function expiryReport(grants: readonly TokenGrantRecord[]): ExpiryReport {
  const uses = new Map<string, number>();
  for (const grant of grants) {
    // A refresh token issued before the records start is first seen when it is presented.
    if (grant.presentedRefreshToken) {
      uses.set(grant.presentedRefreshToken, (uses.get(grant.presentedRefreshToken) ?? 0) + 1);
    }
    if (grant.issuedRefreshToken && !uses.has(grant.issuedRefreshToken)) uses.set(grant.issuedRefreshToken, 0);
  }
  const refreshes = grants.filter((grant) => grant.grantType === "refresh_token" && grant.status === 200);
  const refreshesPerLifetime = grants
    .filter((grant) => grant.status === 200 && grant.expiresIn !== undefined)
    .map((issued) => {
      const end = issued.at + (issued.expiresIn ?? 0) * 1000;
      return refreshes.filter((refresh) => refresh !== issued && refresh.at > issued.at && refresh.at < end).length;
    });
  return { refreshesPerToken: [...uses.values()], refreshesPerLifetime };
}

/** "1×15, 0×1": how often each count occurs, in the order first seen. */
export function countSummary(counts: readonly number[]): string {
  const seen = new Map<number, number>();
  for (const count of counts) seen.set(count, (seen.get(count) ?? 0) + 1);
  return [...seen].map(([count, times]) => `${count}×${times}`).join(", ");
}
