// The endpoint probe's verdicts against raw node:http servers that answer the way real (and wrong) URLs do.
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, describe, test } from "node:test";
import { type EndpointVerdict, probeEndpoint } from "../../src/proxy/endpoint-probe.ts";
import { endpointProblem, reportEndpoint, suggestEndpoint } from "../../src/proxy/endpoint-report.ts";

interface Seen {
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
  body: string;
}

interface Raw {
  origin: string;
  url: string;
  seen: Seen[];
  /** Requests whose connection closed (the probe must close event streams at once). */
  closed: string[];
}

const servers: Server[] = [];
after(async () => {
  for (const server of servers) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function raw(handler: (req: Seen, res: ServerResponse) => void): Promise<Raw> {
  const seen: Seen[] = [];
  const closed: string[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8").on("data", (chunk: string) => {
      body += chunk;
    });
    req.on("end", () => {
      const entry = { method: req.method ?? "", path: req.url ?? "", headers: req.headers, body };
      seen.push(entry);
      res.on("close", () => closed.push(`${entry.method} ${entry.path}`));
      handler(entry, res);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { origin, url: `${origin}/mcp`, seen, closed };
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify(body));
}

function methodOf(req: Seen): string | undefined {
  return req.body ? (JSON.parse(req.body) as { method?: string }).method : undefined;
}

const INIT_RESULT = { protocolVersion: "2025-06-18", capabilities: {}, serverInfo: { name: "s", version: "1" } };

describe("probeEndpoint", () => {
  test("404: not an MCP endpoint, after asking once more as legacy SSE", async () => {
    const server = await raw((_req, res) => json(res, 404, { error: "not_found" }));
    const verdict = await probeEndpoint(`${server.origin}/wrong`);
    assert.deepEqual(verdict, { kind: "not-mcp", status: 404, found: "HTTP 404" });
    assert.deepEqual(
      server.seen.map((r) => r.method),
      ["POST", "GET"],
    );
    assert.equal(server.seen[1]?.headers.accept, "text/event-stream");
  });

  test("405: not an MCP endpoint", async () => {
    const server = await raw((_req, res) => res.writeHead(405, { allow: "GET" }).end());
    assert.deepEqual(await probeEndpoint(server.url), { kind: "not-mcp", status: 405, found: "HTTP 405" });
  });

  test("an HTML page with 200: not an MCP endpoint, and says what it found", async () => {
    const server = await raw((_req, res) =>
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end("<!doctype html><h1>Welcome</h1>"),
    );
    assert.deepEqual(await probeEndpoint(server.url), {
      kind: "not-mcp",
      status: 200,
      found: "an HTML page, HTTP 200",
    });
  });

  test("JSON that is not JSON-RPC: not an MCP endpoint", async () => {
    const server = await raw((_req, res) => json(res, 200, { status: "up", version: "3.2" }));
    assert.deepEqual(await probeEndpoint(server.url), {
      kind: "not-mcp",
      status: 200,
      found: "JSON that is not a JSON-RPC response, HTTP 200",
    });
  });

  test("a redirect is reported with where it points (no query), not followed", async () => {
    const server = await raw((_req, res) =>
      res.writeHead(302, { location: "https://login.example/start?state=abc#x" }).end(),
    );
    assert.deepEqual(await probeEndpoint(server.url), {
      kind: "not-mcp",
      status: 302,
      found: "a redirect to https://login.example/start, HTTP 302",
    });
    assert.equal(server.seen.length, 2, "POST and the legacy GET, nothing at the redirect target");
  });

  test("a real MCP answer (session wire): era 2025, the token is sent, and the session is ended", async () => {
    const server = await raw((req, res) => {
      if (req.method === "DELETE") return res.writeHead(200).end();
      json(res, 200, { jsonrpc: "2.0", id: JSON.parse(req.body).id, result: INIT_RESULT }, { "mcp-session-id": "s-1" });
    });
    const verdict = await probeEndpoint(server.url, { token: "probe-token-1234", headers: { "x-static": "yes" } });
    assert.deepEqual(verdict, { kind: "mcp", status: 200, era: "2025" });
    const [init, end] = server.seen;
    assert.equal(methodOf(init as Seen), "initialize");
    assert.equal(init?.headers.authorization, "Bearer probe-token-1234");
    assert.equal(init?.headers["x-static"], "yes");
    assert.match(init?.headers.accept ?? "", /application\/json.*text\/event-stream/);
    assert.equal(end?.method, "DELETE");
    assert.equal(end?.headers["mcp-session-id"], "s-1");
    assert.equal(end?.headers["mcp-protocol-version"], "2025-06-18");
    assert.equal(server.seen.length, 2, "never a tool call");
  });

  test("an initialize result framed as an event stream counts, and the stream is closed", async () => {
    const server = await raw((req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(
        `event: message\ndata: ${JSON.stringify({ jsonrpc: "2.0", id: JSON.parse(req.body).id, result: INIT_RESULT })}\n\n`,
      );
      // Left open: the probe must not wait for the end.
    });
    assert.deepEqual(await probeEndpoint(server.url), { kind: "mcp", status: 200, era: "2025" });
  });

  test("a JSON-RPC error from the server still means MCP (era unknown)", async () => {
    const server = await raw((_req, res) =>
      json(res, 400, { jsonrpc: "2.0", id: null, error: { code: -32000, message: "Bad Request: no session" } }),
    );
    assert.deepEqual(await probeEndpoint(server.url), { kind: "mcp", status: 400 });
    assert.equal(server.seen.length, 1, "no legacy GET after a JSON-RPC answer");
  });

  test("a 2026-07-28 server: initialize is refused with its versions, server/discover answers", async () => {
    const server = await raw((req, res) => {
      const { id, method } = JSON.parse(req.body) as { id: string; method: string };
      if (method === "initialize") {
        return json(res, 400, {
          jsonrpc: "2.0",
          id,
          error: { code: -32022, message: "Unsupported protocol version", data: { supported: ["2026-07-28"] } },
        });
      }
      json(res, 200, { jsonrpc: "2.0", id, result: { supportedVersions: ["2026-07-28"], capabilities: {} } });
    });
    assert.deepEqual(await probeEndpoint(server.url), { kind: "mcp", status: 200, era: "2026-07-28" });
    const discover = server.seen[1];
    assert.equal(methodOf(discover as Seen), "server/discover");
    assert.equal(discover?.headers["mcp-protocol-version"], "2026-07-28");
    assert.equal(discover?.headers["mcp-method"], "server/discover");
  });

  test("a legacy SSE server: POST refused, GET opens a stream with an endpoint event, closed at once", async () => {
    const server = await raw((req, res) => {
      if (req.method === "POST") return res.writeHead(405).end();
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write("event: endpoint\ndata: /messages?sessionId=abc\n\n");
    });
    assert.deepEqual(await probeEndpoint(server.url), { kind: "mcp", status: 200, era: "legacy-sse" });
    await eventually(() => server.closed.includes("GET /mcp"), "the probe closed the event stream");
  });

  test("401 and 403: something protected answers there", async () => {
    const challenge = 'Bearer resource_metadata="http://127.0.0.1/.well-known/oauth-protected-resource/mcp"';
    const server = await raw((_req, res) =>
      json(res, 401, { error: "unauthorized" }, { "www-authenticate": challenge }),
    );
    assert.deepEqual(await probeEndpoint(server.url), {
      kind: "auth-required",
      status: 401,
      wwwAuthenticate: challenge,
    });
  });

  test("5xx without JSON-RPC: a server error, not 'not MCP'", async () => {
    const server = await raw((_req, res) => res.writeHead(502, { "content-type": "text/html" }).end("<h1>Bad Gateway"));
    assert.deepEqual(await probeEndpoint(server.url), { kind: "server-error", status: 502, found: "HTTP 502" });
  });

  test("connection refused: unreachable", async () => {
    const server = await raw(() => {});
    const port = new URL(server.origin).port;
    servers.pop()?.close();
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.deepEqual(await probeEndpoint(`http://127.0.0.1:${port}/mcp`), {
      kind: "unreachable",
      reason: "connection refused",
    });
  });

  test("no answer: unreachable after the timeout", async () => {
    const server = await raw(() => {}); // accepts, reads, never answers
    assert.deepEqual(await probeEndpoint(server.url, { timeoutMs: 200 }), {
      kind: "unreachable",
      reason: "no answer within 0.2 s",
    });
  });
});

describe("what the user is told", () => {
  test("the problem names the URL and what was found", () => {
    const url = "http://host/wrong";
    assert.equal(
      endpointProblem(url, { kind: "not-mcp", status: 404, found: "HTTP 404" }),
      "http://host/wrong is not an MCP endpoint (HTTP 404)",
    );
    assert.equal(
      endpointProblem(url, { kind: "unreachable", reason: "connection refused" }),
      "The MCP server http://host/wrong could not be reached: connection refused",
    );
    assert.equal(endpointProblem(url, { kind: "mcp", status: 200, era: "2025" }), undefined);
    assert.equal(endpointProblem(url, { kind: "auth-required", status: 401, wwwAuthenticate: null }), undefined);
  });

  test("the metadata's resource is suggested when it names another path on the origin", async () => {
    const probed: string[] = [];
    const probe = async (candidate: string): Promise<EndpointVerdict> => {
      probed.push(candidate);
      return { kind: "mcp", status: 200 };
    };
    assert.equal(
      await suggestEndpoint("http://host/wrong", { resource: "http://host/api/mcp", probe }),
      "http://host/api/mcp",
    );
    assert.deepEqual(probed, [], "the server said where: no guessing");
  });

  test("otherwise common paths, only those that answer as MCP now", async () => {
    const probe = async (candidate: string): Promise<EndpointVerdict> =>
      candidate.endsWith("/sse")
        ? { kind: "mcp", status: 200, era: "legacy-sse" }
        : { kind: "not-mcp", status: 404, found: "HTTP 404" };
    // A resource naming the origin itself, or the same path, says nothing about where the endpoint is.
    assert.equal(await suggestEndpoint("http://host/wrong", { resource: "http://host/", probe }), "http://host/sse");
    assert.equal(
      await suggestEndpoint("http://host/wrong", { resource: "http://host/wrong/", probe }),
      "http://host/sse",
    );
    const nothing = async (): Promise<EndpointVerdict> => ({ kind: "not-mcp", status: 404, found: "HTTP 404" });
    assert.equal(await suggestEndpoint("http://host/wrong", { probe: nothing }), undefined);
  });

  test("the full sentence: did you mean …, and no guess for a server that is down", async () => {
    const probe = async (): Promise<EndpointVerdict> => ({ kind: "mcp", status: 200, era: "2025" });
    const report = await reportEndpoint(
      "http://host/wrong",
      { kind: "not-mcp", status: 404, found: "HTTP 404" },
      { probe },
    );
    assert.deepEqual(report, {
      message: "http://host/wrong is not an MCP endpoint (HTTP 404) — did you mean http://host/mcp?",
      suggestion: "http://host/mcp",
    });
    const down = await reportEndpoint(
      "http://host/mcp",
      { kind: "unreachable", reason: "connection refused" },
      { probe },
    );
    assert.deepEqual(down, { message: "The MCP server http://host/mcp could not be reached: connection refused." });
  });
});

async function eventually(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.fail(`never happened: ${what}`);
}
