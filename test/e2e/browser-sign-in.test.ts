// The HTTP face's page as a person uses it: Debian's Chromium (driven by playwright-core, never a downloaded
// browser) opens `/`, clicks Sign in, logs in and consents on the test authorization server, lands on the proxy's
// callback page, sees the signed-in state on `/`, and a credential-less SDK client then calls a tool through `/mcp`.
// Then Sign out. The proxy is the built CLI (`dist/main.js serve`) in a child process. Screenshots of every step go
// to test-results/e2e/ (gitignored artifacts).
//
// Without /usr/bin/chromium the test skips, except under CI (env CI set), where it fails: CI installs Chromium.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { startAuthServer, type TestAuthServer } from "../fixtures/auth-server.ts";
import { startMcpServer, type TestMcpServer } from "../fixtures/mcp-server.ts";
import { freePort } from "../integration/support/http-face-harness.ts";

const CHROMIUM = "/usr/bin/chromium";
/** As root on this kind of machine, and with no network beyond loopback (docs: stack.md, Browser tests). */
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-dev-shm-usage",
];
const ROOT = join(import.meta.dirname, "../..");
const BIN = join(ROOT, "dist/main.js");
const SHOTS = join(ROOT, "test-results/e2e");
const LOGIN = "erin";

const inCi = Boolean(process.env.CI) && process.env.CI !== "false" && process.env.CI !== "0";
const hasChromium = existsSync(CHROMIUM);
const skip =
  !hasChromium && !inCi
    ? `${CHROMIUM} is missing: install Debian's Chromium (apt-get install -y chromium) to run the browser test`
    : false;

