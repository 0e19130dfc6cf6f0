// The identity modes' decisions one by one (databricks-apps, header:NAME, the flags), the identity gate over a real
// socket (403, headers stripped, /healthz open), the session binding (whose session, whose legacy stream) and the
// per-user auth core's callback rule (a state another user's sign-in issued is never completed for this one).
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type RequestListener } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, test } from "node:test";
import type { AuthStatus, CallbackResult, SignInHandle } from "../../src/auth/auth-client.ts";
import { parseIdentityOptions } from "../../src/config/identity-options.ts";
import { isProxyError } from "../../src/lib/errors.ts";
import { type Caller, runAsCaller } from "../../src/server/identity/caller.ts";
import { databricksAppsIdentity } from "../../src/server/identity/databricks-apps-identity.ts";
import { headerIdentity } from "../../src/server/identity/header-identity.ts";
import { identityGate } from "../../src/server/identity/identity-gate.ts";
import { isRefusal } from "../../src/server/identity/identity-resolver.ts";
import { PerUserAuth, type UserAuth } from "../../src/server/identity/per-user-auth.ts";
import { PublicOrigin } from "../../src/server/identity/public-origin.ts";
import { SessionBinding } from "../../src/server/identity/session-binding.ts";

const req = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;

describe("identity flags", () => {
  test("none by default; the modes parse; jwt needs its header and audience", () => {
    assert.equal(parseIdentityOptions({}, undefined).mode.kind, "none");
    assert.deepEqual(parseIdentityOptions({ identity: "databricks-apps" }, undefined).mode, {
      kind: "databricks-apps",
    });
    assert.deepEqual(parseIdentityOptions({ identity: "header:X-Auth-Request-Email" }, "key").mode, {
      kind: "header",
      header: "x-auth-request-email",
    });
    const jwt = parseIdentityOptions(
      {
        identity: "jwt:https://team.example/certs",
        "identity-header": "Cf-Access-Jwt-Assertion",
        "identity-audience": "aud",
      },
      undefined,
    ).mode;
    assert.deepEqual(jwt, {
      kind: "jwt",
      jwksUrl: "https://team.example/certs",
      header: "cf-access-jwt-assertion",
      audience: "aud",
      issuer: undefined,
      claim: "sub",
    });
    const refused = (values: Parameters<typeof parseIdentityOptions>[0], key?: string) =>
      assert.throws(
        () => parseIdentityOptions(values, key),
        (error: unknown) => isProxyError(error, "USAGE"),
      );
    refused({ identity: "jwt:https://team.example/certs", "identity-audience": "aud" });
    refused({ identity: "jwt:https://team.example/certs", "identity-header": "x-assertion" });
    refused({ identity: "jwt:http://team.example/certs", "identity-header": "x", "identity-audience": "a" });
    refused({ identity: "oauth" });
    refused({ identity: "header:Authorization" }, "key");
    refused({ identity: "databricks-apps", "identity-audience": "aud" });
    refused({ admin: ["alice"] });
    refused({ "public-url": "ftp://proxy.example" });
  });

  test("header:NAME without the inbound secret refuses to start, saying why", () => {
    assert.throws(
      () => parseIdentityOptions({ identity: "header:X-Auth-Request-Email" }, undefined),
      /only from the front that shares the inbound secret; no --api-key/,
    );
  });

  test("--public-url is kept without its trailing slash", () => {
    assert.equal(
      parseIdentityOptions({ "public-url": "https://proxy.example.com/" }, undefined).publicUrl,
      "https://proxy.example.com",
    );
    assert.equal(
      parseIdentityOptions({ "public-url": "https://a.example/team/" }, undefined).publicUrl,
      "https://a.example/team",
    );
  });
});

describe("databricks-apps mode", () => {
  test("the user is the opaque X-Forwarded-User; e-mail and user name are for display; --admin matches any", async () => {
    const outcome = await databricksAppsIdentity(["alice"]).resolve(
      req({
        "x-forwarded-user": "7001234",
        "x-forwarded-email": "alice@example.test",
        "x-forwarded-preferred-username": "alice",
      }),
    );
    assert.ok(!isRefusal(outcome));
    assert.deepEqual(
      { id: outcome.id, principal: outcome.principal, label: outcome.label, admin: outcome.admin },
      { id: "7001234", principal: "databricks-apps:7001234", label: "alice@example.test", admin: true },
    );
  });

  test("missing, empty or control characters: refused, naming the header", async () => {
    const cases: Record<string, string>[] = [{}, { "x-forwarded-user": " " }, { "x-forwarded-user": "a\u0001b" }];
    for (const headers of cases) {
      const outcome = await databricksAppsIdentity([]).resolve(req(headers));
      assert.ok(isRefusal(outcome));
      assert.match(outcome.refused, /X-Forwarded-User/);
    }
  });
});

