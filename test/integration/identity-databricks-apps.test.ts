// `serve --identity databricks-apps` as deployed: the built bin in a child process behind a front that plays the
// Databricks Apps proxy (test/integration/support/identity-front.ts) for two users, alice and bob. Each signs in in
// their own (scripted) browser as themselves at the real test AS, and each gets their own upstream subject through
// the real SDK v1 client; neither can use the other's session, sign-in or grant, and a request the front did not
// vouch for is refused.
import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import { after, before, describe, test } from "node:test";
import { type AppsDeployment, startAppsDeployment, whoami } from "./support/apps-deployment.ts";
import type { FrontUser } from "./support/identity-front.ts";

const ALICE: FrontUser = { login: "alice", id: "7001234567890001", email: "alice@example.test" };
const BOB: FrontUser = { login: "bob", id: "7001234567890002", email: "bob@example.test" };

describe("serve --identity databricks-apps behind the platform's front, two users", () => {
  let apps: AppsDeployment;

  before(async () => {
    apps = await startAppsDeployment({ users: [ALICE, BOB], dirPrefix: "identity-apps-" });
  });

  after(async () => {
    await apps?.close();
  });

  async function send(path: string, user: FrontUser | undefined, init: RequestInit = {}): Promise<Response> {
    return fetch(`${apps.front.url}${path}`, {
      ...init,
      headers: { ...(user ? apps.asUser(user) : {}), ...(init.headers as Record<string, string> | undefined) },
      redirect: "manual",
    });
  }

  let aliceSession: string | undefined;

  test("each user signs in as themselves and whoami returns their own subject", async () => {
    const aliceUrl = await apps.signInUrlFor(ALICE);
    const bobUrl = await apps.signInUrlFor(BOB);
    assert.notEqual(new URL(aliceUrl).searchParams.get("state"), new URL(bobUrl).searchParams.get("state"));
    // The redirect URI is the public one, from X-Forwarded-Host: the browser comes back through the front.
    assert.equal(new URL(aliceUrl).searchParams.get("redirect_uri"), `${apps.front.url}/oauth/callback`);

    assert.equal((await apps.login(aliceUrl, ALICE)).callbackStatus, 200);
    assert.equal((await apps.login(bobUrl, BOB)).callbackStatus, 200);

    const alice = await apps.connect(ALICE);
    const bob = await apps.connect(BOB);
    assert.equal(await whoami(alice.client), "alice");
    assert.equal(await whoami(bob.client), "bob");
    aliceSession = alice.transport.sessionId;
    assert.ok(aliceSession);
    // One registration for the upstream, shared; one grant per user (hashed names, no user id in any file name).
    const files = await readdir(apps.dir);
    assert.equal(files.filter((name) => name.endsWith("_client_info.json")).length, 1, files.join(" "));
    assert.equal(files.filter((name) => name.endsWith("_tokens.json")).length, 2, files.join(" "));
    for (const name of files) {
      for (const user of [ALICE, BOB]) {
        assert.ok(!name.includes(user.id) && !name.includes(user.login), `${name} names nobody`);
      }
    }
  });

  test("bob is refused alice's session id", async () => {
    assert.ok(aliceSession, "the first test ran");
    const answer = await send("/mcp", BOB, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        "mcp-session-id": aliceSession,
        "mcp-protocol-version": "2025-06-18",
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "whoami", arguments: {} } }),
    });
    assert.equal(answer.status, 403);
    assert.match(((await answer.json()) as { error: { message: string } }).error.message, /another user/);
  });

  test("the page shows each user their own state; bob's callback for alice's pending sign-in is refused", async () => {
    const alicePage = await (await send("/", ALICE, { headers: { accept: "text/html" } })).text();
    const bobPage = await (await send("/", BOB, { headers: { accept: "text/html" } })).text();
    assert.match(alicePage, /alice/);
    assert.doesNotMatch(alicePage, /\bbob\b/);
    assert.match(bobPage, /bob/);
    assert.doesNotMatch(bobPage, /\balice\b/);

    // Alice starts another sign-in from her page; bob's browser brings its callback back.
    const csrf = /name="csrf" value="([^"]+)"/.exec(alicePage)?.[1];
    assert.ok(csrf);
    const started = await send("/oauth/sign-in", ALICE, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: apps.front.url },
      body: `csrf=${encodeURIComponent(csrf)}`,
    });
    assert.equal(started.status, 303, await started.text());
    const location = started.headers.get("location") ?? "";
    const stolen = await apps.login(location, BOB, "bob");
    assert.equal(stolen.callbackStatus, 400);

    const alice = await apps.connect(ALICE);
    const bob = await apps.connect(BOB);
    assert.equal(await whoami(alice.client), "alice", "alice's grant is untouched");
    assert.equal(await whoami(bob.client), "bob");
  });

  test("a request the front did not vouch for gets 403 naming X-Forwarded-User; /healthz needs no identity", async () => {
    for (const path of ["/mcp", "/", "/oauth/callback?state=x&code=y"]) {
      const answer = await send(path, undefined, path === "/mcp" ? { method: "POST", body: "{}" } : {});
      assert.equal(answer.status, 403, path);
      assert.match(((await answer.json()) as { error: { message: string } }).error.message, /X-Forwarded-User/);
    }
    assert.equal((await send("/healthz", undefined)).status, 200);
  });

  test("the platform's headers and tokens never reach the upstream or the logs", () => {
    assert.deepEqual(apps.mcp.stats.forwardedHeaders, []);
    assert.deepEqual(apps.mcp.stats.cookies, []);
    for (const user of [ALICE, BOB]) {
      assert.ok(
        !apps.output().includes(apps.front.platformToken(user.login)),
        "no platform token in the proxy's output",
      );
      assert.ok(!apps.output().includes(user.id), "no user id in the proxy's output");
    }
  });
});
