// The OAuth core (UpstreamAuth) against a real authorization server (oidc-provider) and a real MCP server (SDK)
// that validates its JWTs: sign-in, state and iss checks, refresh, invalid_grant, step-up, no disk read per token.
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { UpstreamAuth, type UpstreamAuthDeps } from "../../src/auth/upstream-auth.ts";
import type { RuntimeOptions, UpstreamOptions } from "../../src/config/options.ts";
import { isProxyError } from "../../src/lib/errors.ts";
import { FileTokenStore } from "../../src/store/file-store.ts";
import type { TokenStore } from "../../src/store/token-store.ts";
import { startAuthServer, type TestAuthServer } from "../fixtures/auth-server.ts";
import { startCallbackListener } from "../fixtures/callback-listener.ts";
import { completeLoginInBrowser } from "../fixtures/headless-login.ts";
import { startMcpServer, type TestMcpServer } from "../fixtures/mcp-server.ts";
import { callTool } from "./support/headless-auth.ts";
import { freePort } from "./support/http-face-harness.ts";

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "u2m-core-"));
  dirs.push(dir);
  return join(dir, "auth");
}

function runtime(authDir: string, port = 0): RuntimeOptions {
  return { authDir, port, callbackHost: "127.0.0.1", openBrowser: true, debug: false, allowInsecureHttp: false };
}

function upstreamOf(url: string, extra: Partial<UpstreamOptions> = {}): UpstreamOptions {
  return { url, authorizeParams: {}, headers: {}, sendResource: true, ...extra };
}

/** An UpstreamAuth whose "browser" is the headless login driver (own loopback listener on a free port). */
async function signedInAuth(
  mcp: TestMcpServer,
  options: {
    store?: TokenStore;
    login?: string;
    upstream?: Partial<UpstreamOptions>;
    deps?: Partial<UpstreamAuthDeps>;
  } = {},
) {
  const authDir = await tempDir();
  const store = options.store ?? new FileTokenStore({ dir: authDir });
  const opened: string[] = [];
  const auth = new UpstreamAuth(upstreamOf(mcp.url, options.upstream), runtime(authDir), {
    store,
    callback: "own-listener",
    printSignInUrl: () => {},
    openUrl: async (url) => {
      opened.push(url);
      void completeLoginInBrowser(url, { login: options.login ?? "alice" });
    },
    ...options.deps,
  });
  return { auth, store, authDir, opened };
}

