// The RFC 8628 device sign-in's decisions, against the in-memory authorization server of fake-oauth.ts extended with
// a device authorization endpoint, and a fake clock (the polling waits are recorded, never slept).
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { DEVICE_CODE_GRANT } from "../../src/auth/device-authorization.ts";
import { chooseSignInMethod, type SignInMethodInputs } from "../../src/auth/sign-in-method.ts";
import { UpstreamAuth } from "../../src/auth/upstream-auth.ts";
import type { RuntimeOptions } from "../../src/config/options.ts";
import { isProxyError } from "../../src/lib/errors.ts";
import { createLogger } from "../../src/lib/logger.ts";
import { MemoryTokenStore } from "../../src/store/memory-store.ts";
import { AS_METADATA, type FakeOAuth, fakeOAuth, ISSUER, MCP_URL, RUNTIME, upstreamOf } from "./support/fake-oauth.ts";

type PollAnswer = "pending" | "slow_down" | "expired_token" | "access_denied" | "ok" | 503;

interface DeviceAs {
  fetchFn: FakeOAuth["fetchFn"];
  network: FakeOAuth;
  /** The form bodies of the device authorization requests. */
  deviceRequests: URLSearchParams[];
  /** The registration bodies. */
  registrations: Array<Record<string, unknown>>;
  polls: number;
}

/** fake-oauth's AS plus `/device`: device codes for any known client, polls answered from `answers` in order. */
function deviceAs(
  answers: PollAnswer[],
  options: { advertise?: boolean; deviceAnswer?: () => Response; interval?: number; expiresIn?: number } = {},
): DeviceAs {
  const network = fakeOAuth();
  const as: DeviceAs = { network, deviceRequests: [], registrations: [], polls: 0, fetchFn: network.fetchFn };
  const json = (body: unknown, status = 200) =>
    new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
  as.fetchFn = async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.href === `${ISSUER}/.well-known/oauth-authorization-server`) {
      const metadata = {
        ...AS_METADATA,
        grant_types_supported: [...AS_METADATA.grant_types_supported, DEVICE_CODE_GRANT],
        ...(options.advertise === false ? {} : { device_authorization_endpoint: `${ISSUER}/device` }),
      };
      return json(metadata);
    }
    if (url.href === `${ISSUER}/register`) as.registrations.push(JSON.parse(String(init?.body)));
    if (url.href === `${ISSUER}/device`) {
      const form = new URLSearchParams(String(init?.body ?? ""));
      as.deviceRequests.push(form);
      if (options.deviceAnswer) return options.deviceAnswer();
      if (!network.clients.has(form.get("client_id") ?? "")) return json({ error: "invalid_client" }, 401);
      return json({
        device_code: "device-code-secret",
        user_code: "WDJB-MJHT",
        verification_uri: `${ISSUER}/activate`,
        verification_uri_complete: `${ISSUER}/activate?user_code=WDJB-MJHT`,
        expires_in: options.expiresIn ?? 600,
        ...(options.interval === undefined ? {} : { interval: options.interval }),
      });
    }
    if (url.href === `${ISSUER}/token`) {
      const form = new URLSearchParams(String(init?.body ?? ""));
      if (form.get("grant_type") === DEVICE_CODE_GRANT) {
        as.polls += 1;
        assert.equal(form.get("device_code"), "device-code-secret");
        const answer = answers.shift() ?? "pending";
        if (answer === 503) return json({ error: "temporarily_unavailable" }, 503);
        if (answer === "ok") {
          return json({
            access_token: `at-device-${as.polls}`,
            token_type: "Bearer",
            expires_in: 3600,
            refresh_token: "rt",
          });
        }
        return json({ error: answer === "pending" ? "authorization_pending" : answer }, 400);
      }
    }
    return network.fetchFn(input, init);
  };
  return as;
}

const open: UpstreamAuth[] = [];
after(async () => {
  await Promise.all(open.map((auth) => auth.close()));
});

interface DeviceHarness {
  auth: UpstreamAuth;
  store: MemoryTokenStore;
  sleeps: number[];
  prompts: Array<{ userCode: string; verificationUri: string; verificationUriComplete: string | undefined }>;
  printedUrls: string[];
}

function deviceHarness(as: DeviceAs, runtime: Partial<RuntimeOptions> = { signInMethod: "device" }): DeviceHarness {
  let clock = 1_000_000_000;
  const sleeps: number[] = [];
  const prompts: DeviceHarness["prompts"] = [];
  const printedUrls: string[] = [];
  const store = new MemoryTokenStore();
  const auth = new UpstreamAuth(
    upstreamOf(),
    { ...RUNTIME, ...runtime },
    {
      store,
      callback: "own-listener",
      fetch: as.fetchFn,
      now: () => clock,
      sleep: async (ms, signal) => {
        if (signal.aborted) throw signal.reason;
        sleeps.push(ms);
        clock += ms;
      },
      logger: createLogger({ level: "error", write: () => {} }),
      printSignInUrl: (url) => void printedUrls.push(url),
      printDeviceCode: (prompt) => void prompts.push(prompt),
    },
  );
  open.push(auth);
  return { auth, store, sleeps, prompts, printedUrls };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail("expected a rejection");
}

