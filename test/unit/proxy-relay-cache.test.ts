// The result cache as the pass-through relay uses it (relay-cache.ts): which requests it looks at (only 2026-07-28
// ones, by their Mcp-Method header), answers from the cache with the new request's id, results kept from JSON and
// SSE answers only when whole, and notifications on a listen stream making entries stale. clearOnSignInChange: a
// sign-in that changes hands empties the upstream's entries, a refresh keeps them.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { RelayCache } from "../../src/proxy/relay-cache.ts";
import { clearOnSignInChange, ResultCache } from "../../src/proxy/result-cache.ts";

const UPSTREAM = "https://mcp.example.com/mcp";
const HINTED = { tools: [{ name: "echo" }], ttlMs: 60_000, cacheScope: "private" };

/** `grant` null: no caller known. */
function setup(grant: string | null = "g1") {
  const results = new ResultCache();
  return { results, relay: new RelayCache({ results, upstream: UPSTREAM, grant: () => grant ?? undefined }) };
}
const post = (message: unknown) => Buffer.from(JSON.stringify(message));
const list = (id: number | string) => ({ jsonrpc: "2.0", id, method: "tools/list", params: {} });
const MODERN = { "mcp-method": "tools/list" };
type Relay = ReturnType<typeof setup>["relay"];
type Request = NonNullable<ReturnType<Relay["requestOf"]>>;
/** The cached answer's text, if `request` is answered from the cache. */
const answerOf = (relay: Relay, request: Request) => {
  const begun = relay.begin(request, true);
  return "answer" in begun ? begun.answer : undefined;
};
/** The tap for an answer to `request` with this head (the request not looked up first). */
const resultTap = (relay: Relay, request: Request, status: number, headers: Record<string, string>) => {
  const begun = relay.begin(request, false);
  return "tap" in begun ? begun.tap(status, headers) : undefined;
};

describe("RelayCache.requestOf", () => {
  test("only a cacheable method named by Mcp-Method and in the body, with an id", () => {
    const { relay } = setup();
    assert.equal(relay.requestOf(MODERN, post(list(1)))?.method, "tools/list");
    assert.equal(relay.requestOf({}, post(list(1))), undefined, "a 2025 request names no method in a header");
    assert.equal(relay.requestOf({ "mcp-method": "tools/call" }, post(list(1))), undefined);
    assert.equal(relay.requestOf({ "mcp-method": "prompts/list" }, post(list(1))), undefined, "header and body differ");
    assert.equal(relay.requestOf(MODERN, Buffer.from("{not json")), undefined);
    assert.equal(relay.requestOf(MODERN, post({ jsonrpc: "2.0", method: "tools/list" })), undefined, "no id");
    assert.equal(relay.requestOf(MODERN, undefined), undefined);
  });

  test("without a known caller nothing is answered from the cache or kept in it", () => {
    const { relay, results } = setup(null);
    const request = relay.requestOf(MODERN, post(list(1)))!;
    assert.equal(answerOf(relay, request), undefined);
    const tap = resultTap(relay, request, 200, { "content-type": "application/json" })!;
    tap.chunk(post({ jsonrpc: "2.0", id: 1, result: HINTED }));
    tap.end();
    assert.equal(results.size, 0, "no known caller");
  });
});

