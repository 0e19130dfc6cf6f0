// Long-lived streams and proxy-held sessions under load, with a real SDK upstream behind the test AS:
// idle GET streams never starve requests, stream caps answer 503 with a JSON-RPC error instead of hanging, and
// bridged sessions that clients abandon (no DELETE) expire, giving their connections back.
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { Agent, type ClientRequest, request as httpRequest, type IncomingMessage } from "node:http";
import { after, before, describe, test } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { type FaceHarness, startFaceHarness } from "./support/http-face-harness.ts";

const INIT = {
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "limits-test", version: "1" } },
};
const ACCEPT_BOTH = "application/json, text/event-stream";

// A full collection on demand, so heap sizes before and after the load compare what is still referenced.
setFlagsFromString("--expose-gc");
const collectGarbage = runInNewContext("gc") as () => void;

function heapUsed(): number {
  collectGarbage();
  return process.memoryUsage().heapUsed;
}

function openFds(): number {
  return readdirSync("/proc/self/fd").length;
}

/** Polls `check` until it returns true (bounded by count, not asserted on time). */
async function eventually(check: () => boolean | Promise<boolean>, what: string, tries = 600): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.fail(`never happened: ${what}`);
}

/** One raw request on its own socket; resolves with the response head (the body is left open). */
function openRequest(
  url: string,
  options: { method: string; headers: Record<string, string>; body?: string },
): Promise<{ req: ClientRequest; res: IncomingMessage }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: options.method, headers: options.headers, agent: false }, (res) =>
      resolve({ req, res }),
    );
    req.on("error", reject);
    req.end(options.body);
  });
}

/** `initialize` through the face; returns the session id (the body is read to the end). */
async function initializeSession(mcpUrl: string, agent?: Agent): Promise<string> {
  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = httpRequest(
      mcpUrl,
      { method: "POST", agent, headers: { "content-type": "application/json", accept: ACCEPT_BOTH } },
      resolve,
    );
    req.on("error", reject);
    req.end(JSON.stringify(INIT));
  });
  for await (const _ of response) {
    // drain
  }
  assert.equal(response.statusCode, 200);
  const session = response.headers["mcp-session-id"];
  assert.equal(typeof session, "string");
  return session as string;
}

async function inBatches<T>(count: number, size: number, make: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let start = 0; start < count; start += size) {
    const batch = Array.from({ length: Math.min(size, count - start) }, (_, i) => make(start + i));
    out.push(...(await Promise.all(batch)));
  }
  return out;
}

describe("long-lived streams never starve requests", () => {
  let h: FaceHarness;
  before(async () => {
    h = await startFaceHarness({ mcpServer: { transport: "streamable-stateful" } });
    await h.signedIn();
  });
  after(async () => {
    await h?.close();
  });

  test("1,000 idle GET streams open, a new SDK client still initialises and calls a tool", async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 32 });
    const sessions = await inBatches(1000, 50, () => initializeSession(h.mcpUrl, agent));
    agent.destroy();
    const streams = await inBatches(1000, 100, (i) =>
      openRequest(h.mcpUrl, {
        method: "GET",
        headers: { accept: "text/event-stream", "mcp-session-id": sessions[i] as string },
      }),
    );
    try {
      assert.ok(
        streams.every(({ res }) => res.statusCode === 200),
        "every GET stream was opened by the upstream",
      );
      const client = new Client({ name: "newcomer", version: "1.0.0" });
      await client.connect(new StreamableHTTPClientTransport(new URL(h.mcpUrl)));
      const result = await client.callTool({ name: "echo", arguments: { text: "still served" } });
      assert.equal((result.content as { text: string }[])[0]?.text, "still served");
      await client.close();
    } finally {
      for (const { req } of streams) req.destroy();
    }
  });
});

