// Inbound socket hygiene of the HTTP face and of the loopback OAuth callback listener: sockets that time out or are
// abandoned are destroyed, never left half-closed for a peer that does not read. Counted in file descriptors of this
// process (the face, its upstream and the raw clients all live here), polled to a bounded deadline; a long SSE
// stream the client still reads survives every timeout. A static Authorization header stands in for OAuth.
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { createServer, type ServerResponse } from "node:http";
import { type AddressInfo, connect, type Socket } from "node:net";
import { after, describe, test } from "node:test";
import { type ServeHandle, startServe } from "../../src/app/serve.ts";
import { startCallbackListener } from "../../src/auth/callback-listener.ts";
import type { InboundTimeouts } from "../../src/lib/hardened-http-server.ts";

/** Short limits so the tests wait little; Node adds 1 s to the keep-alive timeout. */
const TIMEOUTS: InboundTimeouts = { headersMs: 300, requestMs: 600, keepAliveMs: 300, idleMs: 500 };
const SLOWLORIS = "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n";

function openFds(): number {
  return readdirSync("/proc/self/fd").length;
}

/** The descriptor count once sockets closing from earlier steps are gone: the same for ten polls in a row. */
async function settledFds(): Promise<number> {
  let count = openFds();
  for (let same = 0, polls = 0; same < 10 && polls < 600; polls++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    const now = openFds();
    same = now === count ? same + 1 : 0;
    count = now;
  }
  return count;
}

/** Polls until `check` holds, up to 30 s (a bound for a loaded machine, not a timing assertion). */
async function eventually(check: () => boolean, describe: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(describe());
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Waits until this process holds exactly `expected` descriptors. */
function fdsSettleAt(expected: () => number, what: string): Promise<void> {
  return eventually(
    () => openFds() === expected(),
    () => `${what}: ${openFds()} file descriptors open, expected ${expected()}`,
  );
}

const opened: Socket[] = [];

/**
 * Raw TCP clients to `port`, each connected and given `send` (if any). Half-open allowed: like a peer that never
 * closes, they stay open after the server's FIN until destroyed here.
 */
async function rawClients(port: number, count: number, send?: string): Promise<Socket[]> {
  const sockets = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<Socket>((resolve, reject) => {
          const socket = connect({ port, host: "127.0.0.1", allowHalfOpen: true }, () => resolve(socket));
          socket.once("error", reject);
        }),
    ),
  );
  opened.push(...sockets);
  for (const socket of sockets) {
    socket.on("error", () => {}); // the server resets some of them: expected
    if (send) socket.write(send);
  }
  return sockets;
}

function alive(sockets: Socket[]): number {
  return sockets.filter((socket) => !socket.destroyed).length;
}

/** An upstream that holds GET streams open (events written on demand) and answers anything else with JSON. */
async function streamingUpstream() {
  const streams = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    if (req.method === "GET") {
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      res.flushHeaders();
      streams.add(res);
      res.on("close", () => streams.delete(res));
      return;
    }
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ jsonrpc: "2.0", id: 1, result: {} }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    streams,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  // A failed step leaves its clients open: they would keep the test process alive.
  for (const socket of opened) socket.destroy();
  for (const cleanup of cleanups.reverse()) await cleanup();
});

