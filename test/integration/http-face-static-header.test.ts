// The HTTP face with a static Authorization header (`--header "Authorization: Bearer …"`) instead of OAuth: there is
// nothing to sign in to or out of, so the page offers no such buttons and the sign-in/sign-out routes answer at once
// with an error that says so (they used to leave the request hanging), never with the header's value.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { ServeHandle } from "../../src/app/serve.ts";
import { type RawUpstream, rawUpstream, staticFace } from "./support/raw-upstream.ts";

/** Long enough for any answer on a loaded machine; an abort means the route never answered. */
const NO_ANSWER_MS = 8000;
const SECRET = `static-secret-${process.pid}-${Date.now()}`;

interface RpcError {
  error: { code: number; message: string; data?: Record<string, unknown> };
}

describe("HTTP face with a static Authorization header", () => {
  let upstream: RawUpstream;
  let face: ServeHandle;
  let logs: string[];
  let upstreamUrl: string;

  before(async () => {
    upstream = await rawUpstream((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end('{"jsonrpc":"2.0","id":1,"result":{}}');
    });
    upstreamUrl = `${upstream.origin}/mcp`;
    ({ face, logs } = await staticFace(upstreamUrl, { Authorization: `Bearer ${SECRET}` }, { signInAtStart: false }));
  });

  after(async () => {
    await face?.close();
    await upstream?.close();
  });

  /** A form post as the page would make it; fails the test (instead of hanging it) when no answer comes. */
  async function post(path: string, accept: string): Promise<Response> {
    try {
      return await fetch(`${face.url}${path}`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", origin: face.url, accept },
        body: "csrf=anything",
        redirect: "manual",
        signal: AbortSignal.timeout(NO_ANSWER_MS),
      });
    } catch (error) {
      assert.fail(`POST ${path} got no answer: ${String(error)}`);
    }
  }

  test("the page says a static header is in use, shows no Sign in / Sign out and never the header's value", async () => {
    const html = await (await fetch(`${face.url}/`)).text();
    assert.match(html, /Static Authorization header/);
    assert.doesNotMatch(html, /action="[^"]*\/oauth\/sign-(in|out)"/);
    assert.doesNotMatch(html, /<form/);
    assert.ok(!html.includes(SECRET), "the header's value is on the page");
  });

  for (const [path, what] of [
    ["/oauth/sign-in", "start"],
    ["/oauth/sign-out", "end"],
  ] as const) {
    test(`POST ${path} answers at once: 409 with a stable code and what to do`, async () => {
      const response = await post(path, "application/json");
      assert.equal(response.status, 409);
      assert.match(response.headers.get("content-type") ?? "", /application\/json/);
      const body = (await response.json()) as RpcError;
      assert.equal(body.error.data?.proxyError, "USAGE");
      assert.equal(body.error.data?.staticAuthorization, true);
      assert.ok(body.error.message.includes(upstreamUrl), body.error.message);
      assert.match(body.error.message, new RegExp(`there is no sign-in to ${what}`));
      assert.match(body.error.message, /Remove --header Authorization/);
      assert.ok(!JSON.stringify(body).includes(SECRET), "the header's value is in the answer");
    });

    test(`POST ${path} from the page's form gets the page back with the error, without buttons`, async () => {
      const response = await post(path, "text/html,application/xhtml+xml");
      assert.equal(response.status, 409);
      assert.match(response.headers.get("content-type") ?? "", /text\/html/);
      const html = await response.text();
      assert.match(html, /static Authorization header/);
      assert.match(html, new RegExp(`there is no sign-in to ${what}`));
      assert.match(html, /Error code: <code>USAGE<\/code>/);
      assert.doesNotMatch(html, /<form/);
      assert.ok(!html.includes(SECRET), "the header's value is on the page");
    });
  }

  test("nothing was relayed and the header's value was never logged", () => {
    assert.equal(upstream.seen.length, 0);
    assert.ok(!logs.join("").includes(SECRET));
  });
});
