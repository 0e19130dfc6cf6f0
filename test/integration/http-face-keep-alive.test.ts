// SSE keep-alive comments on every event stream the HTTP face serves, over real sockets: the relayed /mcp GET stream
// and a relayed POST answer (real SDK upstream behind the test AS), legacy /sse relayed to a legacy upstream and
// bridged to a Streamable HTTP one, and a raw upstream that stops in the middle of an event (the comment waits for
// the event's end). Reconnects: a GET with Last-Event-ID reaches the upstream, which replays what was missed.
// A short interval (40 ms) keeps the waits short; nothing is asserted on time, only "eventually seen".
import assert from "node:assert/strict";
import { type ClientRequest, request as httpRequest, type IncomingMessage } from "node:http";
import { after, before, describe, test } from "node:test";
import { KEEP_ALIVE_COMMENT } from "../../src/server/sse-keep-alive.ts";
import { type FaceHarness, startFaceHarness } from "./support/http-face-harness.ts";
import { type RawUpstream, rawUpstream, type StaticFace, staticFace } from "./support/raw-upstream.ts";

const INTERVAL_MS = 40;
const ACCEPT_BOTH = "application/json, text/event-stream";
const INIT = {
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "keep-alive-test", version: "1" } },
};

/** One raw request on its own socket, its body collected as text while it streams. */
class OpenStream {
  text = "";
  ended = false;
  res: IncomingMessage | undefined;
  private readonly req: ClientRequest;
  readonly head: Promise<IncomingMessage>;

  constructor(url: string, options: { method: string; headers: Record<string, string>; body?: string }) {
    let resolveHead: (res: IncomingMessage) => void = () => {};
    let rejectHead: (error: Error) => void = () => {};
    this.head = new Promise((resolve, reject) => {
      resolveHead = resolve;
      rejectHead = reject;
    });
    this.req = httpRequest(url, { method: options.method, headers: options.headers, agent: false }, (res) => {
      this.res = res;
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (this.text += chunk));
      res.on("end", () => (this.ended = true));
      res.on("error", () => {});
      resolveHead(res);
    });
    this.req.on("error", rejectHead);
    this.req.end(options.body);
  }

  /** Keep-alive comments seen so far. */
  get comments(): number {
    return this.text.split(KEEP_ALIVE_COMMENT).length - 1;
  }

  close(): void {
    this.req.destroy();
  }
}

/** Polls `check` until it holds (bounded by count; not a timing assertion). */
async function eventually(check: () => boolean, what: () => string, tries = 600): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  assert.fail(`never happened: ${what()}`);
}

/** The SSE events of `text` (comments dropped), each as its field lines. */
function events(text: string): string[][] {
  return text
    .split(/\r?\n\r?\n/)
    .map((block) => block.split(/\r?\n/).filter((line) => line !== "" && !line.startsWith(":")))
    .filter((lines) => lines.length > 0);
}

async function initializeSession(mcpUrl: string): Promise<string> {
  const stream = new OpenStream(mcpUrl, {
    method: "POST",
    headers: { "content-type": "application/json", accept: ACCEPT_BOTH },
    body: JSON.stringify(INIT),
  });
  const res = await stream.head;
  await eventually(
    () => stream.ended,
    () => "initialize answered",
  );
  const session = res.headers["mcp-session-id"] as string;
  assert.equal(typeof session, "string");
  const initialized = new OpenStream(mcpUrl, {
    method: "POST",
    headers: { "content-type": "application/json", accept: ACCEPT_BOTH, "mcp-session-id": session },
    body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }),
  });
  assert.equal((await initialized.head).statusCode, 202);
  return session;
}

describe("keep-alive on relayed Streamable HTTP streams", () => {
  let h: FaceHarness;
  before(async () => {
    h = await startFaceHarness({
      mcpServer: { transport: "streamable-stateful" },
      serve: { keepAliveMs: INTERVAL_MS },
    });
    await h.signedIn();
  });
  after(async () => {
    await h?.close();
  });

  test("an idle GET stream gets comments, and stays usable", async () => {
    const session = await initializeSession(h.mcpUrl);
    const stream = new OpenStream(h.mcpUrl, {
      method: "GET",
      headers: { accept: "text/event-stream", "mcp-session-id": session },
    });
    try {
      assert.equal((await stream.head).statusCode, 200);
      await eventually(
        () => stream.comments >= 2,
        () => `two comments on the idle GET stream; got ${JSON.stringify(stream.text)}`,
      );
      assert.equal(stream.ended, false);
    } finally {
      stream.close();
    }
  });

  test("a slow call answered as SSE gets comments before its result, which parses", async () => {
    const session = await initializeSession(h.mcpUrl);
    const call = new OpenStream(h.mcpUrl, {
      method: "POST",
      headers: { "content-type": "application/json", accept: ACCEPT_BOTH, "mcp-session-id": session },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 7,
        method: "tools/call",
        params: { name: "sleep", arguments: { ms: 1500 } },
      }),
    });
    const res = await call.head;
    assert.match(String(res.headers["content-type"]), /text\/event-stream/);
    await eventually(
      () => call.ended,
      () => `the call's answer ended; got ${JSON.stringify(call.text)}`,
    );
    // The comment goes out while the upstream is quiet; on a machine so slow that 1.5 s saw no tick, none is owed.
    const data = events(call.text).flatMap((lines) => lines.filter((line) => line.startsWith("data:")));
    const result = data.map((line) => JSON.parse(line.slice(5))).find((message) => message.id === 7);
    assert.equal(result?.result?.content?.[0]?.text, "slept 1500");
    assert.ok(call.comments >= 1, `a comment while the call ran: ${JSON.stringify(call.text)}`);
  });

  test("a GET with Last-Event-ID is passed upstream: the missed events of a stream are replayed", async () => {
    const session = await initializeSession(h.mcpUrl);
    const call = new OpenStream(h.mcpUrl, {
      method: "POST",
      headers: { "content-type": "application/json", accept: ACCEPT_BOTH, "mcp-session-id": session },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 9,
        method: "tools/call",
        params: { name: "slow_progress", arguments: { steps: 3 }, _meta: { progressToken: "p" } },
      }),
    });
    await call.head;
    await eventually(
      () => call.ended,
      () => `the call's answer ended; got ${JSON.stringify(call.text)}`,
    );
    const withIds = events(call.text).filter((lines) => lines.some((line) => line.startsWith("data:")));
    const firstProgress = withIds.find((lines) => lines.some((line) => line.includes('"progress":1')));
    const lastEventId = firstProgress
      ?.find((line) => line.startsWith("id:"))
      ?.slice(3)
      .trim();
    assert.ok(lastEventId, `the upstream numbers its events: ${JSON.stringify(call.text)}`);

    // The client "lost" everything after the first progress notification and reconnects with its id.
    const resumed = new OpenStream(h.mcpUrl, {
      method: "GET",
      headers: { accept: "text/event-stream", "mcp-session-id": session, "last-event-id": lastEventId },
    });
    try {
      assert.equal((await resumed.head).statusCode, 200);
      await eventually(
        () => resumed.text.includes('"slow_progress"') || resumed.text.includes("done 3"),
        () => `the replayed result; got ${JSON.stringify(resumed.text)}`,
      );
      assert.match(resumed.text, /"progress":2/);
      assert.doesNotMatch(resumed.text, /"progress":1[,}]/);
    } finally {
      resumed.close();
    }
  });
});