describe("RelayCache answers and taps", () => {
  test("a JSON answer's result is kept when whole, and answers the next request with its own id", () => {
    const { relay } = setup();
    const first = relay.requestOf(MODERN, post(list(1)))!;
    assert.equal(answerOf(relay, first), undefined);
    const tap = resultTap(relay, first, 200, { "content-type": "application/json" })!;
    const text = JSON.stringify({ jsonrpc: "2.0", id: 1, result: HINTED });
    tap.chunk(Buffer.from(text.slice(0, 10)));
    tap.chunk(Buffer.from(text.slice(10)));
    tap.end();
    const again = relay.requestOf(MODERN, post(list("second")))!;
    assert.deepEqual(JSON.parse(answerOf(relay, again)!), { jsonrpc: "2.0", id: "second", result: HINTED });
    assert.ok(!("answer" in relay.begin(again, false)), "not answered from the cache when it may not be");
  });

  test("an SSE answer: notifications before the response pass by, the response's result is kept", () => {
    const { relay } = setup();
    const request = relay.requestOf(MODERN, post(list(7)))!;
    const tap = resultTap(relay, request, 200, { "content-type": "text/event-stream" })!;
    tap.chunk(Buffer.from(`event: message\ndata: {"jsonrpc":"2.0","method":"notifications/progress","params":{}}\n\n`));
    tap.chunk(Buffer.from(`event: message\ndata: ${JSON.stringify({ jsonrpc: "2.0", id: 7, result: HINTED })}\n\n`));
    tap.end();
    assert.ok(answerOf(relay, relay.requestOf(MODERN, post(list(8)))!));
  });

  test("nothing is kept from an error status, another id, an unhinted result, or an answer never ended", () => {
    const { relay, results } = setup();
    const request = relay.requestOf(MODERN, post(list(1)))!;
    assert.equal(resultTap(relay, request, 500, {}), undefined);
    const feed = (message: unknown, end = true) => {
      const tap = resultTap(relay, request, 200, { "content-type": "application/json" })!;
      tap.chunk(Buffer.from(JSON.stringify(message)));
      if (end) tap.end();
    };
    feed({ jsonrpc: "2.0", id: 2, result: HINTED });
    feed({ jsonrpc: "2.0", id: 1, result: { tools: [] } });
    feed({ jsonrpc: "2.0", id: 1, error: { code: -1, message: "x" } });
    feed({ jsonrpc: "2.0", id: 1, result: HINTED }, false);
    assert.equal(results.size, 0);
  });

  test("a listen stream's list-changed notification, split across chunks, makes the list stale", () => {
    const { relay } = setup();
    const request = relay.requestOf(MODERN, post(list(1)))!;
    const tap = resultTap(relay, request, 200, { "content-type": "application/json" })!;
    tap.chunk(Buffer.from(JSON.stringify({ jsonrpc: "2.0", id: 1, result: HINTED })));
    tap.end();
    assert.equal(relay.listenTap(200, { "content-type": "application/json" }), undefined, "only an SSE stream");
    const listen = relay.listenTap(200, { "content-type": "text/event-stream" })!;
    const event = `data: {"jsonrpc":"2.0","method":"notifications/tools/list_changed"}\n\n`;
    listen.chunk(Buffer.from(event.slice(0, 20)));
    assert.ok(answerOf(relay, request), "not yet: the event is not whole");
    listen.chunk(Buffer.from(event.slice(20)));
    assert.equal(answerOf(relay, request), undefined);
  });
});

describe("clearOnSignInChange", () => {
  test("signed out or another account empties the upstream's entries; a refresh of the same sign-in keeps them", () => {
    const results = new ResultCache();
    let listener: ((status: { signedIn: boolean; account?: string }) => void) | undefined;
    const unsubscribe = clearOnSignInChange(
      {
        onStateChange: (l) => {
          listener = l;
          return () => (listener = undefined);
        },
      },
      results,
      UPSTREAM,
    );
    const keep = () => results.store({ upstream: UPSTREAM, grant: "g" }, "tools/list", {}, HINTED);
    listener!({ signedIn: true, account: "ada" });
    keep();
    listener!({ signedIn: true, account: "ada" });
    assert.equal(results.size, 1, "a refresh keeps them");
    listener!({ signedIn: true, account: "bob" });
    assert.equal(results.size, 0, "another account");
    keep();
    listener!({ signedIn: false });
    assert.equal(results.size, 0, "signed out");
    unsubscribe();
    assert.equal(listener, undefined);
  });
});
