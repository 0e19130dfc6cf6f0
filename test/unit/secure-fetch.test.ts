import assert from "node:assert/strict";
import { test } from "node:test";
import { toProxyError } from "../../src/auth/oauth-errors.ts";
import { assertSecureUrl, secureFetch } from "../../src/auth/secure-fetch.ts";
import { FetchTimeout } from "../../src/lib/network-failure.ts";

test("https anywhere, http only on loopback unless explicitly allowed", () => {
  assert.equal(assertSecureUrl("https://mcp.example.com/mcp", false).host, "mcp.example.com");
  for (const ok of ["http://127.0.0.1:8080/mcp", "http://localhost/mcp", "http://[::1]:9/x", "http://a.localhost/"]) {
    assert.ok(assertSecureUrl(ok, false), ok);
  }
  for (const bad of ["http://mcp.example.com/mcp", "http://10.0.0.1/mcp"]) {
    assert.throws(
      () => assertSecureUrl(bad, false),
      (error: { code?: string }) => error.code === "UNSAFE_URL",
      bad,
    );
  }
  assert.ok(assertSecureUrl("http://mcp.example.com/mcp", true));
  assert.throws(
    () => assertSecureUrl("ftp://example.com/", true),
    (error: { code?: string }) => error.code === "INVALID_URL",
  );
});

test("secureFetch refuses before sending anything", async () => {
  let sent = 0;
  const fetchFn = secureFetch(async () => {
    sent++;
    return new Response("ok");
  }, false);
  await assert.rejects(fetchFn("http://as.example.com/token"), /must use https/);
  assert.equal(sent, 0);
  assert.equal(await (await fetchFn("https://as.example.com/token")).text(), "ok");
  assert.equal(sent, 1);
});

/** A fetch that never answers until its signal aborts, like a server that accepted the connection and stalled. */
const stalled = async (_input: string | URL, init?: RequestInit) =>
  new Promise<Response>((_resolve, reject) => {
    // An open socket keeps a real process alive; AbortSignal.timeout()'s timer alone does not.
    const socket = setInterval(() => {}, 1000);
    init?.signal?.addEventListener(
      "abort",
      () => {
        clearInterval(socket);
        reject(init.signal?.reason);
      },
      { once: true },
    );
  });

test("secureFetch gives up on a stalled server with a timeout that names its URL (not a TypeError)", async () => {
  const fetchFn = secureFetch(stalled, false, 20);
  await assert.rejects(
    fetchFn("https://as.example.com/token", { method: "POST" }),
    (error: Error & { url?: string }) => {
      assert.ok(error instanceof FetchTimeout);
      assert.ok(!(error instanceof TypeError), "the SDK's discovery would read a TypeError as CORS and move on");
      assert.equal(error.url, "https://as.example.com/token");
      assert.match(error.message, /no answer from https:\/\/as\.example\.com\/token/);
      return true;
    },
  );
});

test("the caller's own abort stays an abort, not a timeout", async () => {
  const fetchFn = secureFetch(stalled, false, 60_000);
  const abort = new AbortController();
  const pending = fetchFn("https://as.example.com/token", { signal: abort.signal });
  abort.abort(new Error("caller gave up"));
  await assert.rejects(
    pending,
    (error: Error) => !(error instanceof FetchTimeout) && /caller gave up/.test(error.message),
  );
});

test("a timed-out token request reads as the authorization server timing out", async () => {
  const error = toProxyError(new FetchTimeout("https://as.example.com/token", 30_000), "https://mcp.example.com/mcp");
  assert.match(error.message, /authorization server/i);
  assert.match(error.message, /as\.example\.com/);
});
