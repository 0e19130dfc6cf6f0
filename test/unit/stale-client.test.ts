// A dynamic client the authorization server no longer knows (an in-memory AS restarted) is registered again and the
// operation retried once; pre-registered credentials are never dropped. The AS is an injected fetch (support/
// fake-oauth.ts), the store a MemoryTokenStore.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  mayRegisterAgain,
  type ProbeVerdict,
  probeAuthorizationUrl,
  refusesClient,
  watchForStaleClient,
} from "../../src/auth/stale-client.ts";
import { isProxyError } from "../../src/lib/errors.ts";
import { afterTimersOf, callbackFor, closeAll, harness, probes, seedSignedIn, until } from "./support/fake-oauth.ts";

describe("when to register again", () => {
  test("only a stored dynamic registration, once per sign-in", () => {
    const at = (source: "dynamic" | "pre-registered" | "cimd" | undefined, registeredNow = false, retried = false) => ({
      authorization: mayRegisterAgain({ source, registeredNow, retried }, "authorization"),
      token: mayRegisterAgain({ source, registeredNow, retried }, "token"),
    });
    assert.deepEqual(at("dynamic"), { authorization: true, token: true });
    assert.deepEqual(at("dynamic", false, true), { authorization: false, token: false }, "already retried");
    // Registered by this very sign-in: an authorization URL refusing it is a broken AS; a token endpoint that
    // refuses it after issuing a code has forgotten it since.
    assert.deepEqual(at("dynamic", true), { authorization: false, token: true });
    assert.deepEqual(at("pre-registered"), { authorization: false, token: false }, "the user's credentials");
    assert.deepEqual(at("cimd"), { authorization: false, token: false }, "a metadata document is no registration");
    assert.deepEqual(at(undefined), { authorization: false, token: false });
  });

  test("4xx error pages mean the client is refused; a wrong endpoint or a busy one does not", () => {
    for (const status of [400, 401, 403, 422]) assert.equal(refusesClient(status), true, String(status));
    for (const status of [200, 302, 303, 404, 405, 408, 429, 500, 503]) assert.equal(refusesClient(status), false);
  });
});

describe("probing the authorization URL", () => {
  const answering = (status: number) => {
    const seen: RequestInit[] = [];
    const fetchFn = async (_url: string | URL | Request, init?: RequestInit) => {
      seen.push(init ?? {});
      return new Response(status === 303 ? null : "page", { status });
    };
    return { fetchFn, seen };
  };

  test("a GET that follows no redirect; 400 is refused, a redirect or a login page is not", async () => {
    const refused = answering(400);
    assert.deepEqual(await probeAuthorizationUrl(refused.fetchFn, "https://as.example.com/authorize?client_id=x"), {
      refused: true,
      status: 400,
    });
    assert.equal(refused.seen[0]?.method, "GET");
    assert.equal(refused.seen[0]?.redirect, "manual");
    assert.ok(refused.seen[0]?.signal, "bounded by a timeout");
    assert.equal((await probeAuthorizationUrl(answering(303).fetchFn, "https://as.example.com/a")).refused, false);
    assert.equal((await probeAuthorizationUrl(answering(200).fetchFn, "http://127.0.0.1:9/a")).refused, false);
  });

  test("no answer is not a refusal; a URL that is neither https nor loopback is never fetched", async () => {
    const failing = async () => {
      throw new TypeError("fetch failed");
    };
    assert.deepEqual(await probeAuthorizationUrl(failing, "https://as.example.com/authorize"), { refused: false });
    const plain = answering(400);
    assert.equal((await probeAuthorizationUrl(plain.fetchFn, "http://as.example.com/authorize")).refused, false);
    assert.equal(plain.seen.length, 0);
  });
});

