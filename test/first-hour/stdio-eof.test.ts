// First hour, stdio at end of input: `echo '<request>' | mcp-u2m-proxy stdio URL` prints the answers to the requests
// it read before exiting 0, and ends the upstream session (DELETE) after them. The installed CLI (packed tarball).
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { startMcpServer, type TestMcpServer } from "../fixtures/mcp-server.ts";
import { type InstalledCli, installCliFromTarball } from "./support/installed-cli.ts";
import { INITIALIZE, stdoutMessages } from "./support/mcp-wire.ts";

const STATIC_AUTH = ["--header", "Authorization: Bearer first-hour-static"];
const INITIALIZED = { jsonrpc: "2.0", method: "notifications/initialized" };
const CALL_ECHO = { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "echo", arguments: { text: "eof" } } };

function lines(...messages: unknown[]): string {
  return messages.map((message) => `${JSON.stringify(message)}\n`).join("");
}

let cli: InstalledCli;
let work: string;
let upstream: TestMcpServer;
before(async () => {
  cli = installCliFromTarball();
  work = mkdtempSync(join(tmpdir(), "u2m-first-hour-eof-"));
  upstream = await startMcpServer({ auth: false, transport: "streamable-stateful" });
});
after(async () => {
  await upstream.close();
  cli.remove();
  rmSync(work, { recursive: true, force: true });
});

describe("stdio: stdin closes while requests are in flight", () => {
  test("one initialize line piped in: its response is printed, exit 0", async () => {
    const run = await cli.run(["stdio", upstream.url, ...STATIC_AUTH, "--auth-dir", join(work, "a")], {
      input: lines(INITIALIZE),
    });
    assert.equal(run.code, 0, run.stderr);
    const answers = stdoutMessages(run.stdout);
    assert.equal(answers.length, 1, run.stdout);
    assert.equal(answers[0]?.id, 1);
    assert.equal(
      (answers[0]?.result as { serverInfo?: { name?: string } } | undefined)?.serverInfo?.name,
      "mcp-u2m-proxy-test-server",
    );
  });

  test("initialize then tools/call piped in: both answered, in order, exit 0", async () => {
    const run = await cli.run(["stdio", upstream.url, ...STATIC_AUTH, "--auth-dir", join(work, "b")], {
      input: lines(INITIALIZE, INITIALIZED, CALL_ECHO),
    });
    assert.equal(run.code, 0, run.stderr);
    const answers = stdoutMessages(run.stdout);
    assert.deepEqual(
      answers.map((answer) => answer.id),
      [1, 2],
      run.stdout,
    );
    assert.deepEqual(answers[1]?.result, { content: [{ type: "text", text: "eof" }] });
  });
});

describe("stdio: an answer that comes after stdin closed, then the session ends", () => {
  let raw: Server;
  let url: string;
  const seen: string[] = [];
  let releaseCall: (() => void) | undefined;
  let callArrived: () => void = () => {};
  const called = new Promise<void>((resolve) => {
    callArrived = resolve;
  });

  before(async () => {
    // A minimal stateful Streamable HTTP server that holds the tools/call answer until the test releases it.
    raw = createServer((req: IncomingMessage, res: ServerResponse) => {
      let body = "";
      req.setEncoding("utf8").on("data", (chunk: string) => {
        body += chunk;
      });
      req.on("end", () => {
        if (req.method === "DELETE") {
          seen.push(`DELETE ${req.headers["mcp-session-id"]}`);
          return void res.writeHead(200).end();
        }
        if (req.method !== "POST") return void res.writeHead(405).end();
        const message = JSON.parse(body) as { id?: number; method?: string };
        seen.push(message.method ?? "response");
        const json = { "content-type": "application/json", "mcp-session-id": "eof-session" };
        if (message.method === "initialize") {
          return void res.writeHead(200, json).end(
            JSON.stringify({
              jsonrpc: "2.0",
              id: message.id,
              result: {
                protocolVersion: "2025-11-25",
                capabilities: { tools: {} },
                serverInfo: { name: "raw", version: "1" },
              },
            }),
          );
        }
        if (message.method === "tools/call") {
          releaseCall = () =>
            res.writeHead(200, json).end(
              JSON.stringify({
                jsonrpc: "2.0",
                id: message.id,
                result: { content: [{ type: "text", text: "late" }] },
              }),
            );
          callArrived();
          return;
        }
        res.writeHead(202).end();
      });
    });
    await new Promise<void>((resolve) => raw.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(raw.address() as { port: number }).port}/mcp`;
  });
  after(async () => {
    raw.closeAllConnections();
    await new Promise((resolve) => raw.close(resolve));
  });

  test("the late answer is printed, then the session is DELETEd, then exit 0", async () => {
    const child = cli.start(["stdio", url, ...STATIC_AUTH, "--auth-dir", join(work, "c")]);
    let stdout = "";
    let stderr = "";
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    child.stdin?.write(lines(INITIALIZE, INITIALIZED, { ...CALL_ECHO, params: { name: "slow", arguments: {} } }));
    await called;
    child.stdin?.end();
    // Give the proxy time to read the end of its input before the answer exists (it must still wait for it).
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(child.exitCode, null, `exited before the answer: ${stderr}`);
    assert.ok(!seen.some((entry) => entry.startsWith("DELETE")), "session ended before the answer");
    releaseCall?.();
    assert.equal(await exited, 0, stderr);
    assert.deepEqual(
      stdoutMessages(stdout).map((answer) => answer.id),
      [1, 2],
    );
    assert.deepEqual(stdoutMessages(stdout)[1]?.result, { content: [{ type: "text", text: "late" }] });
    assert.deepEqual(seen, ["initialize", "notifications/initialized", "tools/call", "DELETE eof-session"]);
  });
});
