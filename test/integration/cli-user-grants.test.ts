// `list` and `status` over a store written by `serve --identity databricks-apps` (the built bin behind the test
// front, support/apps-deployment.ts): alice and bob sign in in their own scripted browsers at the real test AS, then
// the built CLI (dist/main.js, a child process) lists each one's grant: the grant id naming their tokens file, the
// e-mail the front named (stored at sign-in), the token state and expiry, never a token or the platform's user id.
// The states other than "valid" are made through the store API on those real records: alice's access token
// expired with a refresh token (refreshable), bob's expired without one (expired).
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { FileTokenStore } from "../../src/store/file-store.ts";
import { type AppsDeployment, startAppsDeployment, whoami } from "./support/apps-deployment.ts";
import { cli, type Run } from "./support/built-cli.ts";
import type { FrontUser } from "./support/identity-front.ts";

const ALICE: FrontUser = { login: "alice", id: "7001234567890021", email: "alice@example.test" };
const BOB: FrontUser = { login: "bob", id: "7001234567890022", email: "bob@example.test" };

interface ListedUser {
  grant: string;
  label: string | null;
  state: string;
  expiresAt: string | null;
  expiresInSeconds: number | null;
  hasRefreshToken: boolean;
  account: string | null;
}
interface Listed {
  servers: Array<{ serverUrl: string; signedIn: boolean; storeKey: string; users?: ListedUser[] }>;
}