describe("UpstreamAuth against oidc-provider and an SDK MCP server", () => {
  let as: TestAuthServer;
  let mcp: TestMcpServer;

  before(async () => {
    as = await startAuthServer();
    mcp = await startMcpServer({ authServer: as });
  });
  after(async () => {
    await mcp.close();
    await as.close();
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  });

  test("signs in through discovery, DCR and PKCE, then calls a tool with the token", async () => {
    const { auth, authDir, opened } = await signedInAuth(mcp, { login: "carol" });
    await auth.signIn();
    assert.equal(opened.length, 1);
    const url = new URL(opened[0]!);
    assert.equal(url.searchParams.get("code_challenge_method"), "S256");
    assert.equal(url.searchParams.get("resource"), mcp.url);
    assert.ok((url.searchParams.get("state") ?? "").length >= 40, "state is long and random");

    const result = await callTool(auth, mcp.url, "whoami");
    assert.match(JSON.stringify(result.content), /carol/);
    const status = await auth.status();
    assert.equal(status.signedIn, true);
    assert.equal(status.hasRefreshToken, true);
    assert.equal(status.issuer, as.issuer);
    assert.equal(status.clientSource, "dynamic");

    // Directory 0700, every file 0600.
    assert.equal((await stat(authDir)).mode & 0o777, 0o700);
    for (const name of await readdir(authDir)) {
      assert.equal((await stat(join(authDir, name))).mode & 0o777, 0o600, name);
    }
    const tokenRequests = as.stats.requests.filter((r) => r.endpoint === "token");
    assert.ok(
      tokenRequests.every((r) => r.resource === mcp.url),
      "resource on every token request",
    );
    await auth.close();
  });

  test("hands out the token from memory: no store read per request", async () => {
    const { auth, store } = await signedInAuth(mcp);
    await auth.signIn();
    let reads = 0;
    const original = store.read.bind(store);
    store.read = ((key: string, kind: "tokens") => {
      reads++;
      return original(key, kind);
    }) as TokenStore["read"];
    for (let i = 0; i < 100; i++) assert.ok(await auth.getAccessToken());
    assert.equal(reads, 0);
    await auth.close();
  });

  test("rejects a missing, unknown or replayed state and a wrong iss before any token request", async () => {
    const capture = await startCallbackListener();
    const authDir = await tempDir();
    const auth = new UpstreamAuth(upstreamOf(mcp.url), runtime(authDir, capture.port), {
      store: new FileTokenStore({ dir: authDir }),
      callback: "external",
      printSignInUrl: () => {},
      openUrl: async () => {},
    });
    try {
      const handle = await auth.startSignIn();
      await completeLoginInBrowser(handle.url);
      const query = await capture.nextCallback();
      assert.ok(query.get("code"));
      const codeExchanges = () => as.stats.tokenRequests.authorization_code;
      const before = codeExchanges();

      const without = new URLSearchParams(query);
      without.delete("state");
      const wrongState = new URLSearchParams(query);
      wrongState.set("state", "x".repeat(43));
      const wrongIss = new URLSearchParams(query);
      wrongIss.set("iss", `${as.issuer}/evil`);
      for (const [bad, code] of [
        [without, "STATE_MISMATCH"],
        [wrongState, "STATE_MISMATCH"],
      ] as const) {
        const result = await auth.handleCallback(bad);
        assert.equal(result.ok, false);
        assert.equal(!result.ok && result.error.code, code);
      }
      assert.equal(codeExchanges(), before, "no token request for a bad state");

      // A wrong iss spends the flow (single use) without redeeming the code.
      const issResult = await auth.handleCallback(wrongIss);
      assert.equal(!issResult.ok && issResult.error.code, "ISSUER_MISMATCH");
      assert.equal(codeExchanges(), before, "no token request for a wrong iss");
      const replay = await auth.handleCallback(query);
      assert.equal(!replay.ok && replay.error.code, "STATE_MISMATCH", "state is single-use");
      assert.equal(codeExchanges(), before);

      // A fresh flow completes, once.
      const second = await auth.startSignIn();
      await completeLoginInBrowser(second.url);
      const good = await capture.nextCallback();
      const ok = await auth.handleCallback(good);
      assert.equal(ok.ok, true);
      await second.completed;
      assert.equal(codeExchanges(), before + 1);
      const again = await auth.handleCallback(good);
      assert.equal(!again.ok && again.error.code, "STATE_MISMATCH", "replayed callback rejected");
      assert.equal(codeExchanges(), before + 1);
    } finally {
      await auth.close();
      await capture.close();
    }
  });

  test("a denied consent fails the sign-in with SIGN_IN_DENIED", async () => {
    const authDir = await tempDir();
    const auth = new UpstreamAuth(upstreamOf(mcp.url), runtime(authDir), {
      store: new FileTokenStore({ dir: authDir }),
      callback: "own-listener",
      printSignInUrl: () => {},
      openUrl: async (url) => void completeLoginInBrowser(url, { action: "deny" }),
    });
    await assert.rejects(auth.signIn(), (error: { code?: string }) => error.code === "SIGN_IN_DENIED");
    assert.equal((await auth.status()).signedIn, false);
    await auth.close();
  });

  test("registers again when the AS forgot the client or the redirect URI changed", async () => {
    const { auth, store, authDir } = await signedInAuth(mcp);
    await auth.signIn();
    const clientId = (await auth.status()).clientId;
    as.deleteClients();
    const registrations = as.stats.registrations;
    // The refresh meets invalid_client: the registration is dropped with the tokens, and a sign-in is needed.
    await assert.rejects(auth.refresh(), (error: { code?: string }) => error.code === "INVALID_GRANT");
    const result = await callTool(auth, mcp.url, "echo", { text: "re-registered" });
    assert.match(JSON.stringify(result.content), /re-registered/);
    assert.equal(as.stats.registrations, registrations + 1, "the next sign-in registered again");
    assert.notEqual((await auth.status()).clientId, clientId);
    await auth.close();

    // Same store, another callback port: the registered redirect URI no longer fits, so register again.
    const moved = new UpstreamAuth(upstreamOf(mcp.url), runtime(authDir), {
      store,
      callback: "own-listener",
      printSignInUrl: () => {},
      openUrl: async (url) => void completeLoginInBrowser(url),
    });
    await moved.signIn({ force: true });
    assert.equal(as.stats.registrations, registrations + 2);
    await moved.close();
  });

  test("steps up on 403 insufficient_scope with the union of scopes, within a retry limit", async () => {
    const scoped = await startMcpServer({ authServer: as, unauthorizedScope: "mcp:read" });
    const { auth, opened } = await signedInAuth(scoped);
    try {
      const plain = await callTool(auth, scoped.url, "echo", { text: "hi" });
      assert.match(JSON.stringify(plain.content), /hi/);
      // The challenged scope (the SDK adds offline_access because the AS advertises it).
      const initial = new Set(new URL(opened[0]!).searchParams.get("scope")?.split(" "));
      assert.ok(initial.has("mcp:read") && !initial.has("mcp:admin"));
      const admin = await callTool(auth, scoped.url, "admin_action");
      assert.notEqual(admin.isError, true);
      assert.equal(opened.length, 2, "one step-up sign-in");
      const scopes = new Set(new URL(opened[1]!).searchParams.get("scope")?.split(" "));
      assert.ok(scopes.has("mcp:read") && scopes.has("mcp:admin"), "step-up asks for the union");
    } finally {
      await auth.close();
      await scoped.close();
    }
  });
});