describe("HTTP face: timed-out and abandoned sockets are destroyed", async () => {
  const upstream = await streamingUpstream();
  cleanups.push(upstream.close);
  const face: ServeHandle = await startServe({
    upstream: {
      url: upstream.url,
      authorizeParams: {},
      headers: { Authorization: "Bearer static-test" },
      sendResource: true,
    },
    runtime: {
      authDir: "/nonexistent",
      port: 0,
      callbackHost: "127.0.0.1",
      openBrowser: false,
      debug: false,
      allowInsecureHttp: true,
    },
    port: 0,
    upstreamTransport: "streamable-http",
    timeouts: TIMEOUTS,
  });
  cleanups.push(() => face.close());

  test("200 slowloris sockets that never read: the proxy destroys its side, then nothing is left", async () => {
    const baseline = await settledFds();
    const clients = await rawClients(face.port, 200, SLOWLORIS);
    for (const client of clients) client.pause();
    // Each socket has two descriptors here until the proxy lets go of its side.
    await fdsSettleAt(() => baseline + alive(clients), "after the headers timeout");
    assert.equal(alive(clients), 200, "the clients themselves are still open (they never read)");
    // What a client that finally reads finds: the 408, then the end of the connection.
    const one = clients[0] as Socket;
    const answer = new Promise<string>((resolve) => {
      let text = "";
      one.on("data", (chunk: Buffer) => {
        text += chunk.toString("latin1");
      });
      one.on("end", () => resolve(text));
    });
    one.resume();
    assert.match(await answer, /^HTTP\/1\.1 408 /);
    for (const client of clients) client.destroy();
    await fdsSettleAt(() => baseline, "after the clients left");
  });

  test("100 connections that never send a byte are destroyed", async () => {
    const baseline = await settledFds();
    const clients = await rawClients(face.port, 100);
    for (const client of clients) client.pause();
    await fdsSettleAt(() => baseline + alive(clients), "after the headers timeout");
    assert.equal(alive(clients), 100);
    for (const client of clients) client.destroy();
    await fdsSettleAt(() => baseline, "after the clients left");
  });

  test("200 kept-alive sockets idle after one complete request are destroyed", async () => {
    const baseline = await settledFds();
    const clients = await rawClients(face.port, 200);
    const answered = clients.map(
      (client) =>
        new Promise<string>((resolve) => {
          let text = "";
          const onData = (chunk: Buffer) => {
            text += chunk.toString("latin1");
            if (/\r\n\r\n[\s\S]*\}/.test(text)) {
              client.off("data", onData);
              client.pause();
              resolve(text);
            }
          };
          client.on("data", onData);
          client.write(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${face.port}\r\n\r\n`);
        }),
    );
    const responses = await Promise.all(answered);
    assert.ok(
      responses.every((text) => /^HTTP\/1\.1 200 /.test(text) && !/connection: close/i.test(text)),
      "each request was answered on a connection kept alive",
    );
    await fdsSettleAt(() => baseline + alive(clients), "after the keep-alive timeout");
    assert.equal(alive(clients), 200);
    for (const client of clients) client.destroy();
    await fdsSettleAt(() => baseline, "after the clients left");
  });

  test("a stream whose client stopped reading is destroyed once the proxy's writes stall", async () => {
    const baseline = await settledFds();
    const [client] = await rawClients(face.port, 1);
    const socket = client as Socket;
    let head = "";
    await new Promise<void>((resolve) => {
      const onData = (chunk: Buffer) => {
        head += chunk.toString("latin1");
        if (head.includes("\r\n\r\n")) {
          socket.off("data", onData);
          socket.pause();
          resolve();
        }
      };
      socket.on("data", onData);
      socket.write(`GET /mcp HTTP/1.1\r\nHost: 127.0.0.1:${face.port}\r\nAccept: text/event-stream\r\n\r\n`);
    });
    assert.match(head, /^HTTP\/1\.1 200 /);
    await eventually(
      () => upstream.streams.size === 1,
      () => "the upstream never saw the stream",
    );
    // Write until the whole path backs up (the client's buffers, the proxy's, the upstream socket's): then the
    // proxy's writes to the client stop moving.
    const event = `event: message\ndata: ${JSON.stringify({ jsonrpc: "2.0", method: "log", params: { pad: "x".repeat(64 * 1024) } })}\n\n`;
    const [stream] = upstream.streams;
    for (let i = 0, backedUp = false; i < 512 && !backedUp && upstream.streams.size > 0; i++) {
      if (stream?.write(event)) continue;
      // No drain for a while: everything on the way is full.
      backedUp = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(true), 2_000);
        stream?.once("drain", () => {
          clearTimeout(timer);
          resolve(false);
        });
      });
    }
    // The proxy destroyed the client's socket and closed the upstream stream: only the paused client is left.
    await eventually(
      () => upstream.streams.size === 0,
      () => "the upstream stream stayed open",
    );
    await fdsSettleAt(() => baseline + alive([socket]), "after the writes stalled");
    socket.destroy();
    await fdsSettleAt(() => baseline, "after the client left");
  });

  test("a GET SSE stream idle for longer than every timeout still receives the next event", async () => {
    const [client] = await rawClients(face.port, 1);
    const socket = client as Socket;
    let text = "";
    let ended = false;
    socket.on("data", (chunk: Buffer) => {
      text += chunk.toString("latin1");
    });
    socket.on("end", () => {
      ended = true;
    });
    socket.write(`GET /mcp HTTP/1.1\r\nHost: 127.0.0.1:${face.port}\r\nAccept: text/event-stream\r\n\r\n`);
    await eventually(
      () => upstream.streams.size === 1 && text.includes("\r\n\r\n"),
      () => `the stream did not open: ${JSON.stringify(text)}`,
    );
    assert.match(text, /^HTTP\/1\.1 200 /);
    // Longer than the idle, headers, request and keep-alive (+1 s) timeouts together; nothing flows meanwhile.
    await new Promise((resolve) => setTimeout(resolve, 3 * (TIMEOUTS.idleMs + TIMEOUTS.keepAliveMs + 1_000)));
    assert.equal(ended, false, "the proxy closed the stream while it was idle");
    for (const stream of upstream.streams) stream.write('event: message\ndata: {"jsonrpc":"2.0","method":"ping"}\n\n');
    await eventually(
      () => text.includes('"method":"ping"') || ended,
      () => "the event never arrived",
    );
    assert.ok(text.includes('"method":"ping"'), "the event arrived on the idle stream");
    socket.destroy();
    await eventually(
      () => upstream.streams.size === 0,
      () => "the upstream stream stayed open after the client left",
    );
  });
});

describe("OAuth callback listener: timed-out sockets are destroyed", () => {
  test("50 slowloris sockets that never read are destroyed", async () => {
    const listener = await startCallbackListener(
      0,
      async () => ({ ok: true as const, serverUrl: "http://127.0.0.1:9/mcp" }),
      {
        timeouts: TIMEOUTS,
      },
    );
    cleanups.push(() => listener.close());
    const baseline = await settledFds();
    const clients = await rawClients(listener.port, 50, "GET /oauth/callback?code=x HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (const client of clients) client.pause();
    await fdsSettleAt(() => baseline + alive(clients), "after the headers timeout");
    assert.equal(alive(clients), 50);
    for (const client of clients) client.destroy();
    await fdsSettleAt(() => baseline, "after the clients left");
    await listener.close();
  });
});
