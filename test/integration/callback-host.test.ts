// The OAuth redirect URI's host and who may receive the browser's callback. By default the redirect URI names
// 127.0.0.1 (RFC 8252 §7.3), so a process squatting [::1]:PORT gets nothing; with `localhost` both 127.0.0.1 and ::1
// must be ours, or the start fails clearly (the CLI/stdio callback listener and the HTTP face alike). Registrations
// made for a `localhost` redirect URI are replaced when it changes to 127.0.0.1.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer as createHttpServer } from "node:http";
import { type AddressInfo, createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { startServe } from "../../src/app/serve.ts";
import { startCallbackListener } from "../../src/auth/callback-listener.ts";
import { UpstreamAuth } from "../../src/auth/upstream-auth.ts";
import { parseCliArgs } from "../../src/cli/args.ts";
import type { RuntimeOptions, UpstreamOptions } from "../../src/config/options.ts";
import { isProxyError } from "../../src/lib/errors.ts";
import { FileTokenStore } from "../../src/store/file-store.ts";
import { MemoryTokenStore } from "../../src/store/memory-store.ts";
import { startAuthServer, type TestAuthServer } from "../fixtures/auth-server.ts";
import { completeLoginInBrowser } from "../fixtures/headless-login.ts";
import { startMcpServer, type TestMcpServer } from "../fixtures/mcp-server.ts";
import { startFaceHarness } from "./support/http-face-harness.ts";

/** Another local process holding [::1]:port (port 0: any free one). Counts the connections it is offered. */
async function squatOnIpv6(port = 0): Promise<{ port: number; connections: () => number; server: Server }> {
  let connections = 0;
  const server = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "::1", () => resolve());
  });
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { port: (server.address() as AddressInfo).port, connections: () => connections, server };
}

/** A [::1] squatter whose port is also free on 127.0.0.1 (the proxy binds that first). */
async function squatterWithFreeIpv4Port(): Promise<{ port: number; connections: () => number; server: Server }> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const squatter = await squatOnIpv6();
    if (await freeOnIpv4(squatter.port)) return squatter;
    await new Promise<void>((resolve) => squatter.server.close(() => resolve()));
  }
  throw new Error("no port free on both 127.0.0.1 and ::1");
}

function freeOnIpv4(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once("error", () => resolve(false));
    probe.listen(port, "127.0.0.1", () => probe.close(() => resolve(true)));
  });
}

/** Whether this machine can bind ::1 at all (the squatter tests need it). */
async function ipv6LoopbackAvailable(): Promise<boolean> {
  const probe = createServer();
  return new Promise((resolve) => {
    probe.once("error", () => resolve(false));
    probe.listen(0, "::1", () => probe.close(() => resolve(true)));
  });
}

const noIpv6 = (await ipv6LoopbackAvailable()) ? false : "::1 cannot be bound on this machine";

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

function runtimeFor(authDir: string, port: number, callbackHost: string): RuntimeOptions {
  return { authDir, port, callbackHost, openBrowser: true, debug: false, allowInsecureHttp: true };
}

function upstreamOf(url: string): UpstreamOptions {
  return { url, authorizeParams: {}, headers: {}, sendResource: true };
}

const squatError = (port: number) => (error: unknown) =>
  isProxyError(error, "CALLBACK_PORT_IN_USE") &&
  error.message ===
    `Port ${port} on [::1] is already in use by another process; the browser could send your sign-in there.` &&
  /--callback-host 127\.0\.0\.1/.test(error.hint ?? "");

describe("callback host localhost: both loopback addresses or no start", { skip: noIpv6 }, () => {
  test("startCallbackListener refuses a port another process holds on [::1], and frees 127.0.0.1 again", async () => {
    const squatter = await squatterWithFreeIpv4Port();
    await assert.rejects(
      startCallbackListener(squatter.port, async () => ({ ok: true, serverUrl: "http://127.0.0.1:9/mcp" }), {
        callbackHost: "localhost",
      }),
      squatError(squatter.port),
    );
    assert.equal(await freeOnIpv4(squatter.port), true, "the 127.0.0.1 half was closed again");
  });

  test("startServe with OAuth refuses a port another process holds on [::1]", async () => {
    const squatter = await squatterWithFreeIpv4Port();
    const upstream = upstreamOf("http://127.0.0.1:9/mcp");
    const runtime = runtimeFor("/nonexistent", squatter.port, "localhost");
    const auth = new UpstreamAuth(upstream, runtime, { store: new MemoryTokenStore(), callback: "external" });
    cleanups.push(() => auth.close());
    await assert.rejects(
      startServe({ upstream, runtime, auth, port: squatter.port, signInAtStart: false }),
      squatError(squatter.port),
    );
    assert.equal(await freeOnIpv4(squatter.port), true, "the face's 127.0.0.1 listener was closed again");
  });

  test("with both addresses free, the listener answers on 127.0.0.1 and ::1", async () => {
    const squatter = await squatterWithFreeIpv4Port();
    await new Promise<void>((resolve) => squatter.server.close(() => resolve()));
    const listener = await startCallbackListener(squatter.port, async () => ({ ok: true, serverUrl: "x" }), {
      callbackHost: "localhost",
    });
    cleanups.push(() => listener.close());
    for (const host of ["127.0.0.1", "[::1]"]) {
      const response = await fetch(`http://${host}:${listener.port}/not-the-callback`);
      await response.text();
      assert.equal(response.status, 404, `answered on ${host}`);
    }
    await listener.close();
  });
});