describe("keep-alive on legacy /sse streams", () => {
  let bridged: FaceHarness;
  let relayed: FaceHarness;
  before(async () => {
    bridged = await startFaceHarness({
      mcpServer: { transport: "streamable-stateful" },
      serve: { keepAliveMs: INTERVAL_MS },
    });
    relayed = await startFaceHarness({ mcpServer: { transport: "sse" }, serve: { keepAliveMs: INTERVAL_MS } });
    await Promise.all([bridged.signedIn(), relayed.signedIn()]);
  });
  after(async () => {
    await Promise.all([bridged?.close(), relayed?.close()]);
  });

  for (const kind of ["relayed to a legacy upstream", "bridged to a Streamable HTTP upstream"] as const) {
    test(`/sse ${kind}: the endpoint event first, then comments`, async () => {
      const face = kind.startsWith("relayed") ? relayed : bridged;
      const stream = new OpenStream(`${face.face.url}/sse`, {
        method: "GET",
        headers: { accept: "text/event-stream" },
      });
      try {
        assert.equal((await stream.head).statusCode, 200);
        await eventually(
          () => stream.comments >= 2,
          () => `two comments on the idle /sse stream; got ${JSON.stringify(stream.text)}`,
        );
        const [endpoint] = events(stream.text);
        assert.deepEqual(endpoint?.[0], "event: endpoint");
        assert.match(endpoint?.[1] ?? "", /^data: \/message\?sessionId=/);
        assert.ok(stream.text.indexOf(KEEP_ALIVE_COMMENT) > stream.text.indexOf("data: /message"));
      } finally {
        stream.close();
      }
    });
  }
});

describe("comments go between events only", () => {
  let upstream: RawUpstream;
  let proxy: StaticFace;
  let finishEvent: () => void = () => {};
  before(async () => {
    upstream = await rawUpstream((req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      res.flushHeaders();
      if (req.url?.includes("half")) {
        // Half an event (CRLF line ends), then nothing until the test says so.
        res.write('id: 1\r\nevent: message\r\ndata: {"jsonrpc":"2.0",');
        finishEvent = () => res.write('"method":"notifications/message"}\r\n\r\n');
      }
    });
    proxy = await staticFace(
      `${upstream.origin}/mcp`,
      { authorization: "Bearer static" },
      { keepAliveMs: INTERVAL_MS },
    );
  });
  after(async () => {
    await proxy?.face.close();
    await upstream?.close();
  });

  test("an upstream quiet in the middle of an event gets no comment until the event ends", async () => {
    const half = new OpenStream(`${proxy.face.url}/mcp?half`, {
      method: "GET",
      headers: { accept: "text/event-stream" },
    });
    const idle = new OpenStream(`${proxy.face.url}/mcp?idle`, {
      method: "GET",
      headers: { accept: "text/event-stream" },
    });
    try {
      await eventually(
        () => half.text.includes("jsonrpc"),
        () => "the half event reached the client",
      );
      // Both streams share one timer: three comments on the idle one mean three ticks passed while the other one
      // was quiet in the middle of its event.
      const before = idle.comments;
      await eventually(
        () => idle.comments >= before + 3,
        () => "three ticks",
      );
      assert.equal(half.comments, 0, `no comment inside the event: ${JSON.stringify(half.text)}`);
      finishEvent();
      await eventually(
        () => half.comments >= 1,
        () => `a comment after the event: ${JSON.stringify(half.text)}`,
      );
      assert.ok(
        half.text.startsWith(
          'id: 1\r\nevent: message\r\ndata: {"jsonrpc":"2.0","method":"notifications/message"}\r\n\r\n',
        ),
        JSON.stringify(half.text),
      );
    } finally {
      half.close();
      idle.close();
    }
  });
});
