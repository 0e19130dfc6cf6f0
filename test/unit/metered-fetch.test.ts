// meteredFetch against a real HTTP server on 127.0.0.1: one sample per upstream request once its response ended,
// labelled by the Mcp-Method header or the body's method, with the error type the pass-through would give (HTTP
// status, cancelled, the proxy's code when nothing answered); GET streams and subscriptions/listen are no samples.
// Run over fetch (the body wrapped in a timing stream) and over the message path's dispatcher fetch (which reports
// each body's end itself, so no wrapper): the samples must be the same.
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { Agent } from "undici";
import type { FetchLike } from "../../src/auth/authorized-fetch.ts";
import { dispatcherFetch } from "../../src/lib/dispatcher-fetch.ts";
import { type AnnotatedInit, MESSAGE_METHOD, reportsBodySettled } from "../../src/lib/fetch-annotations.ts";
import { meteredFetch } from "../../src/server/metered-fetch.ts";

type Sample = { method: string | undefined; errorType: string | undefined };

const agent = new Agent();
after(() => agent.close());

for (const [over, baseFetch] of [
  ["fetch", globalThis.fetch],
  ["the dispatcher fetch", dispatcherFetch(agent)],
] as const)
  describe(`meteredFetch over ${over}`, () => {
    let server: Server;
    let url: string;
    before(async () => {
      server = createServer((req, res) => {
        if (req.url === "/challenge") {
          return void res.writeHead(401, { "www-authenticate": "Bearer" }).end("sign in first");
        }
        if (req.url === "/fail") return void res.writeHead(500).end("broken");
        if (req.url === "/accepted") return void res.writeHead(202).end();
        if (req.url === "/cut") {
          res.writeHead(200, { "content-type": "text/event-stream" });
          res.write("data: first\n\n");
          setImmediate(() => res.destroy());
          return;
        }
        res.writeHead(200, { "content-type": "application/json" }).end('{"jsonrpc":"2.0","id":1,"result":{}}');
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(() => new Promise<void>((resolve) => server.close(() => resolve())));

    const metered = () => {
      const samples: Sample[] = [];
      const fetch = meteredFetch(baseFetch, (method, _s, errorType) => void samples.push({ method, errorType }), "t");
      return { fetch, samples };
    };
    const post = (body: string, headers: Record<string, string> = {}) => ({
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body,
    });

    test("a JSON answer: one sample once the body was read, named by the body's method", async () => {
      const { fetch, samples } = metered();
      const response = await fetch(`${url}/ok`, post('{"jsonrpc":"2.0","id":1,"method":"tools/list"}'));
      // Over fetch the sample waits for the reader; the dispatcher fetch knows when the bytes ended (maybe already).
      if (over === "fetch") assert.equal(samples.length, 0, "not before the response ended");
      else assert.ok(reportsBodySettled(response), "no wrapper stream: the dispatcher fetch reports the end");
      assert.deepEqual(await response.json(), { jsonrpc: "2.0", id: 1, result: {} });
      assert.deepEqual(samples, [{ method: "tools/list", errorType: undefined }]);
    });

    test("the Mcp-Method header names it when present; a response to the server has no method", async () => {
      const { fetch, samples } = metered();
      await (await fetch(`${url}/ok`, post("{}", { "mcp-method": "tools/call" }))).text();
      await fetch(`${url}/accepted`, post('{"jsonrpc":"2.0","id":7,"result":{}}'));
      assert.deepEqual(samples, [
        { method: "tools/call", errorType: undefined },
        { method: "", errorType: undefined },
      ]);
    });

    test("an HTTP error is its status, a cut stream is cancelled, no answer is the proxy's code", async () => {
      const { fetch, samples } = metered();
      await (await fetch(`${url}/fail`, post('{"jsonrpc":"2.0","id":1,"method":"ping"}'))).text();
      const cut = await fetch(`${url}/cut`, post('{"jsonrpc":"2.0","id":2,"method":"tools/call"}'));
      await assert.rejects(cut.text());
      const closed = await new Promise<string>((resolve) => {
        const idle = createServer();
        idle.listen(0, "127.0.0.1", () => {
          const port = (idle.address() as AddressInfo).port;
          idle.close(() => resolve(`http://127.0.0.1:${port}`));
        });
      });
      await assert.rejects(fetch(closed, post('{"jsonrpc":"2.0","id":3,"method":"tools/list"}')));
      assert.deepEqual(samples, [
        { method: "ping", errorType: "500" },
        { method: "tools/call", errorType: "cancelled" },
        { method: "tools/list", errorType: "NETWORK" },
      ]);
    });

    test("a method the transport named is taken as it is, without reading the body", async () => {
      const { fetch, samples } = metered();
      const init: AnnotatedInit = { ...post("not json"), [MESSAGE_METHOD]: "resources/read" };
      await (await fetch(`${url}/ok`, init)).text();
      assert.deepEqual(samples, [{ method: "resources/read", errorType: undefined }]);
    });

    test("a retry after a 401 is one sample, for the response the caller got", async () => {
      const samples: Sample[] = [];
      // A retrying layer under the meter, as the authorized fetch is: the 401's body is cancelled, then one more try.
      const retrying: FetchLike = async (input, init) => {
        const first = await baseFetch(`${url}/challenge`, init);
        await first.body?.cancel();
        return baseFetch(input, init);
      };
      const fetch = meteredFetch(retrying, (method, _s, errorType) => void samples.push({ method, errorType }), "t");
      const response = await fetch(`${url}/ok`, post('{"jsonrpc":"2.0","id":1,"method":"tools/call"}'));
      assert.equal(response.status, 200);
      await response.text();
      assert.deepEqual(samples, [{ method: "tools/call", errorType: undefined }]);
    });

    test("GET streams and subscriptions/listen are not operations", async () => {
      const { fetch, samples } = metered();
      await (await fetch(`${url}/ok`)).text();
      await (await fetch(`${url}/ok`, post("{}", { "mcp-method": "subscriptions/listen" }))).text();
      assert.deepEqual(samples, []);
    });
  });