describe("stream caps answer 503 with a JSON-RPC error", () => {
  let h: FaceHarness;
  before(async () => {
    h = await startFaceHarness({
      mcpServer: { transport: "streamable-stateful" },
      serve: { maxStreams: 3, maxStreamsPerSession: 1 },
    });
    await h.signedIn();
  });
  after(async () => {
    await h?.close();
  });

  test("a session's second stream, then the proxy's fourth, are refused clearly and nothing hangs", async () => {
    const sessions = await inBatches(4, 4, () => initializeSession(h.mcpUrl));
    const get = (session: string) =>
      openRequest(h.mcpUrl, { method: "GET", headers: { accept: "text/event-stream", "mcp-session-id": session } });
    const first = await get(sessions[0] as string);
    assert.equal(first.res.statusCode, 200);
    const before = h.mcp.stats.requests;
    const second = await get(sessions[0] as string);
    assert.equal(second.res.statusCode, 503);
    const perSession = JSON.parse(await readAll(second.res)) as { error: { code: number; message: string } };
    assert.equal(perSession.error.code, -32054);
    assert.match(perSession.error.message, /limit per session is 1/);
    assert.equal(h.mcp.stats.requests, before, "the refused stream never reached the upstream");

    const others = [await get(sessions[1] as string), await get(sessions[2] as string)];
    assert.ok(others.every(({ res }) => res.statusCode === 200));
    const fourth = await get(sessions[3] as string);
    assert.equal(fourth.res.statusCode, 503);
    assert.equal(fourth.res.headers["retry-after"], "5");
    const total = JSON.parse(await readAll(fourth.res)) as { error: { code: number; message: string } };
    assert.match(total.error.message, /limit of 3 open streams/);

    // A closed stream frees its slot.
    first.req.destroy();
    await eventually(async () => {
      const again = await get(sessions[3] as string);
      const ok = again.res.statusCode === 200;
      again.req.destroy();
      return ok;
    }, "a slot is freed when a stream closes");
    for (const { req } of others) req.destroy();
  });
});

describe("bridged sessions that clients abandon expire", () => {
  let h: FaceHarness;
  before(async () => {
    h = await startFaceHarness({
      mcpServer: { transport: "sse" },
      serve: { sessionIdleMs: 30_000, maxSessions: 2000 },
    });
    await h.signedIn();
  });
  after(async () => {
    await h?.close();
  });

  test("1,000 initialize without DELETE: connections and memory come back once they idle out", async () => {
    // Warm up the bridge (the SDK loads on first use) so the baseline includes it.
    const warm = await initializeSession(h.mcpUrl);
    await deleteSession(h.mcpUrl, warm);
    await eventually(() => h.mcp.stats.requests > 0, "warm-up reached the upstream");
    const baselineFds = openFds();
    const baselineHeap = heapUsed();

    const agent = new Agent({ keepAlive: true, maxSockets: 16 });
    let loadedFds = 0;
    for (let batch = 0; batch < 40; batch++) {
      await inBatches(25, 25, () => initializeSession(h.mcpUrl, agent));
      loadedFds = Math.max(loadedFds, openFds());
    }
    agent.destroy();
    const loadedHeap = heapUsed();
    // Each held session keeps an upstream SSE connection (both ends live in this process). On a slow machine the first
    // sessions may idle out before the last are made, so this only checks that the load held hundreds at once.
    assert.ok(loadedFds >= baselineFds + 500, `fds under load: ${loadedFds} (baseline ${baselineFds})`);

    await eventually(() => openFds() <= baselineFds + 20, "fds back to baseline after the idle timeout", 1200);
    const afterHeap = heapUsed();
    const mib = (bytes: number) => `${Math.round(bytes / 1024 / 1024)} MiB`;
    console.log(
      `# bridged sessions: heap ${mib(baselineHeap)} → ${mib(loadedHeap)} loaded → ${mib(afterHeap)} after expiry; fds ${baselineFds} → ${loadedFds} → ${openFds()}`,
    );
    // The sessions' memory is released: at most a quarter of what the load added is still referenced.
    assert.ok(
      afterHeap - baselineHeap <= (loadedHeap - baselineHeap) / 4,
      `heap after expiry ${mib(afterHeap)} (baseline ${mib(baselineHeap)}, loaded ${mib(loadedHeap)})`,
    );

    // The proxy still serves new sessions afterwards.
    const session = await initializeSession(h.mcpUrl);
    await deleteSession(h.mcpUrl, session);
  });
});

async function deleteSession(mcpUrl: string, session: string): Promise<void> {
  const response = await fetch(mcpUrl, { method: "DELETE", headers: { "mcp-session-id": session } });
  await response.text();
}

async function readAll(res: IncomingMessage): Promise<string> {
  let text = "";
  res.setEncoding("utf8");
  for await (const chunk of res) text += chunk;
  return text;
}
