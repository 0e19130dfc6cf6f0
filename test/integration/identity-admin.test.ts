// The admin view of `serve --identity databricks-apps --admin alice@example.test` (the built bin behind the test
// front): alice sees every user's state and never a token, bob is refused, and alice's revocation of bob's grant
// removes bob's grant only. Bob's open session (a client that declared URL-mode elicitation) then gets the sign-in
// as a URL elicitation on its next call.
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { UrlElicitationRequiredError } from "@modelcontextprotocol/sdk/types.js";
import { type AppsDeployment, startAppsDeployment, whoami } from "./support/apps-deployment.ts";
import type { FrontUser } from "./support/identity-front.ts";

const ALICE: FrontUser = { login: "alice", id: "7001234567890011", email: "alice@example.test" };
const BOB: FrontUser = { login: "bob", id: "7001234567890012", email: "bob@example.test" };

describe("the admin view: /admin/users for --admin, refused for anyone else", () => {
  let apps: AppsDeployment;

  before(async () => {
    apps = await startAppsDeployment({
      users: [ALICE, BOB],
      dirPrefix: "identity-admin-",
      serveArgs: ["--admin", "alice@example.test"],
    });
  });

  after(async () => {
    await apps?.close();
  });

  async function connect(user: FrontUser, declareUrlElicitation: boolean): Promise<Client> {
    return (await apps.connect(user, { declareUrlElicitation })).client;
  }

  async function signIn(user: FrontUser): Promise<void> {
    const failure = await connect(user, true).then(
      () => assert.fail(`${user.login} is not signed in yet`),
      (error: unknown) => error,
    );
    assert.ok(failure instanceof UrlElicitationRequiredError, String(failure));
    assert.equal((await apps.login(failure.elicitations[0]?.url ?? "", user)).callbackStatus, 200);
  }

  function admin(user: FrontUser, init: RequestInit = {}): Promise<Response> {
    return fetch(`${apps.front.url}/admin/users`, {
      ...init,
      headers: { cookie: `front_user=${user.login}`, ...(init.headers as Record<string, string> | undefined) },
    });
  }

  interface AdminUser {
    user: string;
    label: string | null;
    grant: string;
    signedIn: boolean;
    account: string | null;
  }

  test("alice (admin) sees both users, never a token; bob is refused; revoking bob leaves alice's grant", async () => {
    await signIn(ALICE);
    await signIn(BOB);
    const alice = await connect(ALICE, true);
    const bob = await connect(BOB, true);
    assert.equal(await whoami(alice), "alice");
    assert.equal(await whoami(bob), "bob");

    const refused = await admin(BOB);
    assert.equal(refused.status, 403);
    assert.match(((await refused.json()) as { error: { message: string } }).error.message, /administrators/);
    const refusedRevoke = await admin(BOB, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ user: "u0000000000000000" }),
    });
    assert.equal(refusedRevoke.status, 403);

    const listed = await admin(ALICE);
    assert.equal(listed.status, 200);
    const text = await listed.text();
    const tokenFiles = (await readdir(apps.dir)).filter((name) => name.endsWith("_tokens.json"));
    assert.equal(tokenFiles.length, 2, tokenFiles.join(" "));
    for (const name of tokenFiles) {
      const record = JSON.parse(await readFile(join(apps.dir, name), "utf8")) as {
        tokens: { access_token: string; refresh_token?: string };
      };
      assert.ok(!text.includes(record.tokens.access_token), "no access token in the admin view");
      if (record.tokens.refresh_token) assert.ok(!text.includes(record.tokens.refresh_token), "no refresh token");
    }
    const { servers } = JSON.parse(text) as { servers: { users: AdminUser[] }[] };
    assert.equal(servers.length, 1);
    const users = servers[0]?.users ?? [];
    const labels = users.map(({ label }) => label).sort();
    assert.deepEqual(labels, ["alice@example.test", "bob@example.test"]);
    assert.ok(users.every(({ signedIn }) => signedIn));
    for (const { grant } of users) {
      assert.match(grant, /^u[0-9a-f]{16}$/);
      assert.ok(
        tokenFiles.some((name) => name.includes(grant)),
        `the grant id ${grant} names a tokens file`,
      );
    }
    const bobEntry = users.find(({ label }) => label === "bob@example.test");
    assert.ok(bobEntry);
    assert.ok(!text.includes(BOB.id) && !text.includes(ALICE.id), "user ids appear hashed only");

    const revoked = await admin(ALICE, {
      method: "POST",
      headers: { "content-type": "application/json", origin: apps.front.url },
      body: JSON.stringify({ user: bobEntry.user }),
    });
    assert.equal(revoked.status, 200, await revoked.clone().text());
    assert.deepEqual(((await revoked.json()) as { revoked: boolean }).revoked, true);
    const left = (await readdir(apps.dir)).filter((name) => name.endsWith("_tokens.json"));
    assert.deepEqual(
      left,
      tokenFiles.filter((name) => !name.includes(bobEntry.grant)),
    );
    assert.equal(await whoami(alice), "alice", "alice's grant is untouched");
    // Bob's session declared URL-mode elicitation at initialize: its next call gets the sign-in as one.
    const failure = await whoami(bob).then(
      () => assert.fail("bob's grant was revoked"),
      (error: unknown) => error,
    );
    assert.ok(failure instanceof UrlElicitationRequiredError, String(failure));
    assert.ok(failure.elicitations[0]?.url.startsWith(`${apps.as.issuer}/`));

    const after = JSON.parse(await (await admin(ALICE)).text()) as { servers: { users: AdminUser[] }[] };
    const bobAfter = after.servers[0]?.users.find(({ label }) => label === "bob@example.test");
    assert.equal(bobAfter?.signedIn, false);
  });
});
