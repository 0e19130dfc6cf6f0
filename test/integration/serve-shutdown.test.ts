// The graceful stop of `serve` (dist/main.js as a child process) on SIGTERM and SIGINT. The upstream is a raw
// node:http server the test drives step by step (so nothing depends on timing): it holds a Streamable HTTP GET
// stream, a legacy /sse stream and a tools/call answer open. On the signal, the proxy stops accepting connections
// and ends both streams cleanly (the chunked body's end, not a reset) while the call is still running; the call then
// gets its result, and the process exits 0 (a stop that hangs is cut at 10 s with exit 1, so 0 also says "in time").
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { type ClientRequest, request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { freePort } from "../fixtures/ports.ts";
import { BIN } from "./support/built-cli.ts";
import { type RawUpstream, rawUpstream } from "./support/raw-upstream.ts";

const ACCEPT_BOTH = "application/json, text/event-stream";
const SSE_HEAD = { "content-type": "text/event-stream", "cache-control": "no-cache" };

/** One raw request on its own socket; its body collected while it streams, and how it ended. */
class OpenStream {
  text = "";
  ended = false;
  failed: Error | undefined;
  readonly head: Promise<IncomingMessage>;
  private readonly req: ClientRequest;

  constructor(url: string, options: { method: string; headers: Record<string, string>; body?: string }) {
    let resolveHead: (res: IncomingMessage) => void = () => {};
    let rejectHead: (error: Error) => void = () => {};
    this.head = new Promise((resolve, reject) => {
      resolveHead = resolve;
      rejectHead = reject;
    });
    this.req = httpRequest(url, { method: options.method, headers: options.headers, agent: false }, (res) => {
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (this.text += chunk));
      res.on("end", () => (this.ended = true));
      res.on("aborted", () => (this.failed ??= new Error("aborted")));
      res.on("error", (error) => (this.failed ??= error));
      resolveHead(res);
    });
    this.req.on("error", (error) => {
      this.failed ??= error;
      rejectHead(error);
    });
    this.req.end(options.body);
  }

  /** Settled: ended cleanly or failed. */
  get done(): boolean {
    return this.ended || this.failed !== undefined;
  }

  close(): void {
    this.req.destroy();
  }
}

async function eventually(check: () => boolean, what: () => string, tries = 800): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  assert.fail(`never happened: ${what()}`);
}

/** Whether a new TCP connection to `port` is accepted. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: "127.0.0.1" }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

interface ServeChild {
  child: ChildProcess;
  port: number;
  baseUrl: string;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

async function startServeChild(upstreamUrl: string, authDir: string): Promise<ServeChild> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [BIN, "serve", upstreamUrl, "--header", "Authorization: Bearer static", "--port", String(port)],
    { env: { ...process.env, MCP_AUTH_DIR: authDir }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let stdout = "";
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  await new Promise<void>((resolve, reject) => {
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      if (/is ready/.test(stdout)) resolve();
    });
    void exit.then(({ code }) => reject(new Error(`serve exited ${code} before it was ready: ${stderr}`)));
  });
  return { child, port, baseUrl: `http://127.0.0.1:${port}`, stderr: () => stderr, exit };
}

describe("serve stops gracefully", () => {
  let upstream: RawUpstream;
  let work: string;
  /** Ends the tools/call answer the upstream holds open (with its result). */
  const held: { finishCall?: (() => void) | undefined } = {};
  before(async () => {
    upstream = await rawUpstream((req, res: ServerResponse) => {
      if (req.method === "GET") {
        res.writeHead(200, SSE_HEAD);
        res.flushHeaders();
        // Both GETs (the proxy's /mcp and /sse) reach the upstream's one URL; an endpoint event suits either here.
        res.write("event: endpoint\ndata: /messages?sessionId=s1\n\n");
        return;
      }
      req.resume();
      req.once("end", () => {
        res.writeHead(200, SSE_HEAD);
        res.write(
          `event: message\ndata: ${JSON.stringify({ jsonrpc: "2.0", method: "notifications/progress", params: { progressToken: "t", progress: 1 } })}\n\n`,
        );
        held.finishCall = () =>
          res.end(
            `event: message\ndata: ${JSON.stringify({ jsonrpc: "2.0", id: 5, result: { content: [{ type: "text", text: "done" }] } })}\n\n`,
          );
      });
    });
    work = mkdtempSync(join(tmpdir(), "u2m-shutdown-"));
  });
  after(async () => {
    await upstream?.close();
    rmSync(work, { recursive: true, force: true });
  });

  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    test(`${signal} with open streams and a call in flight: streams end, the call completes, exit 0`, async () => {
      const serve = await startServeChild(`${upstream.origin}/mcp`, join(work, signal));
      const opened: OpenStream[] = [];
      try {
        const mcpUrl = `${serve.baseUrl}/mcp`;
        const getStream = new OpenStream(mcpUrl, { method: "GET", headers: { accept: "text/event-stream" } });
        const legacy = new OpenStream(`${serve.baseUrl}/sse`, {
          method: "GET",
          headers: { accept: "text/event-stream" },
        });
        const call = new OpenStream(mcpUrl, {
          method: "POST",
          headers: { "content-type": "application/json", accept: ACCEPT_BOTH },
          body: JSON.stringify({
            jsonrpc: "2.0",
            id: 5,
            method: "tools/call",
            params: { name: "slow", arguments: {} },
          }),
        });
        opened.push(getStream, legacy, call);
        assert.equal((await getStream.head).statusCode, 200);
        assert.equal((await legacy.head).statusCode, 200);
        await eventually(
          () => legacy.text.includes("event: endpoint") && call.text.includes('"progress":1'),
          () => `the legacy stream's endpoint event and the call's first event: ${legacy.text} / ${call.text}`,
        );

        serve.child.kill(signal);
        // The streams end while the call is still held open upstream: the proxy does not wait for them.
        await eventually(
          () => getStream.done && legacy.done,
          () => `both streams ended; stderr:\n${serve.stderr()}`,
        );
        for (const [name, stream] of [
          ["GET /mcp", getStream],
          ["/sse", legacy],
        ] as const) {
          assert.equal(stream.failed, undefined, `${name} was not cut: ${stream.failed?.message}`);
          assert.ok(stream.ended, `${name} ended`);
        }
        assert.equal(await accepts(serve.port), false, "no new connections once stopping");
        assert.equal(call.done, false, "the call is still in flight");

        held.finishCall?.();
        const { code } = await serve.exit;
        assert.equal(code, 0, `exit code; stderr:\n${serve.stderr()}`);
        assert.ok(call.ended, `the call's answer ended cleanly (${call.failed?.message})`);
        const answers = call.text
          .split("\n")
          .filter((line) => line.startsWith("data: "))
          .map((line) => JSON.parse(line.slice(6)) as { id?: number; result?: { content?: { text?: string }[] } });
        assert.equal(answers.find((message) => message.id === 5)?.result?.content?.[0]?.text, "done");
        assert.match(serve.stderr(), /Stopped: 2 open stream\(s\) ended\./);
      } finally {
        for (const stream of opened) stream.close();
        if (serve.child.exitCode === null) serve.child.kill("SIGKILL");
      }
    });
  }
});
