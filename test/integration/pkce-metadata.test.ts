// PKCE support is verified from the authorization server metadata: a real oidc-provider AS that enforces S256 but
// leaves code_challenge_methods_supported out of its discovery documents is refused before anything is sent to it,
// unless --allow-pkce-unverified (allowPkceUnverified) says to go on.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { isProxyError } from "../../src/lib/errors.ts";
import { startAuthServer, type TestAuthServer } from "../fixtures/auth-server.ts";
import { startMcpServer, type TestMcpServer } from "../fixtures/mcp-server.ts";
import { headlessAuth } from "./support/headless-auth.ts";

describe("an authorization server whose metadata omits code_challenge_methods_supported", () => {
  let as: TestAuthServer;
  let mcp: TestMcpServer;
  let dir: string;

  before(async () => {
    as = await startAuthServer({ advertisedPkceMethods: null });
    mcp = await startMcpServer({ authServer: as });
    dir = await mkdtemp(join(tmpdir(), "u2m-pkce-"));
  });
  after(async () => {
    await mcp.close();
    await as.close();
    await rm(dir, { recursive: true, force: true });
  });

  function authFor(name: string, allowPkceUnverified: boolean) {
    return headlessAuth({ url: mcp.url, allowPkceUnverified }, join(dir, name), "erin");
  }

  test("the fixture really serves such metadata", async () => {
    const metadata = (await (await fetch(as.metadataUrl)).json()) as Record<string, unknown>;
    assert.equal(metadata.issuer, as.issuer);
    assert.ok(!("code_challenge_methods_supported" in metadata));
  });

  test("is refused: PKCE_UNSUPPORTED, no registration and no authorization request reach it", async () => {
    as.resetStats();
    const { auth, opened } = authFor("refused", false);
    try {
      await assert.rejects(auth.signIn(), (error: unknown) => {
        assert.ok(isProxyError(error, "PKCE_UNSUPPORTED"), String(error));
        assert.match((error as Error).message, new RegExp(`${as.issuer}.*code_challenge_methods_supported`));
        assert.match((error as { hint?: string }).hint ?? "", /--allow-pkce-unverified/);
        return true;
      });
      assert.equal(as.stats.registrations, 0);
      assert.equal(as.stats.authorizationRequests, 0);
      assert.deepEqual(as.stats.requests, [], "no OAuth endpoint request at all");
      assert.deepEqual(opened, []);
      assert.equal((await auth.status()).signedIn, false);
    } finally {
      await auth.close();
    }
  });

  test("with allowPkceUnverified: signs in with S256 (the AS enforces it) and warns once", async () => {
    as.resetStats();
    const { auth, warnings, opened } = authFor("allowed", true);
    try {
      await auth.signIn();
      assert.equal(opened.length, 1);
      assert.equal(new URL(opened[0]!).searchParams.get("code_challenge_method"), "S256");
      const status = await auth.status();
      assert.equal(status.signedIn, true);
      assert.equal(status.account, "erin");
      assert.equal(as.stats.registrations, 1);
      const pkceWarnings = warnings.filter((line) => /--allow-pkce-unverified/.test(line));
      assert.equal(pkceWarnings.length, 1, warnings.join(""));
      assert.match(pkceWarnings[0]!, new RegExp(as.issuer));
    } finally {
      await auth.close();
    }
  });
});
