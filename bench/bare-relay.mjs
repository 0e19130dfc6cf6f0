// The floor: the least an HTTP relay written in Node costs on this machine, measured next to the proxy.
// node:http in; out through undici 7 Pool.request() (client "undici", what the HTTP face uses) or node:http's own
// keep-alive Agent (client "node-http"); the response piped back; a fixed bearer token, hop-by-hop headers dropped,
// nothing else (no OAuth, no guards, no error shaping, no SSE awareness). Plain JavaScript, so that it starts with
// `node` alone, like dist/main.js.
//
//   BENCH_BEARER=… node bench/bare-relay.mjs <undici|node-http> <upstream MCP URL> <port>
//
// Prints "ready" on stdout once it listens; serves the upstream MCP endpoint at /mcp.
import { Agent, createServer, request as httpRequest } from "node:http";
import { pipeline } from "node:stream";

const [client, upstreamUrl, portText] = process.argv.slice(2);
const token = process.env.BENCH_BEARER;
if ((client !== "undici" && client !== "node-http") || !upstreamUrl || !portText || !token) {
  console.error("usage: BENCH_BEARER=… node bench/bare-relay.mjs <undici|node-http> <upstream MCP URL> <port>");
  process.exit(2);
}
const upstream = new URL(upstreamUrl);
const path = upstream.pathname + upstream.search;
const bearer = `Bearer ${token}`;
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
  "host",
  "authorization",
]);

function forwardHeaders(from, initial = {}) {
  const out = initial;
  for (const [name, value] of Object.entries(from)) if (!HOP_BY_HOP.has(name)) out[name] = value;
  return out;
}

function fail(res) {
  if (!res.headersSent) res.writeHead(502);
  res.end();
}

let close = async () => {};
let relay;
if (client === "undici") {
  // Loaded only in this mode: its import and memory are part of what is measured.
  const { Pool } = await import("undici");
  const pool = new Pool(upstream.origin, { connections: 128, pipelining: 1 });
  close = () => pool.destroy();
  relay = (req, res) => {
    const chunks = [];
    req.on("data", (chunk) => chunks.push(chunk));
    req.on("end", async () => {
      const abort = new AbortController();
      res.once("close", () => {
        if (!res.writableFinished) abort.abort();
      });
      try {
        const response = await pool.request({
          path,
          method: req.method,
          headers: forwardHeaders(req.headers, { authorization: bearer }),
          body: chunks.length ? Buffer.concat(chunks) : null,
          signal: abort.signal,
          bodyTimeout: 0,
        });
        res.writeHead(response.statusCode, forwardHeaders(response.headers));
        pipeline(response.body, res, () => {});
      } catch {
        fail(res);
      }
    });
  };
} else {
  const agent = new Agent({ keepAlive: true, maxSockets: 128 });
  close = async () => agent.destroy();
  relay = (req, res) => {
    const outgoing = httpRequest(
      {
        agent,
        host: upstream.hostname,
        port: upstream.port,
        path,
        method: req.method,
        headers: forwardHeaders(req.headers, { authorization: bearer }),
      },
      (response) => {
        res.writeHead(response.statusCode ?? 502, forwardHeaders(response.headers));
        pipeline(response, res, () => {});
      },
    );
    outgoing.on("error", () => fail(res));
    res.once("close", () => {
      if (!res.writableFinished) outgoing.destroy();
    });
    pipeline(req, outgoing, () => {});
  };
}

const server = createServer({ noDelay: true }, relay);
server.timeout = 0;
server.listen(Number(portText), "127.0.0.1", () => process.stdout.write("ready\n"));
const stop = () => {
  server.close();
  server.closeAllConnections();
  close().finally(() => process.exit(0));
};
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