describe("refresh", () => {
  let as: TestAuthServer;
  let mcp: TestMcpServer;

  before(async () => {
    as = await startAuthServer({ accessTokenTtlSeconds: 2 });
    mcp = await startMcpServer({ authServer: as });
  });
  after(async () => {
    await mcp.close();
    await as.close();
  });

  test("refreshes before expiry, and a revoked grant gives one clear sign-in-needed error", async () => {
    const { auth } = await signedInAuth(mcp);
    await auth.signIn();
    const first = await auth.getAccessToken();
    const refreshesBefore = as.stats.refreshSuccesses;
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const second = await auth.getAccessToken();
    assert.ok(second && second !== first, "a new access token after expiry"); // (never print tokens)
    assert.ok(as.stats.refreshSuccesses >= refreshesBefore + 1, "refreshed at the AS");
    const result = await callTool(auth, mcp.url, "echo", { text: "after refresh" });
    assert.match(JSON.stringify(result.content), /after refresh/);

    as.revokeAll();
    const failuresBefore = as.stats.refreshFailures;
    await assert.rejects(auth.refresh(), (error: { code?: string }) => error.code === "INVALID_GRANT");
    assert.equal(as.stats.refreshFailures, failuresBefore + 1, "one refresh attempt, no loop");
    assert.equal((await auth.status()).signedIn, false, "dead tokens are removed");
    await assert.rejects(auth.refresh(), (error: { code?: string }) => error.code === "SIGN_IN_REQUIRED");
    assert.equal(as.stats.refreshFailures, failuresBefore + 1, "nothing left to refresh with");
    await auth.close();
  });
});

