// First hour, errors: each names the right party and reads the same on every face. The installed CLI (packed
// tarball) against real upstreams: nothing listening (auth), an SDK server stopped after `serve`/`stdio` started, a
// raw upstream that answers with its own JSON-RPC error, and an SDK v2 auto-negotiating client before a 2025 server.
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Client } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import { startMcpServer, type TestMcpServer } from "../fixtures/mcp-server.ts";
import { type InstalledCli, installCliFromTarball } from "./support/installed-cli.ts";
import {
  exchangeOverSse,
  freePort,
  INITIALIZE,
  postMcp,
  type RpcAnswer,
  stdoutMessages,
  touchSse,
} from "./support/mcp-wire.ts";

const STATIC_AUTH = ["--header", "Authorization: Bearer first-hour-static"];

let cli: InstalledCli;
let work: string;
before(() => {
  cli = installCliFromTarball();
  work = mkdtempSync(join(tmpdir(), "u2m-first-hour-errors-"));
});
after(() => {
  cli.remove();
  rmSync(work, { recursive: true, force: true });
});

/** Starts `serve` and resolves with its base URL once it says it is ready. */
async function startServe(args: string[]): Promise<{ child: ChildProcess; baseUrl: string; stderr: () => string }> {
  const port = await freePort();
  const child = cli.start(["serve", ...args, "--port", String(port), "--auth-dir", join(work, "serve-auth")]);
  let stdout = "";
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      if (/is ready/.test(stdout)) resolve();
    });
    child.once("exit", (code) => reject(new Error(`serve exited ${code} before it was ready: ${stderr}`)));
  });
  return { child, baseUrl: `http://127.0.0.1:${port}`, stderr: () => stderr };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await exited;
}

describe("auth: nothing listening at the URL", () => {
  test("names the MCP server as unreachable (not the authorization server) and exits 4", async () => {
    const url = `http://127.0.0.1:${await freePort()}/mcp`;
    const run = await cli.run(["auth", url, "--auth-dir", join(work, "auth-down")]);
    assert.equal(run.code, 4, `exit ${run.code}: ${run.stderr}`);
    assert.match(
      run.stderr,
      new RegExp(`The MCP server ${escapeRegExp(url)} could not be reached: connection refused\\.`),
    );
    assert.doesNotMatch(run.stderr, /authorization server/i);
  });
});

describe("the same outage reads the same on /mcp, /sse and stdio", () => {
  let upstream: TestMcpServer;
  let serve: Awaited<ReturnType<typeof startServe>>;
  before(async () => {
    upstream = await startMcpServer({ auth: false, transport: "streamable-stateful" });
    serve = await startServe([upstream.url, ...STATIC_AUTH]);
    // A legacy client looks once while the upstream is up: the face learns it speaks Streamable HTTP, so later
    // /sse clients are bridged (the message path) rather than relayed.
    assert.equal(await touchSse(serve.baseUrl), 200);
    await upstream.close();
  });
  after(async () => {
    await stop(serve.child);
  });

  test("JSON-RPC -32052 with data.proxyError NETWORK and one message, naming the MCP server", async () => {
    const expected = `The MCP server ${upstream.url} could not be reached: connection refused.`;

    const viaMcp = await postMcp(serve.baseUrl, INITIALIZE);
    const viaSse = await exchangeOverSse(serve.baseUrl, INITIALIZE);
    const viaStdio = await cli.run(["stdio", upstream.url, ...STATIC_AUTH, "--auth-dir", join(work, "stdio-auth")], {
      input: `${JSON.stringify(INITIALIZE)}\n`,
    });
    assert.equal(viaStdio.code, 0, viaStdio.stderr);
    const stdioAnswer = stdoutMessages(viaStdio.stdout)[0] as RpcAnswer;

    for (const [face, answer] of [
      ["/mcp", viaMcp.answer],
      ["/sse", viaSse],
      ["stdio", stdioAnswer],
    ] as const) {
      assert.equal(answer.id, 1, `${face}: ${JSON.stringify(answer)}`);
      assert.equal(answer.error?.code, -32052, `${face}: ${JSON.stringify(answer)}`);
      assert.equal((answer.error?.data as { proxyError?: string } | undefined)?.proxyError, "NETWORK", face);
      assert.ok(answer.error?.message.startsWith(expected), `${face}: ${answer.error?.message}`);
    }
    assert.equal(viaSse.error?.message, viaMcp.answer.error?.message);
    assert.equal(stdioAnswer.error?.message, viaMcp.answer.error?.message);
    assert.deepEqual(viaSse.error?.data, viaMcp.answer.error?.data);
    assert.deepEqual(stdioAnswer.error?.data, viaMcp.answer.error?.data);
  });
});

