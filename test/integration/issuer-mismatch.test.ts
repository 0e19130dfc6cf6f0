// Authorization server metadata whose issuer is not the URL it was fetched for (RFC 8414 §3.3), in the shape
// Atlassian's multi-tenant server publishes: the protected resource names `<issuer>/<tenant>`, whose metadata names
// the bare `<issuer>`. A real oidc-provider AS serves it. Refused by default with the way out in the hint; signed in
// with --accept-issuer (acceptIssuer) naming exactly that issuer, also when a refresh has to discover again, and by
// the built bin from the flag and from a config entry.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { isProxyError } from "../../src/lib/errors.ts";
import { startAuthServer, type TestAuthServer } from "../fixtures/auth-server.ts";
import { startMcpServer, type TestMcpServer } from "../fixtures/mcp-server.ts";
import { cli, freePort } from "./support/built-cli.ts";
import { callTool, headlessAuth } from "./support/headless-auth.ts";

const TENANT = "tenant7Qx";

describe("authorization server metadata naming another issuer than its URL", () => {
  let as: TestAuthServer;
  let mcp: TestMcpServer;
  let dir: string;

  before(async () => {
    as = await startAuthServer({ tenantPath: TENANT });
    mcp = await startMcpServer({ authServer: as, advertisedAuthServer: `${as.issuer}/${TENANT}` });
    dir = await mkdtemp(join(tmpdir(), "u2m-issuer-"));
  });
  after(async () => {
    await mcp.close();
    await as.close();
    await rm(dir, { recursive: true, force: true });
  });

  const authFor = (name: string, acceptIssuer: string | undefined) =>
    headlessAuth({ url: mcp.url, acceptIssuer }, join(dir, name), "erin");

  test("the fixture really serves such metadata", async () => {
    const prm = (await (await fetch(mcp.resourceMetadataUrl)).json()) as { authorization_servers: string[] };
    assert.deepEqual(prm.authorization_servers, [`${as.issuer}/${TENANT}`]);
    const url = `${as.issuer}/.well-known/oauth-authorization-server/${TENANT}`;
    const metadata = (await (await fetch(url)).json()) as Record<string, unknown>;
    assert.equal(metadata.issuer, as.issuer);
  });

  for (const [label, acceptIssuer] of [
    ["by default", undefined],
    ["with --accept-issuer naming another issuer", "https://auth.example.com"],
  ] as const) {
    test(`is refused ${label}: ISSUER_MISMATCH naming both, no registration, no authorization request`, async () => {
      as.resetStats();
      const { auth, opened } = authFor(`refused-${acceptIssuer ? "other" : "default"}`, acceptIssuer);
      try {
        await assert.rejects(auth.signIn(), (error: unknown) => {
          assert.ok(isProxyError(error, "ISSUER_MISMATCH"), String(error));
          const message = (error as Error).message;
          assert.ok(message.includes(`fetched for ${as.issuer}/${TENANT}`), message);
          assert.ok(message.includes(`names the issuer ${as.issuer};`), message);
          const hint = (error as { hint?: string }).hint ?? "";
          assert.ok(hint.includes(`--accept-issuer ${as.issuer} `), hint);
          assert.match(hint, /"acceptIssuer"/);
          return true;
        });
        assert.ok(as.stats.tenantMetadataRequests >= 1, "the metadata was fetched from the tenant URL");
        assert.equal(as.stats.registrations, 0);
        assert.equal(as.stats.authorizationRequests, 0);
        assert.deepEqual(opened, []);
        assert.equal((await auth.status()).signedIn, false);
      } finally {
        await auth.close();
      }
    });
  }

  test("with --accept-issuer naming it: signs in, calls a tool, and a refresh that discovers again works", async () => {
    as.resetStats();
    const { auth, store, warnings, opened } = authFor("accepted", as.issuer);
    try {
      await auth.signIn();
      assert.equal(opened.length, 1);
      assert.equal(new URL(opened[0]!).origin, as.issuer);
      const status = await auth.status();
      assert.equal(status.signedIn, true);
      assert.equal(status.issuer, as.issuer);
      assert.deepEqual(status.adjustments, [
        `issuer ${as.issuer} accepted for ${as.issuer}/${TENANT}, because of --accept-issuer`,
      ]);
      assert.equal(as.stats.registrations, 1);
      assert.match(JSON.stringify((await callTool(auth, mcp.url, "whoami")).content), /erin/);

      // A refresh without the stored discovery discovers again, through the same check.
      const token = await auth.getAccessToken();
      const before = as.stats.tenantMetadataRequests;
      await store.remove(status.storeKey, "discovery");
      await auth.refresh();
      assert.equal(as.stats.refreshSuccesses, 1);
      assert.ok(as.stats.tenantMetadataRequests > before, "discovered again");
      assert.notEqual(await auth.getAccessToken(), token);

      const accepted = warnings.filter((line) => /--accept-issuer/.test(line));
      assert.equal(accepted.length, 1, warnings.join(""));
      assert.ok(accepted[0]!.includes(`${as.issuer}/${TENANT}`), accepted[0]);
    } finally {
      await auth.close();
    }
  });

  test("the built bin: auth exits 3 naming --accept-issuer; with it (flag or config entry) auth and refresh exit 0", async () => {
    as.resetStats();
    const common = ["--auth-dir", join(dir, "cli"), "--port", String(await freePort())];
    const refused = await cli(["auth", mcp.url, ...common, "--no-browser"]);
    assert.equal(refused.code, 3, refused.stderr);
    assert.ok(refused.stderr.includes(`--accept-issuer ${as.issuer}`), refused.stderr);
    assert.equal(as.stats.registrations, 0);

    const accepted = await cli(["auth", mcp.url, ...common, "--accept-issuer", as.issuer], {
      TEST_BROWSER_LOGIN: "frank",
    });
    assert.equal(accepted.code, 0, accepted.stderr);
    assert.match(accepted.stderr, /accepted because of --accept-issuer/);
    const refresh = await cli(["refresh", mcp.url, ...common, "--accept-issuer", as.issuer]);
    assert.equal(refresh.code, 0, refresh.stderr);
    // status needs no flag to say what was accepted: the stored discovery shows it.
    const status = await cli(["status", mcp.url, "--auth-dir", join(dir, "cli")]);
    assert.equal(status.code, 0, status.stderr);
    assert.ok(status.stdout.includes(`adjusted:             issuer ${as.issuer} accepted for`), status.stdout);

    const config = join(dir, "servers.json");
    const entry = { url: mcp.url, "mcp-u2m-proxy": { oauth: { acceptIssuer: as.issuer } } };
    await writeFile(config, JSON.stringify({ mcpServers: { tenant: entry } }));
    const byName = await cli(["auth", "tenant", "--config", config, "--auth-dir", join(dir, "named"), "--port", "0"], {
      TEST_BROWSER_LOGIN: "frank",
    });
    assert.equal(byName.code, 0, byName.stderr);
  });
});