describe("device sign-in (RFC 8628)", () => {
  test("pending twice, then approved: the tokens are stored for the issuer; the code was shown once", async () => {
    const as = deviceAs(["pending", "pending", "ok"]);
    const h = deviceHarness(as);
    await h.auth.signIn();
    const status = await h.auth.status();
    assert.equal(status.signedIn, true);
    assert.equal(status.issuer, ISSUER);
    assert.equal(await h.auth.getAccessToken(), "at-device-3");
    assert.equal(as.polls, 3);
    assert.deepEqual(h.sleeps, [5000, 5000, 5000], "the default interval before every poll");
    assert.equal(h.prompts.length, 1);
    assert.equal(h.prompts[0]?.userCode, "WDJB-MJHT");
    assert.equal(h.prompts[0]?.verificationUriComplete, `${ISSUER}/activate?user_code=WDJB-MJHT`);
    assert.deepEqual(h.printedUrls, [], "no authorization URL: the browser flow never started");
  });

  test("the device request carries the client, the resource and the scope; the client registers the grant", async () => {
    const as = deviceAs(["ok"], { interval: 2 });
    const h = deviceHarness(as);
    await h.auth.signIn({ scope: "mcp:read" });
    const [request] = as.deviceRequests;
    assert.ok(request);
    assert.equal(request.get("resource"), MCP_URL);
    assert.equal(request.get("scope"), "mcp:read");
    assert.equal(request.get("client_id"), "client-1");
    assert.equal(request.has("code_challenge"), false, "PKCE belongs to the code grant");
    assert.deepEqual(as.registrations[0]?.grant_types, ["authorization_code", "refresh_token", DEVICE_CODE_GRANT]);
    assert.deepEqual(h.sleeps, [2000], "the interval the AS named");
  });

  test("slow_down adds 5 seconds to this and every later wait", async () => {
    const as = deviceAs(["pending", "slow_down", "pending", "slow_down", "ok"]);
    const h = deviceHarness(as);
    await h.auth.signIn();
    assert.deepEqual(h.sleeps, [5000, 5000, 10000, 10000, 15000]);
  });

  test("a 503 while polling waits twice as long, and the next answer resets the back-off", async () => {
    const as = deviceAs([503, 503, "pending", "ok"]);
    const h = deviceHarness(as);
    await h.auth.signIn();
    assert.deepEqual(h.sleeps, [5000, 10000, 20000, 5000]);
  });

  test("an AS that keeps failing while polling: NETWORK after 3 back-offs in a row", async () => {
    const as = deviceAs([503, 503, 503, 503, "ok"]);
    const h = deviceHarness(as);
    const error = await rejection(h.auth.signIn());
    assert.ok(isProxyError(error, "NETWORK"), String(error));
    assert.equal(as.polls, 4);
  });

  test("the code's lifetime runs out before approval: SIGN_IN_TIMEOUT without a poll past it", async () => {
    const as = deviceAs([], { expiresIn: 12 });
    const h = deviceHarness(as);
    const error = await rejection(h.auth.signIn());
    assert.ok(isProxyError(error, "SIGN_IN_TIMEOUT"), String(error));
    assert.match(error.hint ?? "", /--device/);
    assert.equal(as.polls, 2, "polls at 5 s and 10 s; the one at 15 s would be after expiry");
    assert.equal((await h.auth.status()).signedIn, false);
  });

  test("expired_token from the AS ends the sign-in with SIGN_IN_TIMEOUT", async () => {
    const h = deviceHarness(deviceAs(["pending", "expired_token"]));
    const error = await rejection(h.auth.signIn());
    assert.ok(isProxyError(error, "SIGN_IN_TIMEOUT"), String(error));
  });

  test("access_denied (the person refused) ends it with SIGN_IN_DENIED", async () => {
    const h = deviceHarness(deviceAs(["access_denied"]));
    const error = await rejection(h.auth.signIn());
    assert.ok(isProxyError(error, "SIGN_IN_DENIED"), String(error));
    assert.equal((await h.auth.status()).signedIn, false);
  });

  const badAnswers: Array<[string, () => Response, string]> = [
    ["HTML with status 500", () => new Response("<h1>oops</h1>", { status: 500 }), "AS_ERROR"],
    [
      "JSON without user_code",
      () => Response.json({ device_code: "d", verification_uri: `${ISSUER}/a`, expires_in: 60 }),
      "AS_ERROR",
    ],
    ["a non-JSON 200", () => new Response("ok"), "AS_ERROR"],
    [
      "a negative expires_in",
      () => Response.json({ device_code: "d", user_code: "u", verification_uri: `${ISSUER}/a`, expires_in: -1 }),
      "AS_ERROR",
    ],
    [
      "a javascript: verification URI",
      () =>
        Response.json({ device_code: "d", user_code: "u", verification_uri: "javascript:alert(1)", expires_in: 60 }),
      "UNSAFE_URL",
    ],
    ["an OAuth error", () => Response.json({ error: "invalid_scope" }, { status: 400 }), "AS_ERROR"],
  ];
  for (const [what, answer, code] of badAnswers) {
    test(`a device authorization answer with ${what} is a clear ${code}, and no poll follows`, async () => {
      const as = deviceAs(["ok"], { deviceAnswer: answer });
      const h = deviceHarness(as);
      const error = await rejection(h.auth.signIn());
      assert.ok(isProxyError(error, code as "AS_ERROR"), String(error));
      assert.equal(as.polls, 0);
      assert.deepEqual(h.prompts, []);
    });
  }

  test("--device with an AS that offers no device flow: USAGE naming the issuer, with a hint; nothing registered", async () => {
    const as = deviceAs(["ok"], { advertise: false });
    const h = deviceHarness(as);
    const error = await rejection(h.auth.signIn());
    assert.ok(isProxyError(error, "USAGE"), String(error));
    assert.match(error.message, /device_authorization_endpoint/);
    assert.match(error.message, new RegExp(ISSUER));
    assert.match(error.hint ?? "", /--no-browser/);
    assert.equal(as.registrations.length, 0);
  });

  test("a stored registration without the device grant is replaced by one with it", async () => {
    const as = deviceAs(["ok", "ok"]);
    const browser = deviceHarness(as);
    // First a browser-style registration (no device grant) in the store, then a device sign-in with that store.
    await browser.store.write(browser.auth.storeKey, "client_info", {
      version: 1,
      server_url: MCP_URL,
      issuer: ISSUER,
      source: "dynamic",
      redirect_uri: `http://127.0.0.1:${RUNTIME.port}/oauth/callback`,
      client: { client_id: "client-old", grant_types: ["authorization_code", "refresh_token"] },
    } as never);
    as.network.clients.add("client-old");
    await browser.auth.signIn();
    assert.equal(as.registrations.length, 1);
    assert.equal(as.deviceRequests[0]?.get("client_id"), "client-1");
  });

  test("auto: --no-browser with nothing to paste into uses the device flow when offered", async () => {
    const as = deviceAs(["ok"]);
    const h = deviceHarness(as, { signInMethod: "auto", openBrowser: false });
    await h.auth.signIn();
    assert.equal(h.prompts.length, 1);
    assert.deepEqual(h.printedUrls, []);
  });

  test("auto: no browser can be opened and the AS offers no device flow: the browser sign-in's URL is printed", async () => {
    const as = deviceAs(["ok"], { advertise: false });
    const h = deviceHarness(as, { signInMethod: "auto", browserAvailable: false, port: 0 });
    const handle = await h.auth.startSignIn();
    assert.match(handle.url, /^https:\/\/as\.example\.com\/authorize\?/);
    assert.deepEqual(h.printedUrls, [handle.url]);
    assert.deepEqual(h.prompts, []);
  });

  test("a request that needs the sign-in is told the verification URI and the user code", async () => {
    const as = deviceAs(["pending"]);
    const h = deviceHarness(as);
    const outcome = await h.auth.onChallenge({ status: 401, wwwAuthenticate: null, usedToken: undefined });
    assert.equal(outcome.action, "sign-in");
    assert.ok(outcome.action === "sign-in");
    assert.equal(outcome.error.details?.signInUrl, `${ISSUER}/activate?user_code=WDJB-MJHT`);
    assert.equal(outcome.error.details?.userCode, "WDJB-MJHT");
    assert.match(outcome.error.hint ?? "", /WDJB-MJHT/);
    await h.auth.close();
    const error = await rejection(outcome.completed ?? Promise.resolve());
    assert.ok(isProxyError(error, "SIGN_IN_TIMEOUT"), "closing abandons the polling");
  });
});