describe("list and status show the per-user grants serve --identity stored", () => {
  let apps: AppsDeployment;
  /** Grant id → the user whose tokens file it names. */
  const grantOf = new Map<string, string>();
  const outputs: string[] = [];
  /** Every token value in the store, which no output may contain. */
  const secrets: string[] = [];

  before(async () => {
    apps = await startAppsDeployment({ users: [ALICE, BOB], dirPrefix: "cli-user-grants-" });
    for (const user of [ALICE, BOB]) {
      const files = new Set(await readdir(apps.dir));
      await apps.signIn(user);
      const { client } = await apps.connect(user);
      assert.equal(await whoami(client), user.login);
      const added = (await readdir(apps.dir)).filter((name) => !files.has(name) && name.endsWith("_tokens.json"));
      const grant = /\.(u[0-9a-f]{16})_tokens\.json$/.exec(added[0] ?? "")?.[1];
      assert.ok(grant, `${user.login}'s sign-in added a grant's tokens file: ${added.join(", ")}`);
      grantOf.set(grant, user.email);
      const record = JSON.parse(await readFile(join(apps.dir, added[0] ?? ""), "utf8")) as {
        tokens: { access_token: string; refresh_token?: string };
        user_label?: string;
      };
      assert.equal(record.user_label, user.email, "the sign-in stored the e-mail the front named");
      secrets.push(record.tokens.access_token, ...(record.tokens.refresh_token ? [record.tokens.refresh_token] : []));
    }
    // The CLI reads the store as an operator would, with the proxy stopped.
    await apps.serve.stop();
  });

  after(async () => {
    await apps?.close();
    for (const text of outputs) {
      for (const secret of secrets) assert.ok(!text.includes(secret), "no token in any output");
      for (const user of [ALICE, BOB]) assert.ok(!text.includes(user.id), "no platform user id in any output");
    }
  });

  async function run(args: string[]): Promise<Run> {
    const result = await cli([...args, "--auth-dir", apps.dir]);
    outputs.push(result.stdout, result.stderr);
    return result;
  }

  const grantIdOf = (user: FrontUser) => [...grantOf].find(([, email]) => email === user.email)?.[0] ?? "";

  test("list --json: the upstream with each user's grant id, e-mail, state and expiry", async () => {
    const listed = await run(["list", "--json"]);
    assert.equal(listed.code, 0, listed.stderr);
    const { servers } = JSON.parse(listed.stdout) as Listed;
    assert.equal(servers.length, 1);
    const [server] = servers;
    assert.equal(server?.serverUrl, apps.mcp.url);
    assert.equal(server?.signedIn, false, "nobody holds the upstream's default grant");
    const users = server?.users ?? [];
    assert.deepEqual(
      users.map(({ grant, label }) => [grant, label]).sort(),
      [...grantOf].map(([grant, email]) => [grant, email]).sort(),
    );
    for (const user of users) {
      assert.equal(user.state, "valid", user.label ?? "");
      assert.ok(user.expiresAt && Date.parse(user.expiresAt) > Date.now());
      assert.ok((user.expiresInSeconds ?? 0) > 0);
      assert.equal(user.hasRefreshToken, true);
    }
  });

  test("an expired access token shows as refreshable with a refresh token, expired without", async () => {
    const store = new FileTokenStore({ dir: apps.dir });
    const past = Date.now() - 3_600_000;
    const storeKey = (JSON.parse((await run(["list", "--json"])).stdout) as Listed).servers[0]?.storeKey ?? "";
    const aliceKey = `${storeKey}.${grantIdOf(ALICE)}`;
    const bobKey = `${storeKey}.${grantIdOf(BOB)}`;
    const alice = await store.read(aliceKey, "tokens");
    const bob = await store.read(bobKey, "tokens");
    assert.ok(alice && bob);
    await store.write(aliceKey, "tokens", { ...alice, expires_at: past });
    const { refresh_token: _dropped, ...bobTokens } = bob.tokens;
    await store.write(bobKey, "tokens", { ...bob, tokens: bobTokens, expires_at: past });

    const listed = await run(["list", "--json"]);
    const users = (JSON.parse(listed.stdout) as Listed).servers[0]?.users ?? [];
    const stateOf = (user: FrontUser) => users.find(({ label }) => label === user.email);
    assert.equal(stateOf(ALICE)?.state, "refreshable");
    assert.equal(stateOf(BOB)?.state, "expired");
    assert.equal(stateOf(BOB)?.hasRefreshToken, false);
    assert.ok((stateOf(BOB)?.expiresInSeconds ?? 0) < 0);

    const text = await run(["list"]);
    assert.equal(text.code, 0, text.stderr);
    const lines = text.stdout.split("\n");
    assert.match(lines[0] ?? "", new RegExp(`${apps.mcp.url.replace(/[.]/g, "\\.")}\\s+2 user grants`));
    const aliceLine = lines.find((line) => line.includes(grantIdOf(ALICE))) ?? "";
    assert.match(aliceLine, /^ {2}user u[0-9a-f]{16}\s+alice@example\.test\s+refreshable\s+expired \d+ min ago/);
    assert.match(aliceLine, /\brefresh token\b/);
    const bobLine = lines.find((line) => line.includes(grantIdOf(BOB))) ?? "";
    assert.match(bobLine, /bob@example\.test\s+expired\s+expired .* ago\s+no refresh token/);
  });

  test("status --user: one person's grant, by e-mail or grant id; exit 0 when usable, 1 when not", async () => {
    const alice = await run(["status", "--user", "ALICE@example.test", "--json"]);
    assert.equal(alice.code, 0, "alice's grant can be refreshed: usable");
    const servers = (JSON.parse(alice.stdout) as Listed).servers;
    assert.deepEqual(
      servers.map((server) => server.users?.map((user) => user.label)),
      [["alice@example.test"]],
    );

    const bob = await run(["status", apps.mcp.url, "--user", grantIdOf(BOB)]);
    assert.equal(bob.code, 1, "bob's grant is expired for good");
    assert.match(bob.stdout, /users \(1\):\n {4}u[0-9a-f]{16}\s+bob@example\.test\s+expired/);
    assert.ok(!bob.stdout.includes("alice@example.test"));

    const nobody = await run(["status", "--user", "carol@example.test"]);
    assert.equal(nobody.code, 1);
    assert.match(nobody.stdout, /No stored grant of user "carol@example\.test"/);

    const all = await run(["status"]);
    assert.equal(all.code, 0, "the upstream is usable: one of its users' grants is");
    assert.match(all.stdout, /users \(2\):/);

    const listed = await run(["list", "--user", "bob@example.test", "--json"]);
    assert.deepEqual(
      (JSON.parse(listed.stdout) as Listed).servers.map((server) => server.users?.map((user) => user.grant)),
      [[grantIdOf(BOB)]],
    );
  });

  test("clear --user signs one person out: their grant revoked and deleted, the others' and the registration kept", async () => {
    const nobody = await run(["clear", "--user", "carol@example.test"]);
    assert.equal(nobody.code, 1);
    assert.match(nobody.stdout, /No stored grant of user "carol@example\.test" .*nothing to clear/);

    // Alice's grant has a refresh token (bob's was made to have none): its revocation ends her grant at the AS.
    const revocationsBefore = apps.as.stats.revocations;
    const alice = await run(["clear", apps.mcp.url, "--user", "alice@example.test"]);
    assert.equal(alice.code, 0, alice.stderr);
    assert.match(
      alice.stdout,
      /^Signed alice@example\.test out of http:\/\/127\.0\.0\.1:\d+\/mcp: the tokens were revoked/,
    );
    assert.equal(apps.as.stats.revocations, revocationsBefore + 1, "one revocation at the AS");
    const files = await readdir(apps.dir);
    assert.ok(!files.some((name) => name.includes(`.${grantIdOf(ALICE)}_`)), "alice's tokens file is gone");
    assert.ok(
      files.some((name) => name.includes(`.${grantIdOf(BOB)}_tokens.json`)),
      "bob's is kept",
    );
    assert.ok(
      files.some((name) => name.endsWith("_client_info.json")),
      "the registration is kept",
    );

    const listed = await run(["list", "--json"]);
    assert.deepEqual(
      (JSON.parse(listed.stdout) as Listed).servers.map((server) => server.users?.map((user) => user.label)),
      [["bob@example.test"]],
    );
    assert.equal((await run(["clear", "--user", "alice@example.test"])).code, 1, "alice has nothing left to clear");
  });
});