describe("the stale-client watch", () => {
  const refused: ProbeVerdict = { refused: true, status: 400 };
  // The watch's timer never holds the process open (by design): something must while a test waits for it.
  let keepAlive: NodeJS.Timeout;
  before(() => {
    keepAlive = setInterval(() => {}, 1000);
  });
  after(() => clearInterval(keepAlive));

  test("probes once after the wait and reports a refusal while the sign-in still waits", async () => {
    let probes = 0;
    const reported = await new Promise<ProbeVerdict>((resolve) => {
      watchForStaleClient({
        waitMs: 1,
        pending: () => true,
        probe: async () => {
          probes++;
          return refused;
        },
        onRefused: resolve,
      });
    });
    assert.deepEqual(reported, refused);
    assert.equal(probes, 1);
  });

  test("a sign-in that completed meanwhile is not probed", async () => {
    let probes = 0;
    await new Promise<void>((resolve) => {
      watchForStaleClient({
        waitMs: 1,
        pending: () => {
          resolve();
          return false;
        },
        probe: async () => {
          probes++;
          return refused;
        },
        onRefused: () => assert.fail("not pending"),
      });
    });
    assert.equal(probes, 0);
  });

  test("a refusal that arrives after the callback is ignored; a cancelled watch never fires", async () => {
    let pending = true;
    let probed!: () => void;
    const probeDone = new Promise<void>((resolve) => {
      probed = resolve;
    });
    let reported = 0;
    watchForStaleClient({
      waitMs: 1,
      pending: () => pending,
      probe: async () => {
        pending = false; // the callback arrived while the probe was out
        probed();
        return refused;
      },
      onRefused: () => reported++,
    });
    const cancel = watchForStaleClient({
      waitMs: 1,
      pending: () => true,
      probe: async () => refused,
      onRefused: () => reported++,
    });
    cancel();
    await probeDone;
    // Timers of equal delay fire in order, and the probe's continuation runs before the next macrotask.
    await new Promise((resolve) => setTimeout(resolve, 1));
    await new Promise(setImmediate);
    assert.equal(reported, 0);
  });
});