describe("chooseSignInMethod", () => {
  const base: SignInMethodInputs = {
    method: "auto",
    openBrowser: true,
    browserAvailable: true,
    pasteBack: false,
    startedFromPage: false,
    ownListener: true,
  };
  const cases: Array<[string, Partial<SignInMethodInputs>, string]> = [
    ["a browser can be opened", {}, "browser"],
    ["--device", { method: "device" }, "device"],
    ["--device from the status page", { method: "device", startedFromPage: true }, "device"],
    ["no browser can be opened", { browserAvailable: false }, "device-if-offered"],
    ["no browser can be opened, on a terminal", { browserAvailable: false, pasteBack: true }, "device-if-offered"],
    ["--no-browser on a terminal (paste-back)", { openBrowser: false, pasteBack: true }, "browser"],
    ["--no-browser, stdin not a terminal", { openBrowser: false }, "device-if-offered"],
    ["the status page's own tab", { openBrowser: false, startedFromPage: true }, "browser"],
    ["serve (the callback on its own face)", { openBrowser: false, ownListener: false }, "browser"],
  ];
  for (const [what, inputs, expected] of cases) {
    test(`${what} → ${expected}`, () => {
      assert.equal(chooseSignInMethod({ ...base, ...inputs }), expected);
    });
  }
});