describe("an upstream's own JSON-RPC error passes through unchanged", () => {
  const upstreamError = {
    code: -32022,
    message: "Unsupported protocol version",
    data: { supported: ["2026-07-28"] },
  };
  let raw: Server;
  let url: string;
  let serve: Awaited<ReturnType<typeof startServe>>;
  before(async () => {
    // Answers every POST with 400 and that error (as a 2026-07-28-only server answers a 2025 initialize); no GET stream.
    raw = createServer((req, res) => {
      let body = "";
      req.setEncoding("utf8").on("data", (chunk: string) => {
        body += chunk;
      });
      req.on("end", () => {
        if (req.method !== "POST") return void res.writeHead(405, { allow: "POST" }).end();
        const id = (JSON.parse(body || "{}") as { id?: unknown }).id ?? null;
        res
          .writeHead(400, { "content-type": "application/json" })
          .end(JSON.stringify({ jsonrpc: "2.0", id, error: upstreamError }));
      });
    });
    await new Promise<void>((resolve) => raw.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(raw.address() as { port: number }).port}/mcp`;
    serve = await startServe([url, ...STATIC_AUTH]);
  });
  after(async () => {
    await stop(serve.child);
    await new Promise((resolve) => raw.close(resolve));
  });

  test("on stdio: same code, message and data", async () => {
    const run = await cli.run(["stdio", url, ...STATIC_AUTH, "--auth-dir", join(work, "raw-stdio")], {
      input: `${JSON.stringify(INITIALIZE)}\n`,
    });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(stdoutMessages(run.stdout), [{ jsonrpc: "2.0", id: 1, error: upstreamError }]);
    assert.doesNotMatch(run.stderr, /warn:/);
  });

  test("on bridged /sse: same code, message and data", async () => {
    assert.deepEqual(await exchangeOverSse(serve.baseUrl, INITIALIZE), { jsonrpc: "2.0", id: 1, error: upstreamError });
  });
});

describe("an SDK v2 auto-negotiating client through stdio in front of a 2025 server", () => {
  let upstream: TestMcpServer;
  before(async () => {
    upstream = await startMcpServer({ auth: false, transport: "streamable-stateful" });
  });
  after(async () => {
    await upstream.close();
  });

  test("connects, calls a tool, and the proxy warns nothing (probe process included)", async () => {
    // The SDK probes `server/discover` on a disposable sibling process whose stderr it discards: both processes
    // append their stderr to one file so the probe's output is checked too.
    const log = join(work, "auto-stderr.log");
    appendFileSync(log, "");
    const client = new Client({ name: "first-hour-auto", version: "1.0.0" }, { versionNegotiation: { mode: "auto" } });
    await client.connect(
      new StdioClientTransport({
        command: "/bin/sh",
        args: [
          "-c",
          'exec "$0" "$@" 2>>"$U2M_STDERR_LOG"',
          process.execPath,
          cli.bin,
          "stdio",
          upstream.url,
          ...STATIC_AUTH,
          "--auth-dir",
          join(work, "auto-auth"),
        ],
        env: { ...cli.env, U2M_STDERR_LOG: log },
        cwd: work,
        stderr: "pipe",
      }),
    );
    try {
      // The client's probe is answered by the proxy's 2026-07-28 bridge in front of the 2025 server (it prefers
      // that era), so it speaks 2026-07-28 to the proxy and the upstream still sees a plain 2025 session.
      assert.equal(client.getNegotiatedProtocolVersion(), "2026-07-28");
      const result = await client.callTool({ name: "echo", arguments: { text: "first hour" } });
      assert.deepEqual(result.content, [{ type: "text", text: "first hour" }]);
    } finally {
      await client.close();
    }
    assert.ok(upstream.stats.methods.includes("tools/call"), upstream.stats.methods.join(", "));
    assert.ok(upstream.stats.methods.includes("initialize"), upstream.stats.methods.join(", "));
    const stderr = readFileSync(log, "utf8");
    assert.doesNotMatch(stderr, /warn:|error:/, stderr);
    assert.doesNotMatch(stderr, /legacy SSE|Check the URL/, stderr);
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
