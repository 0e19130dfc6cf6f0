// The HTTP face's transport behaviour against small real HTTP upstreams that misbehave on purpose: streaming as it
// arrives, client disconnects, upstreams that die mid-stream, refuse connections, answer 5xx or never answer, and
// the generic relay's header handling. A static Authorization header stands in for OAuth here (the OAuth paths
// run against the real AS in http-face.test.ts and http-face-auth.test.ts).
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, describe, test } from "node:test";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { type ServeHandle, type ServeOptions, startServe } from "../../src/app/serve.ts";
import { freePort } from "./support/http-face-harness.ts";

interface RawUpstream {
  url: string;
  origin: string;
  server: Server;
  /** Every request as the upstream saw it. */
  seen: { method: string; url: string; headers: IncomingMessage["headers"] }[];
  close(): Promise<void>;
}

async function rawUpstream(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<RawUpstream> {
  const seen: RawUpstream["seen"] = [];
  const server = createServer((req, res) => {
    seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers });
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `${origin}/mcp`,
    origin,
    server,
    seen,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function face(upstreamUrl: string, extra: Partial<ServeOptions> = {}): Promise<ServeHandle> {
  const port = await freePort();
  const handle = await startServe({
    upstream: {
      url: upstreamUrl,
      authorizeParams: {},
      headers: { Authorization: "Bearer static-test", "X-Static": "yes" },
      sendResource: true,
    },
    runtime: {
      authDir: "/nonexistent",
      port,
      callbackHost: "127.0.0.1",
      openBrowser: false,
      debug: false,
      allowInsecureHttp: true,
    },
    port,
    ...extra,
  });
  cleanups.push(() => handle.close());
  return handle;
}

const REQUEST = JSON.stringify({ jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: "x", arguments: {} } });
const POST_HEADERS = { "content-type": "application/json", accept: "application/json, text/event-stream" };

function eventually(check: () => boolean, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = () => {
      if (check()) return resolve();
      if (Date.now() - started > 10_000) return reject(new Error(`never happened: ${what}`));
      setTimeout(tick, 10);
    };
    tick();
  });
}

interface RpcError {
  jsonrpc: string;
  id: unknown;
  error: { code: number; message: string; data?: Record<string, unknown> };
}