describe("UpstreamAuth with a client the AS forgot", () => {
  after(closeAll);

  test("a sign-in whose URL the AS refuses registers again, opens the new URL, and completes through it", async () => {
    const h = harness({ deps: { staleClientWaitMs: 1 } });
    await seedSignedIn(h, { tokens: false }); // client-old: the AS (h.network.clients) does not know it
    const first = await h.auth.startSignIn();
    assert.equal(new URL(first.url).searchParams.get("client_id"), "client-old");
    await until(() => h.printed.length === 2);
    assert.equal(h.network.registrations(), 1, "registered again");
    const second = h.printed[1] as string;
    assert.equal(new URL(second).searchParams.get("client_id"), "client-1");
    assert.deepEqual(h.opened, [first.url, second], "the browser opens the new URL");
    assert.equal(h.auth.pendingSignIn()?.url, second);
    assert.match(
      h.warnings.join("\n"),
      /no longer knows this client; registering again and restarting the sign-in \(the sign-in URL answered HTTP 400\)/,
    );

    // The old link is dead; the new one completes the sign-in the caller is waiting for.
    assert.equal((await h.auth.handleCallback(callbackFor(first.url))).ok, false);
    const result = await h.auth.handleCallback(callbackFor(second));
    assert.equal(result.ok, true, JSON.stringify(result));
    await first.completed;
    assert.equal((await h.auth.status()).clientId, "client-1");
    await h.auth.close();
  });

  test("a second refusal is not retried: the sign-in keeps waiting (its timeout reports it)", async () => {
    const h = harness({ deps: { staleClientWaitMs: 1 } });
    await seedSignedIn(h, { tokens: false });
    h.network.forgetsRegistrations = true; // the retry's URL is refused too
    await h.auth.startSignIn();
    await until(() => h.printed.length === 2);
    await afterTimersOf(1);
    assert.equal(probes(h.network), 1, "the retry's URL is not probed");
    assert.equal(h.network.registrations(), 1);
    assert.equal(h.printed.length, 2);
    assert.ok(h.auth.pendingSignIn());
    await h.auth.close();
  });

  test("a pre-registered client is never dropped or registered again", async () => {
    const h = harness({ upstream: { clientId: "client-static" }, deps: { staleClientWaitMs: 1 } });
    await seedSignedIn(h, { clientId: "client-static", source: "pre-registered", tokens: false });
    await h.auth.startSignIn();
    await afterTimersOf(1);
    assert.equal(probes(h.network), 0, "no probe");
    assert.equal(h.network.registrations(), 0);
    assert.equal((await h.store.read(h.auth.storeKey, "client_info"))?.client.client_id, "client-static");
    await h.auth.close();
  });

  test("invalid_client at the code exchange: registers again and restarts the sign-in once", async () => {
    const h = harness();
    await seedSignedIn(h, { tokens: false });
    h.network.clients.add("client-old");
    h.network.refuseCodeExchange(1);
    const first = await h.auth.startSignIn();
    const result = await h.auth.handleCallback(callbackFor(first.url));
    assert.equal(result.ok, false);
    assert.match(result.ok ? "" : result.error.message, /no longer knew this proxy's client/);
    assert.equal(h.network.registrations(), 1);
    const second = h.printed[1] as string;
    assert.equal(new URL(second).searchParams.get("client_id"), "client-1");
    assert.equal((await h.auth.handleCallback(callbackFor(second, "code-2"))).ok, true);
    await first.completed;
    assert.equal((await h.auth.status()).signedIn, true);
    await h.auth.close();
  });

  test("invalid_client at the code exchange with a pre-registered client fails clearly, no registration", async () => {
    const h = harness({ upstream: { clientId: "client-static" } });
    await seedSignedIn(h, { clientId: "client-static", source: "pre-registered", tokens: false });
    h.network.clients.add("client-static");
    h.network.refuseCodeExchange(5);
    const first = await h.auth.startSignIn();
    const result = await h.auth.handleCallback(callbackFor(first.url));
    assert.equal(result.ok, false);
    assert.match(result.ok ? "" : result.error.message, /refused this proxy's client \(invalid_client\)/);
    assert.match(result.ok ? "" : (result.error.hint ?? ""), /--client-id/);
    await assert.rejects(first.completed);
    assert.equal(h.network.registrations(), 0);
    await h.auth.close();
  });

  test("invalid_client at a refresh: the registration and tokens go, the error says sign in again", async () => {
    const h = harness();
    await seedSignedIn(h, { expiresAt: Date.now() - 1000 });
    await assert.rejects(h.auth.refresh(), (error: unknown) => {
      assert.ok(isProxyError(error));
      assert.match(error.message, /no longer knows this proxy's client \(invalid_client\).*sign in again/);
      assert.match(error.hint ?? "", /^Run `mcp-u2m-proxy auth https:\/\/mcp\.example\.com\/mcp`/);
      return true;
    });
    assert.equal(await h.store.read(h.auth.storeKey, "client_info"), undefined);
    assert.equal(await h.store.read(h.auth.storeKey, "tokens"), undefined);
    assert.equal((await h.auth.status()).signedIn, false);
  });

  test("invalid_client at a refresh keeps pre-registered credentials", async () => {
    const h = harness({ upstream: { clientId: "client-static" } });
    await seedSignedIn(h, { clientId: "client-static", source: "pre-registered", expiresAt: Date.now() - 1000 });
    await assert.rejects(h.auth.refresh());
    assert.equal((await h.store.read(h.auth.storeKey, "client_info"))?.client.client_id, "client-static");
    assert.equal(await h.store.read(h.auth.storeKey, "tokens"), undefined);
  });

  test("auth --force (registerAnew) drops the stored dynamic registration and registers anew", async () => {
    const h = harness();
    await seedSignedIn(h);
    h.network.clients.add("client-old");
    const signIn = h.auth.signIn({ force: true, registerAnew: true });
    await until(() => h.printed.length === 1);
    assert.equal(h.network.registrations(), 1);
    assert.equal(new URL(h.printed[0] as string).searchParams.get("client_id"), "client-1");
    assert.equal((await h.auth.handleCallback(callbackFor(h.printed[0] as string))).ok, true);
    await signIn;
    assert.notEqual((await h.store.read(h.auth.storeKey, "tokens"))?.tokens.access_token, "at-seeded");
  });

  test("auth --force with pre-registered credentials keeps them", async () => {
    const h = harness({ upstream: { clientId: "client-static" } });
    await seedSignedIn(h, { clientId: "client-static", source: "pre-registered" });
    const signIn = h.auth.signIn({ force: true, registerAnew: true });
    await until(() => h.printed.length === 1);
    assert.equal(h.network.registrations(), 0);
    assert.equal(new URL(h.printed[0] as string).searchParams.get("client_id"), "client-static");
    await h.auth.close();
    await assert.rejects(signIn, (error: { code?: string }) => error.code === "SIGN_IN_TIMEOUT");
  });

  test("a client registered by this sign-in is not probed", async () => {
    const h = harness({ deps: { staleClientWaitMs: 1 } });
    await h.auth.startSignIn(); // nothing stored: registers client-1
    await afterTimersOf(1);
    assert.equal(h.network.registrations(), 1);
    assert.equal(probes(h.network), 0);
    await h.auth.close();
  });
});