describe("browser sign-in through the HTTP face's page", { skip }, () => {
  let as: TestAuthServer;
  let mcp: TestMcpServer;
  let dir: string;
  let authDir: string;
  let proxy: ChildProcess | undefined;
  let base: string;
  let browser: Browser | undefined;
  let context: BrowserContext;
  let page: Page;
  let output = "";
  /** The authorization code the browser carried to the callback (must never appear in the proxy's output). */
  let code: string | undefined;
  /** Origin the callback (redirect URI) lives on: the proxy's port on 127.0.0.1 (the default callback host). */
  let callbackOrigin: string;

  before(async () => {
    try {
      await setUp();
    } catch (error) {
      // A failed set-up cancels every step; say why on stderr too, where a CI log shows it plainly.
      console.error(`The browser test could not start: ${error instanceof Error ? error.stack : String(error)}`);
      throw error;
    }
  });

  async function setUp(): Promise<void> {
    assert.ok(hasChromium, `${CHROMIUM} is missing, and CI must run the browser test: apt-get install -y chromium`);
    assert.ok(existsSync(BIN), `${BIN} is missing: run \`npm run build\` first`);
    await mkdir(SHOTS, { recursive: true });
    as = await startAuthServer();
    mcp = await startMcpServer({ authServer: as });
    dir = await mkdtemp(join(tmpdir(), "u2m-e2e-"));
    authDir = join(dir, "auth");
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    callbackOrigin = `http://127.0.0.1:${port}`;
    proxy = await startProxy(["serve", mcp.url, "--port", String(port), "--auth-dir", authDir, "--no-browser"]);
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
  }

  after(async () => {
    await browser?.close().catch(() => {});
    await stopProxy();
    await mcp?.close();
    await as?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /**
   * Debian's Chromium, headless. A first start on a fresh machine (font caches, a loaded CI host) can be slow, so it
   * gets a generous limit and one more try; a failure says what Chromium printed.
   */
  async function launchChromium(): Promise<Browser> {
    let lastError: unknown;
    for (let attempt = 1; attempt <= 2; attempt++) {
      try {
        return await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 90_000 });
      } catch (error) {
        lastError = error;
        console.error(`Chromium did not start (attempt ${attempt}): ${String(error)}`);
      }
    }
    throw new Error(`${CHROMIUM} did not start headless: ${String(lastError)}`);
  }

  /** Spawns the built CLI and resolves once it says it is ready (rejects with its output if it exits first). */
  function startProxy(args: string[]): Promise<ChildProcess> {
    return new Promise((resolve, reject) => {
      const env = { ...process.env };
      delete env.BROWSER;
      const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new Error(`the proxy did not say "ready" within 60 s; output:\n${output}`));
      }, 60_000);
      const onData = (chunk: Buffer) => {
        output += chunk.toString("utf8");
        if (/is ready/.test(output)) {
          clearTimeout(timer);
          resolve(child);
        }
      };
      child.stdout.on("data", onData);
      child.stderr.on("data", onData);
      child.once("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
      child.once("exit", (exitCode) => {
        clearTimeout(timer);
        reject(new Error(`the proxy exited (${exitCode}) before it was ready; output:\n${output}`));
      });
    });
  }

  async function stopProxy(): Promise<void> {
    const child = proxy;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  }

  async function shot(name: string, target: Page = page): Promise<void> {
    await target.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  }

  async function healthz(): Promise<Record<string, unknown>> {
    const response = await fetch(`${base}/healthz`);
    assert.equal(response.status, 200);
    return (await response.json()) as Record<string, unknown>;
  }

  /** The steps build on each other: after a failed one the rest skip instead of waiting out their timeouts. */
  let failedStep: string | undefined;
  function step(name: string, fn: () => Promise<void>): void {
    test(name, async (t) => {
      if (failedStep) return t.skip(`an earlier step failed: ${failedStep}`);
      try {
        await fn();
      } catch (error) {
        failedStep = name;
        await shot(`failed-${name.replace(/[^a-z0-9]+/gi, "-").toLowerCase()}`).catch(() => {});
        throw error;
      }
    });
  }

  /** The definition-list row for a term on the home page ("State", "Account", ...). */
  async function row(term: string, target: Page = page): Promise<string> {
    const dd = target.locator("dt", { hasText: term }).locator("xpath=following-sibling::dd[1]");
    return text(await dd.textContent());
  }

  step("the page shows the upstream and that nobody is signed in", async () => {
    const response = await page.goto(`${base}/`);
    assert.equal(response?.status(), 200);
    assert.match(await page.title(), /mcp-u2m-proxy/);
    await assert.doesNotReject(page.getByText(mcp.url, { exact: true }).first().waitFor());
    // At start-up without tokens the proxy has already begun a sign-in (it printed the URL): "under way".
    const state = await row("State");
    assert.match(state, /^(Not signed in|Sign-in under way)$/);
    assert.equal(await page.locator("dt", { hasText: "Account" }).count(), 0);
    assert.equal(await page.getByRole("button", { name: "Sign out" }).count(), 0);
    assert.equal((await healthz()).signedIn, false);
    await shot("01-home-signed-out");
  });

  step("Sign in leads to the authorization server's login and consent pages", async () => {
    // A fresh load. While a sign-in is under way (the proxy starts one at start-up) the button continues it.
    await page.goto(`${base}/`);
    const [signIn] = await Promise.all([
      page.waitForResponse((response) => new URL(response.url()).pathname === "/oauth/sign-in"),
      page.getByRole("button", { name: /^(Sign in|Continue signing in)$/ }).click(),
    ]);
    if (signIn.status() !== 303) {
      const origin = await signIn.request().headerValue("origin");
      assert.fail(
        `POST /oauth/sign-in from the page answered ${signIn.status()} (request Origin: ${origin}): ${await signIn.text()}`,
      );
    }
    await page.waitForURL((url) => url.origin === as.issuer);
    await page.locator('input[name="login"]').waitFor();
    await shot("02-as-login");
    await page.fill('input[name="login"]', LOGIN);
    await page.fill('input[name="password"]', "any-password");
    await page.locator('button[type="submit"]').click();

    await page.waitForURL((url) => url.origin === as.issuer && !url.pathname.endsWith("/login"));
    await page
      .getByText(/consent|authorize/i)
      .first()
      .waitFor();
    await shot("03-as-consent");
    const callback = page.waitForURL((url) => url.origin === callbackOrigin && url.pathname === "/oauth/callback");
    await page.locator('button[type="submit"]').click();
    await callback;
  });

  step("the callback page says signed in, after the code exchange succeeded", async () => {
    const url = new URL(page.url());
    code = url.searchParams.get("code") ?? undefined;
    assert.ok(code, "the callback URL carries an authorization code");
    assert.ok(url.searchParams.get("state"));
    assert.equal(url.searchParams.get("iss"), as.issuer, "RFC 9207 iss in the authorization response");
    await page.getByRole("heading", { name: /Signed in/ }).waitFor();
    assert.match(
      text(await page.locator("body").textContent()),
      new RegExp(`signed in as ${LOGIN} to ${escapeRe(mcp.url)}`),
    );
    await shot("04-callback-signed-in");
    // The page is shown only once tokens exist: the exchange already happened, exactly once.
    assert.equal(as.stats.tokenRequests.authorization_code, 1);
    assert.equal((await healthz()).signedIn, true);
    // Reloading the callback must not sign in again (single-use state), and must not claim success.
    const again = await context.newPage();
    const replay = await again.goto(page.url());
    assert.equal(replay?.status(), 400);
    await again.getByRole("heading", { name: "Already signed in" }).waitFor();
    await shot("04b-callback-replayed", again);
    await again.close();
    assert.equal(as.stats.tokenRequests.authorization_code, 1);
  });

  step("back on / the page shows the account, expiry and scopes", async () => {
    await page.getByRole("link", { name: "Back to the proxy's page" }).click();
    await page.waitForURL((url) => url.pathname === "/");
    assert.equal(await row("State"), "Signed in");
    assert.equal(await row("Account"), LOGIN);
    const expires = await row("Access token expires");
    assert.match(expires, /\bin \d+ (s|min|h)\b/);
    assert.match(expires, /renewed automatically/);
    const scopes = await row("Scopes");
    assert.match(scopes, /mcp:read/);
    assert.match(scopes, /mcp:write/);
    assert.equal(await row("Authorization server"), as.issuer);
    await page.getByRole("button", { name: "Sign out" }).waitFor();
    await page.getByRole("button", { name: "Sign in again" }).waitFor();
    await shot("05-home-signed-in");

    // The same page from the address the proxy printed, on a phone-sized screen and in dark mode (for review).
    const phone = await browser!.newContext({ viewport: { width: 390, height: 844 }, colorScheme: "dark" });
    const small = await phone.newPage();
    await small.goto(`${base}/`);
    assert.equal(await row("Account", small), LOGIN);
    await shot("05b-home-signed-in-phone-dark", small);
    await phone.close();

    // No token reaches the page or /healthz.
    const secrets = await storedTokens(authDir);
    assert.ok(secrets.length > 0, "the store holds the tokens");
    const html = await page.content();
    const health = JSON.stringify(await healthz());
    for (const secret of secrets) {
      assert.ok(!html.includes(secret), "no token in the page");
      assert.ok(!health.includes(secret), "no token in /healthz");
    }
  });

  step("a client without credentials calls a tool through /mcp as the signed-in user", async () => {
    const client = new Client({ name: "e2e", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp`)));
    try {
      const result = await client.callTool({ name: "whoami", arguments: {} });
      assert.equal(result.isError, undefined);
      const content = result.content as Array<{ type: string; text?: string }>;
      const who = JSON.parse(content[0]?.text ?? "{}") as { sub?: string; scopes?: string[] };
      assert.equal(who.sub, LOGIN);
      assert.ok(who.scopes?.includes("mcp:read"));
    } finally {
      await client.close();
    }
    assert.ok(mcp.stats.authorizationKinds.every((kind) => kind === "bearer" || kind === "none"));
    assert.ok(mcp.stats.methods.includes("tools/call"));
  });

  step("Sign out returns to the signed-out state, and /healthz agrees", async () => {
    await page.goto(`${base}/`);
    const [signOut] = await Promise.all([
      page.waitForResponse((response) => new URL(response.url()).pathname === "/oauth/sign-out"),
      page.getByRole("button", { name: "Sign out" }).click(),
    ]);
    if (signOut.status() !== 303) {
      const origin = await signOut.request().headerValue("origin");
      assert.fail(
        `POST /oauth/sign-out from the page answered ${signOut.status()} (request Origin: ${origin}): ${await signOut.text()}`,
      );
    }
    await page.waitForURL((url) => url.pathname === "/");
    assert.equal(await row("State"), "Not signed in");
    assert.equal(await page.locator("dt", { hasText: "Account" }).count(), 0);
    assert.equal(await page.getByRole("button", { name: "Sign out" }).count(), 0);
    await page.getByRole("button", { name: "Sign in", exact: true }).waitFor();
    await shot("06-home-signed-out-after");
    assert.equal((await healthz()).signedIn, false);
    assert.equal(as.stats.revocations > 0, true, "sign-out revokes at the authorization server (RFC 7009)");
    assert.deepEqual(await storedTokens(authDir), []);
  });

  step("the proxy's output never shows the authorization code or a token", async () => {
    assert.ok(code);
    assert.ok(!output.includes(code), "no authorization code in the proxy's output");
    assert.match(output, new RegExp(`Signed in to ${escapeRe(mcp.url)} as ${LOGIN}`));
  });
});

/** Every string stored under a key ending in "token" in the auth directory's JSON files. */
async function storedTokens(authDir: string): Promise<string[]> {
  const found: string[] = [];
  const visit = (value: unknown, key = ""): void => {
    if (typeof value === "string") {
      if (/token$/i.test(key) && value.length >= 16) found.push(value);
    } else if (value && typeof value === "object") {
      for (const [k, v] of Object.entries(value)) visit(v, k);
    }
  };
  const walk = async (path: string): Promise<void> => {
    for (const entry of await readdir(path, { withFileTypes: true }).catch(() => [])) {
      const full = join(path, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.name.endsWith(".json")) {
        try {
          visit(JSON.parse(await readFile(full, "utf8")));
        } catch {
          // Lock files and partial writes are not records.
        }
      }
    }
  };
  await walk(authDir);
  return found;
}

/** Text content with whitespace collapsed, as a person reads it. */
function text(content: string | null): string {
  return (content ?? "").replace(/\s+/g, " ").trim();
}

function escapeRe(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