describe("default callback host 127.0.0.1", () => {
  test("the CLI's default is 127.0.0.1; --callback-host localhost still works", () => {
    assert.equal(parseCliArgs(["serve", "https://mcp.example.com/mcp"], {}).runtime.callbackHost, "127.0.0.1");
    const named = parseCliArgs(["serve", "https://mcp.example.com/mcp", "--callback-host", "localhost"], {});
    assert.equal(named.runtime.callbackHost, "localhost");
  });

  let as: TestAuthServer;
  let mcp: TestMcpServer;
  const dirs: string[] = [];
  before(async () => {
    as = await startAuthServer();
    mcp = await startMcpServer({ authServer: as });
  });
  after(async () => {
    await mcp?.close();
    await as?.close();
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  async function authDir(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), "u2m-callback-host-"));
    dirs.push(dir);
    return join(dir, "auth");
  }

  test("CLI/stdio listener: the redirect URI is 127.0.0.1 and a squatter on [::1] gets nothing", {
    skip: noIpv6,
  }, async () => {
    const squatter = await squatterWithFreeIpv4Port();
    const dir = await authDir();
    const opened: string[] = [];
    const auth = new UpstreamAuth(upstreamOf(mcp.url), runtimeFor(dir, squatter.port, "127.0.0.1"), {
      store: new FileTokenStore({ dir }),
      callback: "own-listener",
      printSignInUrl: () => {},
      openUrl: async (url) => {
        opened.push(url);
        void completeLoginInBrowser(url);
      },
    });
    cleanups.push(() => auth.close());
    await auth.signIn();
    assert.equal((await auth.status()).signedIn, true);
    const redirectUri = new URL(opened[0] as string).searchParams.get("redirect_uri");
    assert.equal(redirectUri, `http://127.0.0.1:${squatter.port}/oauth/callback`);
    assert.equal(squatter.connections(), 0, "the squatter on [::1] never saw the callback");
  });

  test("HTTP face: the redirect URI is 127.0.0.1 and a squatter on [::1] gets nothing", { skip: noIpv6 }, async () => {
    const squatter = await squatterWithFreeIpv4Port();
    const h = await startFaceHarness({ shared: { as, mcp }, serve: { port: squatter.port } });
    cleanups.push(() => h.close());
    await h.signedIn();
    const redirectUri = new URL(h.opened[0] as string).searchParams.get("redirect_uri");
    assert.equal(redirectUri, `http://127.0.0.1:${squatter.port}/oauth/callback`);
    assert.equal(squatter.connections(), 0, "the squatter on [::1] never saw the callback");
  });

  test("a registration made for a localhost redirect URI is replaced by one for 127.0.0.1", async () => {
    const dir = await authDir();
    const store = new FileTokenStore({ dir });
    // A port free on both loopback addresses, so the `localhost` listener can bind both.
    const probe = createHttpServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const signInWith = async (callbackHost: string) => {
      const opened: string[] = [];
      const auth = new UpstreamAuth(upstreamOf(mcp.url), runtimeFor(dir, port, callbackHost), {
        store,
        callback: "own-listener",
        printSignInUrl: () => {},
        openUrl: async (url) => {
          opened.push(url);
          void completeLoginInBrowser(url);
        },
      });
      try {
        await auth.signIn({ force: true });
        return { clientId: (await auth.status()).clientId, redirectUri: new URL(opened[0] as string) };
      } finally {
        await auth.close();
      }
    };
    const before = as.stats.registrations;
    const old = await signInWith("localhost");
    assert.equal(old.redirectUri.searchParams.get("redirect_uri"), `http://localhost:${port}/oauth/callback`);
    assert.equal(as.stats.registrations, before + 1);
    const moved = await signInWith("127.0.0.1");
    assert.equal(moved.redirectUri.searchParams.get("redirect_uri"), `http://127.0.0.1:${port}/oauth/callback`);
    assert.equal(as.stats.registrations, before + 2, "the changed redirect URI registered a new client");
    assert.notEqual(moved.clientId, old.clientId);
  });
});