describe("a stalled authorization server", () => {
  let as: TestAuthServer;
  let mcp: TestMcpServer;
  let stall: Server;
  let stalledUrl: string;

  before(async () => {
    as = await startAuthServer();
    mcp = await startMcpServer({ authServer: as });
    // Accepts connections and never answers, like an overloaded or wedged token endpoint.
    stall = createServer(() => {});
    await new Promise<void>((resolve) => stall.listen(0, "127.0.0.1", resolve));
    stalledUrl = `http://127.0.0.1:${(stall.address() as AddressInfo).port}/token`;
  });
  after(async () => {
    stall.closeAllConnections();
    stall.close();
    await mcp.close();
    await as.close();
  });

  test("a token request that gets no answer fails within its time limit and does not keep the refresh lock", async () => {
    let stalling = false;
    const { auth } = await signedInAuth(mcp, {
      deps: {
        oauthRequestTimeoutMs: 400,
        // The token endpoint's requests go to the silent server while `stalling` (everything else is real).
        fetch: (input, init) =>
          fetch(stalling && String(input).endsWith("/token") ? stalledUrl : input, init as RequestInit),
      },
    });
    await auth.signIn();
    stalling = true;
    await assert.rejects(auth.refresh(), (error: { code?: string; message?: string }) => {
      assert.equal(error.code, "UPSTREAM_TIMEOUT");
      assert.match(error.message ?? "", /authorization server/i);
      return true;
    });
    stalling = false;
    const refreshesBefore = as.stats.refreshSuccesses;
    await auth.refresh(); // the lock was released: this one takes it at once and refreshes
    assert.equal(as.stats.refreshSuccesses, refreshesBefore + 1);
    await auth.close();
  });
});

describe("a pre-registered confidential client (--client-id/--client-secret)", () => {
  let as: TestAuthServer;
  let mcp: TestMcpServer;
  let port: number;

  before(async () => {
    port = await freePort();
    as = await startAuthServer({
      dynamicRegistration: false,
      clients: [
        {
          client_id: "pre-1",
          client_secret: "pre-1-secret",
          redirect_uris: [`http://127.0.0.1:${port}/oauth/callback`],
        },
      ],
    });
    mcp = await startMcpServer({ authServer: as });
  });
  after(async () => {
    await mcp.close();
    await as.close();
  });

  test("refreshes, shows its client id, and revokes at clear (it is recorded as the registered client)", async () => {
    const authDir = await tempDir();
    const store = new FileTokenStore({ dir: authDir });
    const auth = new UpstreamAuth(
      upstreamOf(mcp.url, { clientId: "pre-1", clientSecret: "pre-1-secret" }),
      runtime(authDir, port),
      {
        store,
        callback: "own-listener",
        printSignInUrl: () => {},
        openUrl: async (url) => void completeLoginInBrowser(url, { login: "dana" }),
      },
    );
    await auth.signIn();
    const status = await auth.status();
    assert.equal(status.clientId, "pre-1");
    assert.equal(status.clientSource, "pre-registered");
    const stored = await store.read(auth.storeKey, "client_info");
    assert.equal(stored?.client.client_secret, undefined, "the user's secret is not written to the store");

    const refreshesBefore = as.stats.refreshSuccesses;
    await auth.refresh();
    assert.equal(as.stats.refreshSuccesses, refreshesBefore + 1, "a real refresh, not a forgotten sign-in");
    assert.equal((await auth.status()).signedIn, true);

    const { revoked } = await auth.clear();
    assert.equal(revoked, true);
    await auth.close();
  });
  test("without --client-id: REGISTRATION_FAILED naming the redirect URI to register, no authorization request", async () => {
    const authDir = await tempDir();
    const opened: string[] = [];
    const auth = new UpstreamAuth(upstreamOf(mcp.url), runtime(authDir, port), {
      store: new FileTokenStore({ dir: authDir }),
      callback: "own-listener",
      printSignInUrl: () => {},
      openUrl: async (url) => void opened.push(url),
    });
    const before = as.stats.authorizationRequests;
    try {
      await assert.rejects(auth.signIn(), (error: unknown) => {
        assert.ok(isProxyError(error, "REGISTRATION_FAILED"), String(error));
        assert.match((error as Error).message, /offers no dynamic client registration/);
        const hint = (error as { hint?: string }).hint ?? "";
        assert.ok(hint.includes(`redirect URI http://127.0.0.1:${port}/oauth/callback`), hint);
        assert.match(hint, /--client-id ID/);
        return true;
      });
      assert.deepEqual(opened, []);
      assert.equal(as.stats.authorizationRequests, before);
      assert.equal(as.stats.registrations, 0);
    } finally {
      await auth.close();
    }
  });
});