describe("header:NAME mode", () => {
  test("believed only with the inbound secret", async () => {
    const withKey = headerIdentity("x-auth-request-email", [], () => true);
    const outcome = await withKey.resolve(req({ "x-auth-request-email": "dana@example.test" }));
    assert.ok(!isRefusal(outcome));
    assert.equal(outcome.principal, "header:dana@example.test");
    const withoutKey = headerIdentity("x-auth-request-email", [], () => false);
    const refused = await withoutKey.resolve(req({ "x-auth-request-email": "dana@example.test" }));
    assert.ok(isRefusal(refused));
    assert.match(refused.refused, /API key/);
    const noHeader = await withKey.resolve(req({}));
    assert.ok(isRefusal(noHeader));
  });
});

/** Serves `listener` on a real socket for one test. */
async function serve(listener: RequestListener, run: (url: string) => Promise<void>): Promise<void> {
  const server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    await run(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

describe("identity gate", () => {
  test("403 without a user, /healthz open; the identity, platform token and Authorization never reach the face", async () => {
    const seen: { headers: Record<string, unknown>; raw: string[] }[] = [];
    const face: RequestListener = (request, res) => {
      seen.push({ headers: { ...request.headers }, raw: [...request.rawHeaders] });
      res.end("ok");
    };
    const publicOrigin = new PublicOrigin();
    const gate = identityGate(face, { resolver: databricksAppsIdentity([]), publicOrigin, keepAuthorization: false });
    await serve(gate, async (url) => {
      const refused = await fetch(`${url}/mcp`, { method: "POST", body: "{}" });
      assert.equal(refused.status, 403);
      assert.equal(seen.length, 0);
      assert.equal((await fetch(`${url}/healthz`)).status, 200);
      const ok = await fetch(`${url}/mcp`, {
        headers: {
          "x-forwarded-user": "42",
          "x-forwarded-email": "e@example.test",
          "x-forwarded-access-token": "dapi-secret",
          authorization: "Bearer dapi-secret",
          "x-forwarded-host": "app-1.databricksapps.test",
        },
      });
      assert.equal(ok.status, 200);
      const last = seen.at(-1);
      assert.ok(last);
      for (const name of ["x-forwarded-user", "x-forwarded-email", "x-forwarded-access-token", "authorization"]) {
        assert.equal(last.headers[name], undefined, name);
        assert.ok(!last.raw.some((entry) => entry.toLowerCase() === name), `${name} not in rawHeaders`);
      }
      assert.equal(publicOrigin.baseUrl, "https://app-1.databricksapps.test", "learnt from X-Forwarded-Host");
      await fetch(`${url}/mcp`, { headers: { "x-forwarded-user": "43", "x-forwarded-host": "evil.test" } });
      assert.equal(publicOrigin.baseUrl, "https://app-1.databricksapps.test", "once known, it stays");
    });
  });
});

const alice: Caller = { id: "1", principal: "databricks-apps:1", label: "alice", admin: false };
const bob: Caller = { id: "2", principal: "databricks-apps:2", label: "bob", admin: false };

describe("session binding", () => {
  /** Runs one request through the binding as `caller`, then answers with `handOut` as Mcp-Session-Id. */
  async function exchange(
    binding: SessionBinding,
    caller: Caller,
    route: string,
    headers: Record<string, string>,
    query = "",
    handOut?: string,
  ): Promise<number> {
    let status = 0;
    await serve(
      (request, res) =>
        runAsCaller(caller, () => {
          if (!binding.admit(request, res, route, query)) return;
          if (handOut) res.setHeader("mcp-session-id", handOut);
          res.end("{}");
        }),
      async (url) => {
        status = (await fetch(`${url}/mcp`, { headers })).status;
      },
    );
    return status;
  }

  test("a session handed out to alice is hers: bob gets 403, an unknown id 404, alice passes", async () => {
    const binding = new SessionBinding();
    assert.equal(await exchange(binding, alice, "mcp", {}, "", "session-a"), 200);
    assert.equal(await exchange(binding, alice, "mcp", { "mcp-session-id": "session-a" }), 200);
    assert.equal(await exchange(binding, bob, "mcp", { "mcp-session-id": "session-a" }), 403);
    assert.equal(await exchange(binding, bob, "mcp", { "mcp-session-id": "never-seen" }), 404);
    assert.equal(await exchange(binding, bob, "relay", { "mcp-session-id": "session-a" }), 403);
  });

  test("a legacy SSE stream's endpoint is its opener's while it is open", async () => {
    const binding = new SessionBinding();
    let closeStream: (() => void) | undefined;
    await serve(
      (_request, res) =>
        runAsCaller(alice, () => {
          binding.legacyOpened("?sessionId=abc", res);
          binding.legacyOpened("bridged:def", res);
          res.writeHead(200, { "content-type": "text/event-stream" });
          res.write(": open\n\n");
          closeStream = () => res.end();
        }),
      async (url) => {
        const stream = await fetch(`${url}/sse`);
        assert.equal(stream.status, 200);
        assert.equal(binding.size, 2);
        assert.equal(await exchange(binding, alice, "message", {}, "sessionId=abc"), 200);
        assert.equal(await exchange(binding, bob, "message", {}, "sessionId=abc"), 403);
        assert.equal(await exchange(binding, bob, "message", {}, "sessionId=def"), 403);
        assert.equal(await exchange(binding, bob, "message", {}, "sessionId=zzz"), 404);
        closeStream?.();
        await stream.text();
      },
    );
  });

  test("without a caller (single user) everything passes", async () => {
    const binding = new SessionBinding();
    let status = 0;
    await serve(
      (request, res) => {
        if (binding.admit(request, res, "mcp", "")) res.end("{}");
      },
      async (url) => {
        status = (await fetch(`${url}/mcp`, { headers: { "mcp-session-id": "any" } })).status;
      },
    );
    assert.equal(status, 200);
  });
});

describe("per-user auth core", () => {
  /** A user's core that owns the states it was told to and records the callbacks it completes. */
  function fakeCore(states: string[], completed: string[]): UserAuth {
    const status: AuthStatus = {
      serverUrl: "https://mcp.example",
      signedIn: false,
      hasRefreshToken: false,
      scopes: [],
      storeKey: "k",
    };
    return {
      serverUrl: "https://mcp.example",
      getAccessToken: async () => undefined,
      onChallenge: async () => ({ action: "retry" }),
      startSignIn: async () => ({ url: "https://as.example/authorize" }) as SignInHandle,
      handleCallback: async (query): Promise<CallbackResult> => {
        completed.push(query.get("state") ?? "");
        return { ok: true, serverUrl: "https://mcp.example" };
      },
      pendingSignIn: () => undefined,
      status: async () => status,
      onStateChange: () => () => {},
      clear: async () => ({}),
      ownsSignIn: (state) => states.includes(state),
      close: async () => {},
    };
  }

  test("one core per user; a callback carrying another user's state is refused, never completed", async () => {
    const completed: Record<string, string[]> = { alice: [], bob: [] };
    const created: string[] = [];
    const auth = new PerUserAuth({
      serverUrl: "https://mcp.example",
      create: (caller) => {
        created.push(caller.label);
        return fakeCore(caller.label === "alice" ? ["state-a"] : ["state-b"], completed[caller.label] as string[]);
      },
    });
    await runAsCaller(alice, () => auth.status());
    await runAsCaller(alice, () => auth.status());
    await runAsCaller(bob, () => auth.status());
    assert.deepEqual(created, ["alice", "bob"]);
    assert.ok(auth.ownsSignIn("state-a"));

    const stolen = await runAsCaller(bob, () =>
      auth.handleCallback(new URLSearchParams({ state: "state-a", code: "c" })),
    );
    assert.equal(stolen.ok, false);
    assert.ok(!stolen.ok && stolen.error.code === "STATE_MISMATCH");
    assert.match(!stolen.ok ? stolen.error.message : "", /another user/);
    assert.deepEqual(completed, { alice: [], bob: [] });

    const own = await runAsCaller(alice, () =>
      auth.handleCallback(new URLSearchParams({ state: "state-a", code: "c" })),
    );
    assert.equal(own.ok, true);
    assert.deepEqual(completed.alice, ["state-a"]);
    const anonymous = await auth.handleCallback(new URLSearchParams({ state: "state-b", code: "c" }));
    assert.equal(anonymous.ok, false);
  });

  test("without a caller: nobody is signed in, no token, no sign-in starts", async () => {
    const auth = new PerUserAuth({ serverUrl: "https://mcp.example", create: () => assert.fail("no user, no core") });
    assert.equal((await auth.status()).signedIn, false);
    assert.equal(await auth.getAccessToken(), undefined);
    await assert.rejects(auth.startSignIn(), /names none/);
  });
});