describe("HTTP face against misbehaving upstreams", () => {
  test("SSE events reach the client as they are written, not when the stream ends", async () => {
    let releaseSecond!: () => void;
    const secondMayGo = new Promise<void>((resolve) => {
      releaseSecond = resolve;
    });
    const upstream = await rawUpstream((_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write('event: message\ndata: {"jsonrpc":"2.0","method":"notifications/progress","params":{}}\n\n');
      // The second event (and the end) only come once the client has seen the first one through the proxy.
      void secondMayGo.then(() => res.end('event: message\ndata: {"jsonrpc":"2.0","id":7,"result":{}}\n\n'));
    });
    cleanups.push(upstream.close);
    const proxy = await face(upstream.url);
    const response = await fetch(`${proxy.url}/mcp`, { method: "POST", headers: POST_HEADERS, body: REQUEST });
    assert.equal(response.status, 200);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let text = "";
    while (!text.includes("notifications/progress")) {
      const { value, done } = await reader.read();
      assert.equal(done, false, "the stream ended before the first event arrived");
      text += decoder.decode(value, { stream: true });
    }
    releaseSecond();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    assert.match(text, /"id":7,"result"/);
    // The upstream got the static headers, never a client credential.
    assert.equal(upstream.seen[0]?.headers.authorization, "Bearer static-test");
    assert.equal(upstream.seen[0]?.headers["x-static"], "yes");
  });

  test("a client that disconnects cancels the upstream request, before and during the response", async () => {
    const closed: string[] = [];
    const upstream = await rawUpstream((req, res) => {
      res.on("close", () => closed.push(req.url ?? ""));
      if (req.url?.includes("stream")) {
        res.writeHead(200, { "content-type": "text/event-stream" });
        res.write(": started\n\n");
      }
      // Otherwise: never answer.
    });
    cleanups.push(upstream.close);
    const proxy = await face(`${upstream.origin}/mcp`);

    const before = new AbortController();
    const pending = fetch(`${proxy.url}/mcp?phase=headers`, {
      method: "POST",
      headers: POST_HEADERS,
      body: REQUEST,
      signal: before.signal,
    }).catch(() => "aborted");
    await eventually(() => upstream.seen.length === 1, "the request reached the upstream");
    before.abort();
    assert.equal(await pending, "aborted");
    await eventually(() => closed.some((url) => url.includes("phase=headers")), "upstream saw the cancel");

    const during = new AbortController();
    const streaming = await fetch(`${proxy.url}/mcp?phase=stream`, {
      method: "POST",
      headers: POST_HEADERS,
      body: REQUEST,
      signal: during.signal,
    });
    assert.equal(streaming.status, 200);
    const reader = (streaming.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    during.abort();
    await eventually(() => closed.some((url) => url.includes("phase=stream")), "upstream saw the disconnect");
  });

  test("an upstream killed mid-stream: the pending request gets a JSON-RPC error; the proxy keeps serving", async () => {
    const upstream = await rawUpstream((_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write('event: message\ndata: {"jsonrpc":"2.0","method":"notifications/progress","params":{}}\n\n');
      setImmediate(() => res.socket?.destroy());
    });
    cleanups.push(upstream.close);
    const proxy = await face(upstream.url);
    const response = await fetch(`${proxy.url}/mcp`, { method: "POST", headers: POST_HEADERS, body: REQUEST });
    const text = await response.text();
    assert.match(text, /notifications\/progress/);
    const last = text
      .split("\n")
      .filter((line) => line.startsWith("data: "))
      .at(-1);
    const error = JSON.parse(last?.slice(6) ?? "{}") as RpcError;
    assert.equal(error.id, 7);
    assert.equal(error.error.code, -32052);
    assert.ok(error.error.message.includes(upstream.url), error.error.message);

    // A real SDK client sees the same as a rejected call naming the upstream.
    const client = new Client({ name: "killed", version: "1.0.0" });
    const init = await rawUpstream((req, res) => {
      let body = "";
      req.on("data", (chunk: Buffer) => {
        body += chunk;
      });
      req.on("end", () => {
        if (req.method !== "POST") {
          res.writeHead(405).end();
          return;
        }
        const message = JSON.parse(body) as { id?: number; method: string };
        if (message.method === "initialize") {
          res.writeHead(200, { "content-type": "application/json" });
          res.end(
            JSON.stringify({
              jsonrpc: "2.0",
              id: message.id,
              result: {
                protocolVersion: "2025-11-25",
                capabilities: { tools: {} },
                serverInfo: { name: "k", version: "1" },
              },
            }),
          );
        } else if (message.id === undefined) {
          res.writeHead(202).end();
        } else {
          res.writeHead(200, { "content-type": "text/event-stream" });
          res.write(": working\n\n");
          setImmediate(() => res.socket?.destroy());
        }
      });
    });
    cleanups.push(init.close);
    const proxy2 = await face(init.url);
    await client.connect(new StreamableHTTPClientTransport(new URL(`${proxy2.url}/mcp`)));
    await assert.rejects(client.callTool({ name: "x", arguments: {} }), (error: Error) => {
      assert.ok(error.message.includes(init.url), error.message);
      return true;
    });
    await client.close();

    const health = await fetch(`${proxy.url}/healthz`);
    assert.equal(health.status, 200);
    assert.equal(((await health.json()) as { ok: boolean }).ok, true);
  });

  test("an unreachable upstream: requests get a JSON-RPC error naming it; other paths get 502", async () => {
    const deadPort = await freePort();
    const deadUrl = `http://127.0.0.1:${deadPort}/mcp`;
    const proxy = await face(deadUrl);

    const call = await fetch(`${proxy.url}/mcp`, { method: "POST", headers: POST_HEADERS, body: REQUEST });
    assert.equal(call.status, 200);
    const error = (await call.json()) as RpcError;
    assert.equal(error.id, 7);
    assert.equal(error.error.code, -32052);
    assert.match(error.error.message, new RegExp(`${deadUrl.replace(/[.]/g, "\\.")}.*connection refused`));

    const notification = await fetch(`${proxy.url}/mcp`, {
      method: "POST",
      headers: POST_HEADERS,
      body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }),
    });
    assert.equal(notification.status, 502);
    await notification.text();

    const stream = await fetch(`${proxy.url}/mcp`, { headers: { accept: "text/event-stream" } });
    assert.equal(stream.status, 502);
    assert.equal(((await stream.json()) as RpcError).id, null);

    const generic = await fetch(`${proxy.url}/other/path`);
    assert.equal(generic.status, 502);
    await generic.text();

    assert.equal((await fetch(`${proxy.url}/healthz`)).status, 200);
  });

  test("an upstream 5xx becomes a JSON-RPC error quoting it on /mcp; the generic relay passes it through", async () => {
    const upstream = await rawUpstream((_req, res) => {
      res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code: -32603, message: "database is down" } }));
    });
    cleanups.push(upstream.close);
    const proxy = await face(upstream.url);
    const call = await fetch(`${proxy.url}/mcp`, { method: "POST", headers: POST_HEADERS, body: REQUEST });
    assert.equal(call.status, 200);
    const error = (await call.json()) as RpcError;
    assert.equal(error.id, 7);
    assert.match(error.error.message, /answered HTTP 500: database is down/);
    assert.equal(error.error.data?.upstreamStatus, 500);

    const generic = await fetch(`${proxy.url}/api/thing`);
    assert.equal(generic.status, 500);
    assert.match(await generic.text(), /database is down/);
  });

  test("a silent upstream times out: JSON-RPC error for requests, 504 for streams", async () => {
    const upstream = await rawUpstream(() => {
      // Never answers.
    });
    cleanups.push(upstream.close);
    const proxy = await face(upstream.url, { upstreamTimeoutMs: 300 });
    const call = await fetch(`${proxy.url}/mcp`, { method: "POST", headers: POST_HEADERS, body: REQUEST });
    const error = (await call.json()) as RpcError;
    assert.equal(error.id, 7);
    assert.equal(error.error.code, -32053);
    assert.match(error.error.message, /did not answer in time/);
    const stream = await fetch(`${proxy.url}/mcp`, { headers: { accept: "text/event-stream" } });
    assert.equal(stream.status, 504);
    await stream.text();
  });

  test("generic relay: same path and query on the upstream origin, filtered headers both ways", async () => {
    const upstream = await rawUpstream((req, res) => {
      if (req.url === "/go") {
        res.writeHead(302, { location: `http://127.0.0.1:${(upstream.server.address() as AddressInfo).port}/landed` });
        res.end();
        return;
      }
      res.writeHead(200, {
        "content-type": "text/plain",
        "set-cookie": "upstream-session=1",
        "www-authenticate": "Bearer realm=x",
        "x-upstream": "kept",
      });
      res.end(`path=${req.url}`);
    });
    cleanups.push(upstream.close);
    const proxy = await face(upstream.url);
    const response = await fetch(`${proxy.url}/api/v1/items?q=a%20b&x=1`, {
      headers: { cookie: "local=1", authorization: "Bearer client-own" },
    });
    assert.equal(response.status, 200);
    assert.equal(await response.text(), "path=/api/v1/items?q=a%20b&x=1");
    assert.equal(response.headers.get("set-cookie"), null);
    assert.equal(response.headers.get("www-authenticate"), null);
    assert.equal(response.headers.get("x-upstream"), "kept");
    const seen = upstream.seen.at(-1);
    assert.equal(seen?.headers.authorization, "Bearer static-test");
    assert.equal(seen?.headers.cookie, undefined);
    assert.equal(seen?.headers.host, new URL(upstream.origin).host);

    const redirect = await fetch(`${proxy.url}/go`, { redirect: "manual" });
    assert.equal(redirect.status, 302);
    assert.equal(redirect.headers.get("location"), "/landed");
  });
});
