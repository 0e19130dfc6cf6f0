// Behind a TLS-terminating front: `serve --public-url https://…` (the built bin) is reached over plain HTTP by the
// front, which either keeps the public Host or rewrites it to the proxy's address. Either way the status page's
// client snippets and endpoint links must name the public https URL, never http:// (a client given one would
// talk plaintext to the front, or fail). The front is played by setting the Host header a front would send; the
// page is fetched as HTML. Single upstream (its page) and a config of two (the list page, under a public path).
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { startMcpServer, type TestMcpServer } from "../fixtures/mcp-server.ts";
import { freePort } from "../fixtures/ports.ts";
import { startServeChild } from "./support/serve-child.ts";

/** GET / as a front forwards it: over plain HTTP to the proxy, with the Host it chose. */
function pageWithHost(port: number, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port, path: "/", headers: { host, accept: "text/html", "x-forwarded-proto": "https" } },
      (res) => {
        let body = "";
        res.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

/** Every absolute http(s) URL the page names for this proxy (its own snippets and links). */
function urlsOn(page: string, hosts: string[]): string[] {
  return [...page.matchAll(/https?:\/\/[^\s"'<>&\\]+/g)]
    .map((match) => match[0])
    .filter((url) => hosts.some((host) => new URL(url).host === host));
}

describe("the status page behind a TLS-terminating front names the https public URL", () => {
  let upstream: TestMcpServer;
  let dir: string;

  before(async () => {
    upstream = await startMcpServer({ auth: false, transport: "streamable-stateful" });
    dir = await mkdtemp(join(tmpdir(), "public-url-https-"));
  });

  after(async () => {
    await upstream?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test("one upstream: the page's snippets are https://proxy.example.test/…, whatever Host the front sends", async () => {
    const port = await freePort();
    const serve = await startServeChild([
      upstream.url,
      "--public-url",
      "https://proxy.example.test",
      "--port",
      String(port),
      "--auth-dir",
      join(dir, "one"),
      "--no-browser",
    ]);
    try {
      for (const host of ["proxy.example.test", `127.0.0.1:${port}`]) {
        const page = await pageWithHost(port, host);
        assert.equal(page.status, 200, `Host ${host}: ${page.body.slice(0, 200)}`);
        assert.ok(page.body.includes("https://proxy.example.test/mcp"), `Host ${host}: the /mcp snippet is https`);
        assert.ok(page.body.includes("https://proxy.example.test/sse"), `Host ${host}: the /sse link is https`);
        const own = urlsOn(page.body, ["proxy.example.test", `127.0.0.1:${port}`]);
        assert.ok(own.length >= 2, own.join(" "));
        for (const url of own) assert.ok(url.startsWith("https://proxy.example.test/"), `Host ${host}: ${url}`);
      }
    } finally {
      await serve.stop();
    }
  });

  test("several upstreams: the list page's snippets carry the public URL and its path", async () => {
    const config = join(dir, "mcp-u2m-proxy.json");
    await writeFile(
      config,
      JSON.stringify({ mcpServers: { alpha: { url: upstream.url }, beta: { url: `${upstream.url}?b=1` } } }),
    );
    const port = await freePort();
    const serve = await startServeChild([
      "--config",
      config,
      "--public-url",
      "https://proxy.example.test/team",
      "--port",
      String(port),
      "--auth-dir",
      join(dir, "many"),
      "--no-browser",
    ]);
    try {
      const page = await pageWithHost(port, "proxy.example.test");
      assert.equal(page.status, 200, page.body.slice(0, 200));
      for (const name of ["alpha", "beta"]) {
        assert.ok(page.body.includes(`https://proxy.example.test/team/servers/${name}/mcp`), `${name}'s /mcp`);
      }
      const own = urlsOn(page.body, ["proxy.example.test", `127.0.0.1:${port}`]);
      assert.ok(own.length >= 4, own.join(" "));
      for (const url of own) assert.ok(url.startsWith("https://proxy.example.test/team/"), url);
    } finally {
      await serve.stop();
    }
  });
});
