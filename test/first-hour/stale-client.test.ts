// First hour, item 5: the authorization server forgot its clients (an in-memory AS restarted) and the proxy
// recovers without `clear`: `auth --force` registers anew; an `auth` whose stored client the AS refuses at the
// authorization URL registers again once and completes; a refresh refused with invalid_client says to sign in again,
// and that sign-in registers anew. The installed CLI (packed tarball) with the scripted browser, against oidc-provider
// and an SDK upstream.
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { startAuthServer, type TestAuthServer } from "../fixtures/auth-server.ts";
import { HEADLESS_BROWSER_PATH } from "../fixtures/headless-login.ts";
import { startMcpServer, type TestMcpServer } from "../fixtures/mcp-server.ts";
import { type InstalledCli, installCliFromTarball } from "./support/installed-cli.ts";
import { freePort } from "./support/mcp-wire.ts";

const browser = { BROWSER: HEADLESS_BROWSER_PATH };

let cli: InstalledCli;
let work: string;
let as: TestAuthServer;
let mcp: TestMcpServer;
before(async () => {
  cli = installCliFromTarball();
  work = mkdtempSync(join(tmpdir(), "u2m-first-hour-stale-client-"));
  as = await startAuthServer();
  mcp = await startMcpServer({ authServer: as });
});
after(async () => {
  await mcp.close();
  await as.close();
  cli.remove();
  rmSync(work, { recursive: true, force: true });
});

/** Signs in with a fresh token directory and callback port; returns the options to repeat. */
async function signedIn(name: string): Promise<string[]> {
  const common = ["--auth-dir", join(work, name), "--port", String(await freePort())];
  const run = await cli.run(["auth", mcp.url, ...common], { env: browser });
  assert.equal(run.code, 0, run.stderr);
  return common;
}

/** Authorization requests the AS refused with an error page (what the browser showed as "Client ID not found"). */
function refusedAuthorizations(): number {
  return as.stats.requests.filter((r) => r.endpoint === "authorization" && r.status >= 400).length;
}

describe("the authorization server forgot its clients", () => {
  test("auth --force registers a client anew and signs in, without clear", async () => {
    const common = await signedIn("force");
    as.forgetAll();
    const registrations = as.stats.registrations;
    const refused = refusedAuthorizations();
    const run = await cli.run(["auth", mcp.url, "--force", ...common], { env: browser });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^Signed in\./);
    assert.equal(as.stats.registrations, registrations + 1, "registered anew");
    assert.equal(refusedAuthorizations(), refused, "the browser never saw the unknown client");
  });

  test("auth with a stored client the AS no longer knows registers again once and exits 0", async () => {
    const common = await signedIn("stored-client");
    // The tokens expired and cannot be refreshed: the next `auth` signs in with the stored registration.
    const dir = common[1] as string;
    const file = join(dir, readdirSync(dir).find((name) => name.endsWith("_tokens.json")) as string);
    const record = JSON.parse(readFileSync(file, "utf8")) as { expires_at?: number; tokens: Record<string, unknown> };
    record.expires_at = Date.now() - 60_000;
    delete record.tokens.refresh_token;
    writeFileSync(file, JSON.stringify(record));
    as.forgetAll();
    const registrations = as.stats.registrations;
    const refused = refusedAuthorizations();

    const run = await cli.run(["auth", mcp.url, ...common], { env: browser, timeoutMs: 120_000 });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^Signed in\./);
    // The browser was shown the error page, and the probe saw the same answer.
    assert.equal(refusedAuthorizations(), refused + 2);
    assert.equal(as.stats.registrations, registrations + 1, "one new registration");
    assert.match(run.stderr, /no longer knows this client; registering again and restarting the sign-in/);
    // The new sign-in's URL was printed for people too.
    assert.equal(run.stderr.match(/Sign in to .* by opening this URL/g)?.length, 2, run.stderr);
  });

  test("a refresh refused with invalid_client says to sign in again; that sign-in registers anew", async () => {
    const common = await signedIn("refresh");
    as.forgetAll();
    const refresh = await cli.run(["refresh", mcp.url, ...common]);
    assert.equal(refresh.code, 3, refresh.stderr);
    assert.match(refresh.stderr, /no longer knows this proxy's client \(invalid_client\)/);
    assert.match(refresh.stderr, /mcp-u2m-proxy auth /);
    assert.doesNotMatch(refresh.stderr, /rt-|eyJ/, "no token in the message");

    const registrations = as.stats.registrations;
    const refused = refusedAuthorizations();
    const run = await cli.run(["auth", mcp.url, ...common], { env: browser });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(as.stats.registrations, registrations + 1);
    assert.equal(refusedAuthorizations(), refused);
  });
});
